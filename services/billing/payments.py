"""Payment providers behind one interface, and the sandbox card provider's webhook signing.

* CreditProvider: pays whole invoices from the account's balance, at once.
* BankTransferProvider: gives transfer instructions; the invoice stays unpaid until
  staff (or a bank-statement import) calls `mark_invoice_paid`.
* SandboxCardProvider: behaves like a hosted card gateway: a payment session with a
  redirect to the provider's page (served by the gateway), a return URL, and a
  signed HMAC-SHA256 webhook that may arrive twice or late.

Payments are decided by our records, never by what a webhook says. `accept_webhook`
takes a webhook only when its signature header (`t=<unix time>,v1=<hex>`, HMAC-SHA256
of `"<t>.<body>"`, Stripe's scheme) is right and its time within
WEBHOOK_TOLERANCE_SECONDS of ours, it names a payment session we stored, and it
agrees with that session on account, invoices, amount and currency; a success is
taken only for a session the provider settled as succeeded. Anything else is
refused with a 4xx and logged, and changes nothing. Applying money is never done
here: the service turns an accepted webhook into the Customer aggregate's
`receive_payment` with the session's own figures; the aggregate remembers payment
ids, so a replay applies nothing.

Outside development (PANEL_ENV other than `development`) the sandbox provider
refuses to run with the built-in webhook secret: billing does not start and the
gateway's sandbox pages answer 404.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import mongoengine as me
import requests
from nameko.extensions import DependencyProvider

from kernel import clock, settings
from kernel.errors import CommandError, Conflict, Invalid, NotFound
from kernel.events import new_id
from kernel.settings import DEV_WEBHOOK_SECRET, panel_env, sandbox_refusal  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)
ALIAS = "billing"
WEBHOOK_PATH = "/payments/sandbox/webhook"
# Delivery attempts after 0, 1, 2, 4, 8, 16 and 32 seconds, like a real provider's retries.
WEBHOOK_RETRY_DELAYS = (0, 1, 2, 4, 8, 16, 32)
# A webhook signed longer ago (or further ahead) than this is refused: a captured one cannot be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
# A payment session not paid within this time can no longer be paid (a new one is started instead).
SESSION_SECONDS = 24 * 3600
SIGNATURE_RE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")
EVENT_TYPES = ("payment.succeeded", "payment.failed")


def webhook_secret() -> bytes:
    return os.environ.get("SANDBOX_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET).encode()


def check_configuration() -> None:
    """Refuse to start billing with the built-in webhook secret outside development."""
    reason = sandbox_refusal()
    if reason:
        raise RuntimeError(reason)


class SandboxGuard(DependencyProvider):
    """Billing's start-up check of the sandbox provider's configuration (see `check_configuration`)."""

    def setup(self) -> None:
        check_configuration()


def _now_seconds() -> int:
    return int(calendar.timegm(clock.now().timetuple()))


def _digest(body: str, timestamp: int) -> str:
    return hmac.new(webhook_secret(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def sign(body: str, timestamp: int | None = None) -> str:
    """The signature header the provider sends with `body`: `t=<unix time>,v1=<hex HMAC of "t.body">`."""
    timestamp = _now_seconds() if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(body, timestamp)}"


def check_signature(body: Any, header: Any) -> None:
    """Raise CommandError unless `header` signs `body` with our secret at a time close to ours."""
    match = SIGNATURE_RE.match(header.strip().lower()) if isinstance(header, str) else None
    if not isinstance(body, str) or not match or not hmac.compare_digest(_digest(body, int(match[1])), match[2]):
        raise _refuse(CommandError, "invalid_signature")
    if abs(_now_seconds() - int(match[1])) > WEBHOOK_TOLERANCE_SECONDS:
        raise _refuse(CommandError, "stale_webhook", note=f"signed at {match[1]}")


def verify(body: Any, header: Any) -> bool:
    try:
        check_signature(body, header)
    except CommandError:
        return False
    return True


def _refuse(error: type[Exception], code: str, payment_id: Any = None, fields: dict[str, str] | None = None,
            note: str = "") -> Exception:  # fmt: skip
    log.warning("sandbox webhook refused: %s (payment %s) %s %s", code, payment_id, fields or "", note)
    return NotFound("payment", code) if error is NotFound else error(code, fields)


def accept_webhook(body: Any, header: Any) -> tuple[PaymentIntent, str]:
    """The stored payment session a webhook is about and its type, once the webhook is signed, fresh,
    about a session we stored and agrees with it; a success only for a session the provider settled.
    Otherwise CommandError (4xx, logged): the webhook must change nothing."""
    check_signature(body, header)
    try:
        message = json.loads(body)
    except ValueError:
        raise _refuse(CommandError, "invalid_payload") from None
    if not isinstance(message, dict):
        raise _refuse(CommandError, "invalid_payload")
    payment_id, kind = message.get("payment_id"), message.get("type")
    problems = {name: "invalid_type" for name, value in (("payment_id", payment_id), ("type", kind))
                if not isinstance(value, str) or not value or len(value) > 200}  # fmt: skip
    if not problems and kind not in EVENT_TYPES:
        problems["type"] = "invalid_choice"
    if problems:
        raise _refuse(CommandError, "invalid_payload", payment_id if isinstance(payment_id, str) else None, problems)
    intent = PaymentIntent.objects(id=payment_id).first()
    if not intent or intent.provider == "stripe":  # Stripe's sessions are settled by Stripe's events only
        raise _refuse(NotFound, "unknown_payment", payment_id)
    mismatched = intent.mismatches(message)
    if mismatched:
        raise _refuse(Invalid, "payment_mismatch", payment_id, mismatched)
    if kind == "payment.succeeded" and intent.status != "succeeded":
        raise _refuse(Conflict, "payment_not_succeeded", payment_id, note=f"session is {intent.status}")
    return intent, kind


def webhook_url() -> str:
    """Where the sandbox provider posts its webhooks: the gateway's public endpoint.
    SANDBOX_WEBHOOK_URL="" switches delivery off (unit tests hand the webhook over themselves)."""
    return os.environ.get("SANDBOX_WEBHOOK_URL", f"{settings.PUBLIC_URL}{WEBHOOK_PATH}")


def deliver_webhook(webhook: dict[str, str], url: str, delays: tuple[int, ...] = WEBHOOK_RETRY_DELAYS) -> bool:
    """POST the webhook, signed afresh for each attempt (its time is checked), until the receiver
    answers 2xx; a 4xx other than 429 is final (the receiver refused it and will refuse it again).
    Returns whether it was accepted."""
    for delay in delays:
        time.sleep(delay)
        try:
            response = requests.post(url, data=webhook["body"].encode(), timeout=10, headers={
                "Content-Type": "application/json", "X-Sandbox-Signature": sign(webhook["body"])})  # fmt: skip
        except requests.RequestException as exc:
            log.warning("webhook delivery to %s failed: %r", url, exc)
            continue
        if response.ok:
            return True
        if 400 <= response.status_code < 500 and response.status_code != 429:
            log.warning("webhook refused by %s: %s %s", url, response.status_code, response.text[:200])
            return False
    log.error("webhook to %s not delivered after %d attempts", url, len(delays))
    return False


class PaymentIntent(me.Document):
    """A started card payment (the provider's session as the sandbox keeps it)."""

    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    invoice_ids = me.ListField(me.StringField())
    amount = me.IntField(required=True)
    currency = me.StringField(default="PLN")
    method = me.StringField(default="card")
    status = me.StringField(default="created")  # created | succeeded | failed | expired
    return_url = me.StringField(null=True)
    created_at = me.StringField()
    completed_at = me.StringField(null=True)
    # Stripe (services.billing.stripe_provider): its PaymentIntent's id and client secret, why it failed,
    # and whether billing charged a saved card on its own (a renewal)
    provider = me.StringField(default="sandbox")
    provider_ref = me.StringField(null=True)
    client_secret = me.StringField(null=True)
    failure_code = me.StringField(null=True)
    off_session = me.BooleanField(default=False)
    meta = {"db_alias": ALIAS, "collection": "payment_intents", "indexes": ["account_id", "provider_ref"],
            "auto_create_index": False}  # fmt: skip

    def public(self) -> dict[str, Any]:
        return {"payment_id": self.id, "account_id": self.account_id, "invoice_ids": list(self.invoice_ids),
                "amount": self.amount, "currency": self.currency, "status": self.status,
                "return_url": self.return_url, "method": self.method, "provider": self.provider or "sandbox",
                "failure_code": self.failure_code}  # fmt: skip

    def expire_if_due(self) -> PaymentIntent:
        """A session still open SESSION_SECONDS after it began becomes `expired` (for good)."""
        started = dt.datetime.fromisoformat(self.created_at) if self.created_at else None
        if self.status == "created" and started and clock.now() >= started + dt.timedelta(seconds=SESSION_SECONDS):
            PaymentIntent.objects(id=self.id, status="created").update_one(set__status="expired")
            self.reload()
        return self

    def mismatches(self, message: dict[str, Any]) -> dict[str, str]:
        """The fields of a webhook body that disagree with this session (all must be present)."""
        ours = {"account_id": self.account_id, "invoice_ids": sorted(self.invoice_ids), "amount": self.amount,
                "currency": self.currency}  # fmt: skip
        found: dict[str, str] = {}
        for name, expected in ours.items():
            if name not in message:
                found[name] = "required"
                continue
            value = message[name]
            if name == "invoice_ids" and isinstance(value, list) and all(isinstance(i, str) for i in value):
                value = sorted(value)
            if type(value) is not type(expected) or value != expected:  # 1845.0 or True is not 1845
                found[name] = "mismatch"
        return found


@dataclass
class PaymentRequest:
    account_id: str
    invoice_ids: list[str]
    amount: int
    numbers: list[str]
    return_url: str | None = None
    payment_id: str | None = None


class PaymentProvider(Protocol):
    method: str

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        """Begin paying; returns what the customer does next."""


class CreditProvider:
    """The service pays from the balance itself (an atomic Customer decision)."""

    method = "credit"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        return {"method": self.method, "status": "apply_credit"}


class BankTransferProvider:
    method = "bank_transfer"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": "pending",
            "amount": request.amount,
            "currency": "PLN",
            "instructions": {
                "bank_account": settings.env("SELLER_BANK_ACCOUNT", "PL61 1090 1014 0000 0712 1981 2874"),
                "recipient": settings.env("SELLER_NAME", "Panel Hosting sp. z o.o."),
                "title": ", ".join(request.numbers),
                "amount": request.amount,
            },
        }


