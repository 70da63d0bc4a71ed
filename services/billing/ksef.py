"""Sending an FA(3) invoice to KSeF (issue #16) through ksef-client, KSeF API 2.0: token
authentication (challenge, the token encrypted with KSeF's public key, redeemed for an access token),
an online session with an AES key encrypted for KSeF, the invoice encrypted with its hashes, its status
polled until KSeF numbers or refuses it, the UPO fetched, the session closed.

Settings: KSEF_ENV (test | demo | prod, default test) or KSEF_API_BASE (another server, such as
tools/ksef_server.py), KSEF_QR_BASE (KOD I links; derived from KSEF_ENV when unset), KSEF_NIP (the seller
the token acts for), KSEF_TOKEN (from a Secret).

Errors: KsefUnreachable (no answer, 5xx, 429, or no verdict in time: send again later, in offline mode;
sending again is safe, a duplicate gives back the first KSeF number), KsefRejected (KSeF's code and
reason: show to staff, never drop), KsefNotAuthorised (the token or NIP is wrong: configuration).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from ksef_client import KsefClient, KsefClientOptions, KsefEnvironment
from ksef_client import models as m
from ksef_client.config import KsefQrEnvironment
from ksef_client.exceptions import KsefHttpError
from ksef_client.services import AuthCoordinator, OnlineSessionWorkflow
from ksef_client.services.crypto import sha256_base64
from ksef_client.services.verification_link import VerificationLinkService

from kernel import settings

FORM_CODE = m.FormCode(system_code="FA (3)", schema_version="1-0E", value="FA")
PROCESSING = {100, 150}  # accepted for processing, being processed
DUPLICATE = 440
UNAVAILABLE = {0, 408, 429, 500, 502, 503, 504}  # 0: no HTTP answer at all (ksef-client's NO_HTTP_STATUS_CODE)


class KsefError(Exception):
    """Anything that kept an invoice from getting its KSeF number."""


class KsefUnreachable(KsefError):
    """KSeF did not answer (or not in time): keep the invoice in offline mode and send it again later."""


class KsefNotAuthorised(KsefError):
    """KSeF refused the token for this NIP: the settings are wrong, no invoice can be sent."""


class KsefRejected(KsefError):
    """KSeF refused this invoice; `code` and `reason` are KSeF's own, `details` its explanation."""

    def __init__(self, code: int, reason: str, details: list[str] | None = None):
        super().__init__(f"KSeF {code}: {reason}" + (f" ({'; '.join(details)})" if details else ""))
        self.code, self.reason, self.details = code, reason, details or []


@dataclass(frozen=True)
class Settings:
    api_base: str
    qr_base: str
    nip: str
    token: str
    timeout: float = 20.0  # seconds per HTTP request
    verdict_within: float = 60.0  # seconds to wait for KSeF's verdict on an invoice
    poll_every: float = 0.5


def settings_from_env() -> Settings:
    environment = settings.env("KSEF_ENV", "test").strip().upper()
    if environment not in KsefEnvironment.__members__:
        raise ValueError(f"KSEF_ENV must be test, demo or prod, not {environment.lower()!r}")
    return Settings(
        api_base=settings.env("KSEF_API_BASE", "") or KsefEnvironment[environment].value,
        qr_base=settings.env("KSEF_QR_BASE", "") or KsefQrEnvironment[environment].value,
        nip=settings.env("KSEF_NIP", ""),
        token=settings.env("KSEF_TOKEN", ""),
    )


def send(xml: bytes, *, offline_mode: bool = False, config: Settings | None = None) -> dict[str, Any]:
    """Send one FA(3) document: {ksef_number, upo (XML text), reference_number, session_reference_number,
    invoice_hash, mode, duplicate}. `offline_mode` says the invoice was issued while KSeF was down."""
    config = config or settings_from_env()
    if not (config.nip and config.token):
        raise KsefNotAuthorised("KSEF_NIP and KSEF_TOKEN are not set")
    options = KsefClientOptions(base_url=config.api_base, base_qr_url=config.qr_base, timeout_seconds=config.timeout)
    try:
        with KsefClient(options) as client:
            return _send(client, config, xml, offline_mode)
    except KsefHttpError as exc:
        raise _classified(exc) from exc


