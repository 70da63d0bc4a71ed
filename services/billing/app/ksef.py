"""Invoices in KSeF (issue #16): each issued invoice or correction that goes to KSeF (a business buyer's;
a consumer's with KSEF_B2C=yes) gets its FA(3) document once (fixed bytes: KOD I hashes them), is sent
with services.billing.ksef after it is issued (the timer, never inside the customer's checkout), and
its stream `ksef-<invoice_id>` records the outcome: sent (KSeF number, hash, UPO), offline (KSeF
unreachable: sent again by the next runs, in offline mode; a resend of the same document gives back
the first number, so it is never numbered twice) or rejected (KSeF's code and reason, for staff).

ksef-client speaks httpx, which imports trio when it is installed; trio cannot be imported into an
eventlet-patched process (its socket wrapper needs `sendmsg`, which a GreenSocket lacks), so billing
hides it (httpx then uses its own locks) and the send runs green: measured, the hub keeps running
while an invoice is sent (tests/billing/test_invoice_ksef.py)."""

from __future__ import annotations

import base64
import logging
import sys
from typing import Any

import mongoengine as me

from kernel import clock
from kernel.aggregate import execute
from kernel.events import command_meta
from services.billing.app import Deps, invoices
from services.billing.domain import KsefSubmission, ksef_stream
from services.billing.pdf import line_text, payment_method
from services.billing.projections import InvoiceView

if "eventlet" in sys.modules:
    from eventlet import patcher

    if patcher.is_monkey_patched("socket"):
        sys.modules.setdefault("trio", None)  # type: ignore[arg-type]

from services.billing import fa3, ksef  # noqa: E402 (after hiding trio)

log = logging.getLogger(__name__)
KSEF_CTX = {"actor": {"type": "system", "id": "billing-ksef"}}
LEASE_SECONDS = 120
WAITING = [None, "waiting", "offline"]
FA3_METHODS = {"bank_transfer": "transfer", "card": "card", "stripe": "card"}


class KsefLease(me.Document):
    """Who is sending an invoice now, so two billing instances do not send the same one at once."""

    id = me.StringField(primary_key=True)
    until = me.FloatField()
    meta = {"db_alias": "billing", "collection": "ksef_leases", "auto_create_index": False}


def fa3_line(line: dict[str, Any], language: str) -> dict[str, Any]:
    quantity = line.get("quantity", 1)
    unit_net = line.get("unit_net") if line.get("unit_net") is not None else line["net"] // max(quantity, 1)
    return {"description": line_text(line, language), "unit": line.get("unit") or "usł.", "quantity": quantity,
            "unit_net": unit_net, "discount": line.get("discount") or 0, "net": line["net"], "vat": line["vat"],
            "gross": line["gross"], "vat_rate": line["vat_rate"],
            **({"vat_code": line["vat_code"]} if line.get("vat_code") else {})}  # fmt: skip


def payment(view: InvoiceView) -> dict[str, Any]:
    method = view.payment_method or "bank_transfer"
    if view.status == "paid":
        code = FA3_METHODS.get(method, "other")
        return {"method": code, "status": "paid", "paid_at": view.paid_at,
                "description": payment_method(method, "pl")}  # fmt: skip
    return {"method": "transfer", "status": "unpaid", "due_date": view.due_date,
            "bank_account": (view.seller or {}).get("bank_account", ""), "title": view.number}  # fmt: skip


def fa3_invoice(view: InvoiceView) -> dict[str, Any]:
    """The plain invoice dict services.billing.fa3 builds from."""
    language = view.language or "pl"
    document: dict[str, Any] = {
        "number": view.number, "issue_date": view.issue_date[:10], "created_at": view.issue_date,
        "seller": dict(view.seller), "buyer": dict(view.buyer),
        "lines": [fa3_line(line, language) for line in view.lines],
    }  # fmt: skip
    if view.period:
        document["period"] = dict(view.period)
    elif view.sale_date:
        document["sale_date"] = view.sale_date[:10]
    if view.kind == "correction":
        corrected = view.correction
        document["correction"] = {
            "number": corrected["number"], "issue_date": corrected["issue_date"][:10],
            "ksef_number": corrected.get("ksef_number"), "reason": corrected["reason"],
            "pairs": [{"before": fa3_line(p["before"], language),
                       "after": fa3_line(p["after"], language) if p.get("after") else None}
                      for p in corrected["pairs"]],
        }  # fmt: skip
    else:
        document["payment"] = payment(view)
    return document