class SandboxCardProvider:
    method = "card"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        payment_id = request.payment_id or new_id()
        intent = PaymentIntent(id=payment_id, account_id=request.account_id, invoice_ids=request.invoice_ids,
                               amount=request.amount, return_url=request.return_url, created_at=clock.now().isoformat())  # fmt: skip
        try:
            intent.save(force_insert=True)
        except me.NotUniqueError:  # the same checkout retried: the same session
            intent = PaymentIntent.objects(id=payment_id).first().expire_if_due()
        return {
            "method": self.method,
            "status": "redirect" if intent.status == "created" else intent.status,
            "payment_id": intent.id,
            "amount": intent.amount,
            "redirect_url": f"{settings.PUBLIC_URL}/sandbox-pay/{intent.id}",
        }

    @staticmethod
    def complete(payment_id: str, outcome: str) -> dict[str, Any]:
        """What the sandbox's page does when the customer clicks pay/decline:
        settle the session and produce the signed webhook the provider would send."""
        if outcome not in ("success", "failure"):
            raise Invalid("invalid_input", {"outcome": "invalid_choice"})
        intent = PaymentIntent.objects(id=payment_id).first() if isinstance(payment_id, str) else None
        if not intent or intent.provider == "stripe":
            raise NotFound("payment", "unknown_payment")
        if intent.expire_if_due().status == "expired":
            raise Conflict("payment_expired")
        status = "succeeded" if outcome == "success" else "failed"
        if intent.status == "created":
            PaymentIntent.objects(id=payment_id, status="created").update_one(set__status=status,
                                                                              set__completed_at=clock.now().isoformat())  # fmt: skip
            intent.reload()
        body = json.dumps({
            "type": f"payment.{intent.status}", "payment_id": intent.id, "account_id": intent.account_id,
            "invoice_ids": list(intent.invoice_ids), "amount": intent.amount, "currency": intent.currency,
            "created": clock.now().isoformat() + "Z"}, sort_keys=True)  # fmt: skip
        # `signature` is the header as signed now; delivery signs each attempt afresh
        return {"webhook": {"body": body, "signature": sign(body)}, "return_url": intent.return_url,
                "status": intent.status}  # fmt: skip


PROVIDERS: dict[str, PaymentProvider] = {
    p.method: p for p in (CreditProvider(), BankTransferProvider(), SandboxCardProvider())
}


def provider(method: str) -> PaymentProvider:
    found = PROVIDERS.get(method)
    if not found:
        raise Invalid("invalid_input", {"payment_method": "invalid_payment_method"})
    return found