def _send(client: KsefClient, config: Settings, xml: bytes, offline_mode: bool) -> dict[str, Any]:
    access_token = _access_token(client, config)
    session = OnlineSessionWorkflow(client.sessions).open_session(
        form_code=FORM_CODE,
        public_certificate=client.security.get_public_key_certificate_pem(
            m.PublicKeyCertificateUsage.SYMMETRICKEYENCRYPTION
        ),
        access_token=access_token,
    )
    try:
        sent = session.send_invoice(xml, offline_mode=offline_mode or None)
        status = _verdict(session, sent.reference_number, config)
        return _outcome(client, session, status, access_token, sha256_base64(xml))
    finally:
        session.close()


def _access_token(client: KsefClient, config: Settings) -> str:
    certificate = client.security.get_public_key_certificate_pem(m.PublicKeyCertificateUsage.KSEFTOKENENCRYPTION)
    try:
        result = AuthCoordinator(client.auth).authenticate_with_ksef_token(
            token=config.token,
            public_certificate=certificate,
            context_identifier_type="nip",
            context_identifier_value=config.nip,
            poll_interval_seconds=config.poll_every,
            max_attempts=max(1, int(config.verdict_within / config.poll_every)),
        )
    except TimeoutError as exc:
        raise KsefUnreachable("KSeF did not finish authentication in time") from exc
    except RuntimeError as exc:  # ksef-client's "Authentication failed: <code> <description>"
        raise KsefNotAuthorised(str(exc)) from exc
    return result.access_token


def _verdict(session, invoice_reference: str, config: Settings) -> m.SessionInvoiceStatusResponse:
    """Poll the invoice's status until KSeF numbers or refuses it (it answers 100/150 meanwhile)."""
    deadline = time.monotonic() + config.verdict_within
    while True:
        status = session.get_invoice_status(invoice_reference)
        if status.status.code not in PROCESSING:
            return status
        if time.monotonic() > deadline:
            raise KsefUnreachable(f"KSeF gave no verdict on {invoice_reference} in {config.verdict_within:.0f} s")
        time.sleep(config.poll_every)


def _outcome(client, session, status, access_token: str, invoice_hash: str) -> dict[str, Any]:
    code, extensions = status.status.code, status.status.extensions or {}
    if code == DUPLICATE and extensions.get("originalKsefNumber"):
        # sent before (a retry after a lost answer): the first one's number and UPO are the invoice's
        number, where = extensions["originalKsefNumber"], extensions.get("originalSessionReferenceNumber")
        upo = (
            client.sessions.get_session_invoice_upo_by_ksef(where, number, access_token=access_token) if where else b""
        )
        return _result(number, upo, status, session.reference_number, invoice_hash, duplicate=True)
    if code != 200 or not status.ksef_number:
        raise KsefRejected(code, status.status.description, list(status.status.details or []))
    upo = session.get_invoice_upo_by_ksef(status.ksef_number)
    return _result(status.ksef_number, upo, status, session.reference_number, invoice_hash, duplicate=False)


def _result(
    number: str, upo: bytes, status, session_reference: str, invoice_hash: str, duplicate: bool
) -> dict[str, Any]:
    mode = status.invoicing_mode
    return {
        "ksef_number": number,
        "upo": upo.decode("utf-8"),
        "reference_number": status.reference_number,
        "session_reference_number": session_reference,
        "invoice_hash": invoice_hash,
        "acquired_at": status.acquisition_date or "",
        "mode": getattr(mode, "value", mode) or "Online",
        "duplicate": duplicate,
    }


def _classified(exc: KsefHttpError) -> KsefError:
    if exc.status_code in UNAVAILABLE:
        return KsefUnreachable(str(exc))
    if exc.status_code in (401, 403):
        return KsefNotAuthorised(str(exc))
    details = _exception_details(exc.response_body)
    return KsefRejected(exc.status_code, details[0] if details else exc.message, details[1:])


def _exception_details(body: Any) -> list[str]:
    """KSeF's ExceptionResponse: its first description, then every detail."""
    if not isinstance(body, dict) or not isinstance(body.get("exception"), dict):
        return []
    found: list[str] = []
    for item in body["exception"].get("exceptionDetailList") or []:
        found += [str(item.get("exceptionDescription") or "")] + [str(d) for d in item.get("details") or []]
    return [text for text in found if text]


def qr_link(nip: str, issue_date: dt.date | str, xml: bytes, config: Settings | None = None) -> str:
    """KOD I: the link (and QR code content) that lets anyone check the invoice in KSeF:
    <qr base>/invoice/<seller NIP>/<DD-MM-YYYY>/<SHA-256 of the document, base64url>."""
    config = config or settings_from_env()
    options = KsefClientOptions(base_url=config.api_base, base_qr_url=config.qr_base)
    return VerificationLinkService(options).build_invoice_verification_url(nip, issue_date, sha256_base64(xml))