def prepared(deps: Deps, view: InvoiceView) -> KsefSubmission:
    """The invoice's KSeF stream, with its FA(3) document fixed (built now if it has none yet)."""
    stream = ksef_stream(view.id)
    submission = KsefSubmission.load(deps.events, stream)
    if submission.document:
        return submission
    xml = fa3.build(fa3_invoice(view))
    config = ksef.settings_from_env()
    nip = (view.seller or {}).get("nip", "")
    document = {"account_id": view.account_id, "invoice_id": view.id, "number": view.number,
                "xml": xml.decode("utf-8"), "invoice_hash": ksef.sha256_base64(xml),
                "qr_link": ksef.qr_link(nip, view.issue_date[:10], xml, config)}  # fmt: skip
    submission, _ = execute(deps.events, KsefSubmission, stream, lambda s: s.prepare(document),
                            command_meta(KSEF_CTX))  # fmt: skip
    return submission


def submit(deps: Deps, invoice_id: str, config: ksef.Settings | None = None) -> str:
    """Send one invoice to KSeF once; its KSeF status after this attempt."""
    view = InvoiceView.objects(id=invoice_id).first()
    if not view or not view.number or not view.ksef_state()["required"]:
        return "not_required"
    submission = prepared(deps, view)
    if submission.status in ("sent", "rejected"):
        return submission.status
    stream, meta = submission.stream_id, command_meta(KSEF_CTX)
    xml = submission.document["xml"].encode("utf-8")
    try:
        result = ksef.send(xml, offline_mode=submission.status == "offline", config=config)
    except ksef.KsefUnreachable as exc:
        log.warning("KSeF unreachable for %s: %s (offline mode; sent again later)", view.number, exc)
        decide = _offline(str(exc), deps)
    except ksef.KsefRejected as exc:
        log.error("KSeF rejected %s: %s", view.number, exc)
        decide = _rejected(exc, deps)
    else:
        decide = lambda s: s.sent(result)  # noqa: E731
    submission, _ = execute(deps.events, KsefSubmission, stream, decide, meta)
    return submission.status


def _offline(reason: str, deps: Deps):
    return lambda s: s.went_offline(reason, deps.now())


def _rejected(exc: ksef.KsefRejected, deps: Deps):
    return lambda s: s.rejected(exc.code, exc.reason, exc.details, deps.now())


def claim(invoice_id: str, seconds: float = LEASE_SECONDS) -> bool:
    now = clock.now().timestamp()
    try:
        KsefLease(id=invoice_id, until=now + seconds).save(force_insert=True)
        return True
    except me.NotUniqueError:
        return bool(KsefLease.objects(id=invoice_id, until__lt=now).update_one(set__until=now + seconds))


def release(invoice_id: str) -> None:
    KsefLease.objects(id=invoice_id).delete()


def waiting() -> list[str]:
    """Issued invoices and corrections that go to KSeF and have no verdict yet, oldest first."""
    found = InvoiceView.objects(ksef__required="yes", ksef__status__in=WAITING, number__ne=None)
    return [v.id for v in found.order_by("issue_date").only("id")]


def run(deps: Deps) -> dict[str, int]:
    """Send every invoice waiting for KSeF (the timer). Without KSEF_NIP and KSEF_TOKEN nothing is sent."""
    config = ksef.settings_from_env()
    stats: dict[str, int] = {}
    if not (config.nip and config.token):
        return stats
    for invoice_id in waiting():
        if not claim(invoice_id):
            continue
        try:
            outcome = submit(deps, invoice_id, config)
        except ksef.KsefNotAuthorised as exc:
            log.error("KSeF refused the token for NIP %s: %s (nothing sent)", config.nip, exc)
            return {**stats, "not_authorised": 1}
        except fa3.Fa3Invalid as exc:
            log.error("invoice %s is not valid FA(3): %s", invoice_id, exc)
            outcome = "invalid"
        finally:
            release(invoice_id)
        stats[outcome] = stats.get(outcome, 0) + 1
        if outcome == "offline":
            break  # KSeF is down: the others wait for the next run
    return stats


def xml_of(deps: Deps, account_id: str, invoice_id: str) -> dict[str, str]:
    """The owner's invoice as its FA(3) document."""
    view = invoices.own(account_id, invoice_id)
    return {"filename": f"{view.number.replace('/', '-')}.xml", "content_type": "application/xml",
            "data": base64.b64encode(document_of(deps, view)).decode("ascii")}  # fmt: skip


def document_of(deps: Deps, view: InvoiceView) -> bytes:
    """The invoice's FA(3) document: as fixed for KSeF when it went there, else built now."""
    document = KsefSubmission.load(deps.events, ksef_stream(view.id)).document
    return document["xml"].encode("utf-8") if document else fa3.build(fa3_invoice(view))


def problems() -> list[dict[str, Any]]:
    """For staff: invoices KSeF rejected (with its reason) and those waiting in offline mode."""
    found = InvoiceView.objects(ksef__status__in=["rejected", "offline"]).order_by("-issue_date")
    return [{**v.summary(), "account_id": v.account_id, "buyer": dict(v.buyer or {}), "ksef": v.ksef_state()}
            for v in found]  # fmt: skip
