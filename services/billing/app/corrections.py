"""Correcting invoices (faktury korygujące, issue #16): a refund takes the whole invoice back, staff
can correct a line's price. A correction refers to the corrected invoice (its number and KSeF number),
shows each changed line before and after and the reason, and is numbered in its own gapless series
(KOR/<year>/<month>/<n>, the month's CorrectionLedger); it goes to KSeF like the invoice did."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kernel.aggregate import execute
from kernel.errors import Conflict, Invalid, NotFound
from kernel.events import command_meta
from kernel.money import totals, vat_of
from services.billing.app import Deps, invoices
from services.billing.domain import CorrectionLedger, corrections_stream, det_id, iso, month_of
from services.billing.projections import InvoiceView, ts

LEDGER_RETRIES = 50
REFUND_REASON = {"pl": "Zwrot całości zapłaty (usługa anulowana, pieniądze zwrócone)",
                 "en": "Full refund (service cancelled, money returned)"}  # fmt: skip
MONEY = ("unit_net", "discount", "net", "vat", "gross")


def corrected_invoice(invoice_id: Any) -> InvoiceView:
    """The invoice to correct, by its id or its number (staff know invoices by number)."""
    found = InvoiceView.objects(id=invoice_id).first() if isinstance(invoice_id, str) else None
    view = found or (InvoiceView.objects(number=invoice_id.strip()).first() if isinstance(invoice_id, str) else None)
    if not view or not view.number or view.kind == "correction":
        raise NotFound("invoice")
    return view


def difference(before: dict[str, Any], after: dict[str, Any] | None) -> dict[str, Any]:
    """The correction's own line: what changes (after minus before; a line taken back is all negative)."""
    after = after or {**before, **dict.fromkeys(MONEY, 0)}
    return {**before, **{k: (after.get(k) or 0) - (before.get(k) or 0) for k in MONEY}}


def issue(deps: Deps, view: InvoiceView, correction_id: str, reason: str, pairs: list[dict[str, Any]],
          ctx: dict | None, action: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Issue the correction (once per id) and return it as InvoiceView.detail(). `action`: the customer's
    action it is issued for (see CorrectionIssued.action), finished by a later customer command."""
    existing = InvoiceView.objects(id=correction_id).first()
    if existing and existing.number:
        return existing.detail()
    lines = [difference(p["before"], p.get("after")) for p in pairs]
    now = deps.now()
    payload = {
        "account_id": view.account_id, "corrected_invoice_id": view.id, "corrected_number": view.number,
        "corrected_issue_date": view.issue_date, "corrected_ksef_number": (view.ksef or {}).get("ksef_number"),
        "reason": reason, "pairs": pairs, "lines": lines, **totals(lines), "buyer": dict(view.buyer),
        "seller": invoices.seller(), "issue_date": iso(now), "language": view.language or "pl",
        "vat_note": view.vat_note or "", "ksef": view.ksef_state()["required"],
        "month": month_of(now), "sale_date": view.sale_date, "period": dict(view.period) if view.period else None,
        **({"action": action} if action else {}),
    }  # fmt: skip
    execute(deps.events, CorrectionLedger, corrections_stream(month_of(now)),
            lambda led: led.issue(correction_id, payload), command_meta(ctx), retries=LEDGER_RETRIES)  # fmt: skip
    return InvoiceView.objects(id=correction_id).first().detail()


def for_refund(deps: Deps, invoice_id: str, ctx: dict | None) -> dict[str, Any]:
    """The correction of a refunded invoice: every line taken back."""
    view = corrected_invoice(invoice_id)
    if view.status != "refunded":
        raise Conflict("invoice_not_refunded")
    pairs = [{"before": dict(line), "after": None} for line in view.lines]
    reason = REFUND_REASON.get(view.language or "pl", REFUND_REASON["pl"])
    return issue(deps, view, det_id("correction", view.id, "refund"), reason, pairs, ctx)


def unsettled_actions(older_than: dt.datetime) -> list[dict[str, Any]]:
    """The customer actions whose corrections were issued before `older_than` but that no customer event
    finished (the command after the corrections failed): {account_id, kind, service_id, at, plan}."""
    # the time compared here: nx-27017 finds nothing for `settled $ne` with `created_at $lt` (it counts them)
    found = InvoiceView.objects(kind="correction", action__exists=True, settled__ne=True)
    before, actions = ts(older_than), {}
    for view in found.only("account_id", "action", "created_at"):
        if view.action and (view.created_at or "") < before:
            action = {
                "account_id": view.account_id,
                **{k: view.action.get(k) for k in ("kind", "service_id", "at", "plan")},
            }
            actions[tuple(sorted(action.items()))] = action
    return list(actions.values())


def refunds_to_correct() -> list[str]:
    """Refunded invoices without their correction yet (the timer issues them)."""
    found = InvoiceView.objects(status="refunded", corrections__exists=False).only("id", "kind")  # set once corrected
    return [v.id for v in found if v.kind != "correction"]


def correct_prices(deps: Deps, invoice_id: str, prices: Any, reason: Any, key: Any,
                   ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """Staff correct line prices: `prices` {line index (from 1): new unit net price in grosze}."""
    view = corrected_invoice(invoice_id)
    invoices.check_key(key)
    errors = {}
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 256:
        errors["reason"] = "required"
    changed = _changed_lines(view, prices) if isinstance(prices, dict) and prices else None
    if changed is None:
        errors["prices"] = "invalid_prices"
    if errors:
        raise Invalid("invalid_input", errors)
    if view.status in ("cancelled", "refunded"):
        raise Conflict("invoice_not_correctable")
    return issue(deps, view, det_id("correction", view.id, key), reason.strip(), changed, ctx)


def _changed_lines(view: InvoiceView, prices: dict[str, Any]) -> list[dict[str, Any]] | None:
    pairs = []
    for index, unit_net in prices.items():
        position = int(index) - 1 if str(index).isdigit() else -1
        if not 0 <= position < len(view.lines) or not isinstance(unit_net, int) or unit_net < 0:
            return None
        before = dict(view.lines[position])
        net = unit_net * before.get("quantity", 1)
        amount = vat_of(net, before["vat_rate"])  # the rate the invoice charged
        pairs.append({"before": before, "after": {**before, "unit_net": unit_net, "discount": 0, "net": net,
                                                  "vat": amount, "gross": net + amount}})  # fmt: skip
    return pairs
