"""Hosting services: the account's list, one service with its invoices and what can be done with it
(issue #18): a plan change with proration, renewing early, cancellation, a consumer's withdrawal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from kernel.aggregate import execute
from kernel.errors import CommandError, Conflict, Invalid, NotFound
from kernel.events import command_meta
from kernel.money import invoice_line, vat_of
from kernel.paging import one_page, page_number
from services.billing.app import CONFLICT_RETRIES, Deps, corrections, invoices, payments
from services.billing.catalog import Plan
from services.billing.domain import (
    LIVE,
    SERVICE_STATUSES,
    WITHDRAWAL_DAYS,
    Customer,
    customer_stream,
    det_id,
    iso,
    paid_ahead,
    parse,
    period_days,
    prorated,
)
from services.billing.projections import InvoiceView, OrderView, ServiceView

log = logging.getLogger(__name__)
# how long after its corrections a customer action without its customer event is taken as failed
SETTLE_AFTER = dt.timedelta(minutes=2)


def list_page(account_id: str, status: str | None, page: int, per_page: int) -> dict[str, Any]:
    """The account's hosting services by name, one page; `status` narrows them to one status."""
    if status is not None and status not in SERVICE_STATUSES:
        raise Invalid("invalid_input", {"status": "invalid_status"})
    page, per_page = page_number(page, 1, 10_000), page_number(per_page, 100, 100)
    found = ServiceView.objects(account_id=account_id, **({"status": status} if status else {})).order_by("name")
    return one_page(found, page, per_page, ServiceView.public)


def detail(account_id: str, service_id: str) -> dict[str, Any]:
    """The account's service with its invoices (the order's, the renewals', its plan changes' and the
    corrections of those issued for it: its withdrawal, a refund), newest first."""
    view = ServiceView.objects(id=service_id, account_id=account_id).first() if isinstance(service_id, str) else None
    if not view:
        raise NotFound("service")
    invoice_ids = [i.id for i in InvoiceView.objects(service_id=service_id).only("id")]
    changes = InvoiceView.objects(account_id=account_id, lines__params__service_id=service_id).only("id")
    invoice_ids += [i.id for i in changes]  # a plan change's invoice names the service in its line
    order = OrderView.objects(id=view.order_id).first() if view.order_id else None
    if order and order.invoice_id:
        invoice_ids.append(order.invoice_id)
    corrected = InvoiceView.objects(id__in=list(invoice_ids), account_id=account_id).only("corrections")
    invoice_ids += [c for v in corrected for c in (v.corrections or [])]  # its withdrawal, downgrades, a refund
    invoice_ids += [
        det_id("correction", i, *why)
        for i in invoice_ids
        for why in (("withdrawal", service_id), ("cancellation", service_id), ("refund",))
    ]
    found = [v.summary() for v in InvoiceView.objects(id__in=invoice_ids, account_id=account_id) if v.number]
    found.sort(key=lambda i: i["issue_date"] or "", reverse=True)
    return {**view.public(), "invoices": found}


def request_cancellation(deps: Deps, account_id: str, service_id: str, when: str, ctx: dict | None) -> dict[str, Any]:
    """End of period (no money back) or at once: then the unused part of everything paid for the service is
    credited, by the withdrawal's rule (see `withdraw`; a renewal paid early comes back whole), each paid
    invoice with something given back through its correcting invoice (a refund after the invoice)."""
    customer, service = _service(deps, account_id, service_id)
    unused, taken = 0, None
    if when == "immediate" and service["status"] in LIVE:
        taken = [t for t in customer.withdrawal_takes(service_id, deps.now()) if t["gross"] > 0]
        action = _action("cancellation", service_id, deps.now())
        for take in taken:
            _correct(deps, take, det_id("correction", take["invoice_id"], "cancellation", service_id),
                     CANCELLATION_REASON, ctx, action)  # fmt: skip
        unused = sum(t["gross"] for t in taken)
    execute(deps.events, Customer, customer_stream(account_id),
            lambda c: c.request_cancellation(service_id, when, deps.now(), unused, taken), command_meta(ctx))  # fmt: skip
    return detail(account_id, service_id)


def with_terms(deps: Deps, account_id: str, service_id: str) -> dict[str, Any]:
    """The service (detail) with `terms`: the money of each lifecycle action, said before confirming."""
    service = detail(account_id, service_id)
    plan = Plan.objects(id=service["plan"]).first()
    names = plan.name if plan else {"pl": service["plan"], "en": service["plan"]}
    return {**service, "plan_name": names, "terms": _terms(deps, account_id, service_id)}


def _service(deps: Deps, account_id: str, service_id: str) -> tuple[Customer, dict[str, Any]]:
    detail(account_id, service_id)
    customer = Customer.load(deps.events, customer_stream(account_id))
    return customer, customer.services[service_id]


def _price(plan: Plan | None, cycle: str) -> tuple[int, int] | None:
    """(net, VAT rate) of the plan's cycle, or None when the plan does not sell it."""
    return (plan.prices[cycle], plan.vat_rate) if plan and cycle in (plan.prices or {}) else None


def _gross(net: int, rate: int) -> int:
    return net + vat_of(net, rate)


def _terms(deps: Deps, account_id: str, service_id: str) -> dict[str, Any]:
    customer, service = _service(deps, account_id, service_id)
    now = deps.now()
    left, total = period_days(service["next_due_date"], service["cycle"], now)
    # a renewal paid early: the difference would be owed for two periods at different prices and taken
    # off two invoices; not built yet, so no plan is offered until the paid-ahead period begins
    ahead = paid_ahead(service["next_due_date"], service["cycle"], now)
    plans = [] if ahead else _plan_changes(customer, service, left, total, now)
    refused = customer.withdrawal_refused(service_id, now)
    order = customer.orders.get(service.get("order_id") or "")
    return {
        "days_left": left, "days_in_period": total, "currency": "PLN",
        "plan_change": {"refused": "renewed_in_advance", "possible_from": iso(ahead)} if ahead else None,
        "plans": plans,
        "cancellation": {"immediate_credit": sum(t["gross"] for t in customer.withdrawal_takes(service_id, now)),
                         "end_of_period": iso(service["next_due_date"])},
        "withdrawal": {"available": refused is None, "refused": refused,
                       "until": iso(parse(order["placed_at"]) + dt.timedelta(days=WITHDRAWAL_DAYS)) if order else None,
                       "refund": sum(t["gross"] for t in customer.withdrawal_takes(service_id, now))
                       if refused is None else 0},
    }  # fmt: skip


def _plan_changes(customer: Customer, service: dict[str, Any], left: int, total: int,
                  now: dt.datetime) -> list[dict[str, Any]]:  # fmt: skip
    """Every other plan the service may move to, a downgrade's credit being what its corrections give back."""
    current = _price(Plan.objects(id=service["plan"]).first(), service["cycle"])
    plans = [_plan_change(p, service, current, left, total) for p in Plan.objects(active="yes").order_by("sort")]
    for change in plans:
        if change and change["direction"] == "downgrade":
            takes = customer.downgrade_takes(service["service_id"], change["net"], now)
            change["gross"] = sum(t["gross"] for t in takes) if takes else change["gross"]
    return [p for p in plans if p]


def _plan_change(plan: Plan, service: dict[str, Any], current: tuple[int, int] | None, left: int,
                 total: int) -> dict[str, Any] | None:  # fmt: skip
    """Another plan for the service's cycle with the prorated difference for the rest of the period."""
    price = _price(plan, service["cycle"])
    if plan.id == service["plan"] or not price or not current:
        return None
    net = prorated(price[0] - current[0], left, total)
    return {"plan": plan.id, "name": plan.name, "direction": "upgrade" if price[0] > current[0] else "downgrade",
            "net": abs(net), "gross": _gross(abs(net), price[1]), "vat_rate": price[1],
            "price": price[0], "current_price": current[0]}  # fmt: skip


def change_plan(deps: Deps, account_id: str, service_id: str, plan: Any, ctx: dict | None) -> dict[str, Any]:
    """Upgrade: an unpaid invoice for the prorated difference, the plan changes when it is paid.
    Downgrade: the difference credited, the plan changes at once."""
    terms = _terms(deps, account_id, service_id)
    if terms["plan_change"]:
        raise Conflict(terms["plan_change"]["refused"])
    change = next((p for p in terms["plans"] if p["plan"] == plan), None) if isinstance(plan, str) else None
    if change is None:
        raise Invalid("invalid_input", {"plan": "invalid_plan"})
    if change["direction"] == "downgrade":
        corrections = _downgrade_corrections(deps, account_id, service_id, change, ctx)
        execute(deps.events, Customer, customer_stream(account_id),
                lambda c: c.change_plan(service_id, plan, change["gross"], deps.now(), corrections),
                command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
        return {**with_terms(deps, account_id, service_id), "change": change, "invoice": None}
    invoice = _upgrade_invoice(deps, account_id, service_id, change, terms, ctx)
    return {**with_terms(deps, account_id, service_id), "change": change, "invoice": invoice}


def _upgrade_invoice(deps: Deps, account_id: str, service_id: str, change: dict[str, Any], terms: dict[str, Any],
                     ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """The upgrade's invoice (one per service, plan and period: asking twice gives the same invoice)."""
    stream = customer_stream(account_id)
    customer, service = _service(deps, account_id, service_id)
    if service["status"] != "active":
        raise Conflict("service_not_active")
    due = service["next_due_date"]
    order_id = det_id("plan-change", service_id, change["plan"], iso(due))
    if order_id not in customer.orders:
        now = deps.now()
        names = Plan.objects(id__in=[service["plan"], change["plan"]])
        name = {p.id: p.name for p in names}
        params = {"service_id": service_id, "plan": change["plan"], "previous_plan": service["plan"],
                  "cycle": service["cycle"], "domain": service.get("domain"), "period_from": iso(now),
                  "period_to": iso(due)}  # fmt: skip
        span = f"{now:%Y-%m-%d} – {due:%Y-%m-%d}, {terms['days_left']}/{terms['days_in_period']}"
        line = invoice_line("hosting_plan_change",
                            f"Zmiana planu: {service['name']} ({name[service['plan']]['pl']} → "
                            f"{name[change['plan']]['pl']}), okres {span} dni", params, change["net"],
                            change["vat_rate"])  # fmt: skip
        line["description_en"] = (f"Plan change: {service['name']} ({name[service['plan']].get('en')} → "
                                  f"{name[change['plan']].get('en')}), period {span} days")  # fmt: skip
        order = {"order_id": order_id, "payment_method": "bank_transfer", "discount_code": None, "items": [],
                 "reused_invoice_ids": [], "total_gross": line["gross"], "placed_at": iso(now),
                 **invoices.request(det_id("invoice", order_id), [line], invoices.buyer(deps, account_id), now,
                                    invoices.payment_due(now), "bank_transfer")}  # fmt: skip
        execute(deps.events, Customer, stream, lambda c: c.withdraw_upgrades(service_id), command_meta(ctx),
                retries=CONFLICT_RETRIES)  # fmt: skip
        customer, _ = execute(deps.events, Customer, stream, lambda c: c.place_order(order), command_meta(ctx),
                              retries=CONFLICT_RETRIES)  # fmt: skip
    invoice_id = customer.orders[order_id]["invoice_id"]
    invoices.issue(deps, customer, invoice_id, ctx)
    return InvoiceView.objects(id=invoice_id).first().summary()


def _correct(deps: Deps, take: dict[str, Any], correction_id: str, reasons: dict[str, str], ctx: dict | None,
             action: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Issue the correction of one paid line (`take`, see `PaidLine.take`) once per id, in the corrected
    invoice's language, and set the take's `correction_id`, `net` and `gross` from the correction as issued:
    a request retried after the correction was issued (and the day changed meanwhile) records the money
    that correction says, never another figure. `action` (CorrectionIssued.action) lets the invoice-documents
    timer finish the customer's command should it fail after this (`finish_unsettled`). Returns the
    correction (InvoiceView.detail())."""
    view = corrections.corrected_invoice(take["invoice_id"])
    language = view.language if view.language in reasons else "pl"
    correction = corrections.issue(deps, view, correction_id, reasons[language],
                                   [{"before": take["before"], "after": take["after"]}], ctx, action)  # fmt: skip
    take.update(correction_id=correction_id, net=-correction["total_net"], gross=-correction["total_gross"])
    return correction


def _downgrade_corrections(deps: Deps, account_id: str, service_id: str, change: dict[str, Any],
                           ctx: dict | None) -> list[dict[str, Any]]:  # fmt: skip
    """A downgrade's credit is a price reduction after the invoice (art. 106j: a correcting invoice): the
    prorated difference is taken off the service's paid lines, newest first (`Customer.downgrade_takes`),
    one correction per line, issued before the credit is recorded (their ids are deterministic per the
    service's count of downgrades, so a retried request issues them once). `change["gross"]` becomes the
    corrections' sum, the credit."""
    customer, service = _service(deps, account_id, service_id)
    takes = customer.downgrade_takes(service_id, change["net"], deps.now())
    count = str(service.get("downgrades", 0))
    action = {**_action("downgrade", service_id, deps.now()), "plan": change["plan"]}
    for take in takes:
        _correct(deps, take, det_id("correction", take["invoice_id"], "downgrade", service_id, count),
                 DOWNGRADE_REASON, ctx, action)  # fmt: skip
    if takes:
        change["gross"] = sum(t["gross"] for t in takes)
    return takes


def withdraw(deps: Deps, account_id: str, service_id: str, confirm: Any, ctx: dict | None) -> dict[str, Any]:
    """A consumer's withdrawal within 14 days of the order (`confirm` must be true).

    The rule (the consumer pays only for the service provided, pro rata to the days used): everything paid
    for this service (the order's line, each paid upgrade's line, each paid renewal's line, early ones
    included) less what was already credited back for it (a downgrade's credit) less the value of the days
    used at the plan(s) in force. Each paid line paid for a span of days at a uniform price per day (the
    order's line the first period, an upgrade's line the days left when it was invoiced, a renewal's line
    its whole period, not begun yet); so, line by line, what comes back is its net prorated to the days of
    its span still ahead, less the same share of each downgrade credit already taken off it
    (`PaidLine.unused`); the line keeps the rest, with its VAT at the line's rate on that net, and what
    comes back is its gross before minus its gross after. The plan in force on a day is the order's plan
    plus the upgrades and less the downgrades in effect that day, so the lines' kept parts add up to the
    value of the days used at the plans in force.

    Why it is also "cancel at once": paid less credited is, over one period, the sum of each plan in force
    times its share of the period, the last plan reaching to the due date (every plan change was prorated
    on the same days left), so less the days used it is the current plan's price for the days left, which
    is what cancelling at once credited (prorated gross of the current plan), up to the grosze each line
    rounds on its own (e.g. Start then Biznes upgraded on day 10, withdrawn on day 12 of 31: 1130 + 1884 =
    3014 by lines, 3015 by the plan). It is not so once a renewal was paid early: that formula counted only
    the period ending at the new due date and lost the rest of the current one, so cancelling at once now
    uses these same lines (`request_cancellation`) and its credit is exactly this refund. Each paid invoice with something given back gets its correcting invoice (KOR)
    referring to it; its part goes back to the card when a card payment through Stripe paid that invoice,
    else to credit, so one withdrawal may be refunded partly to a card and partly to credit."""
    if confirm is not True:
        raise Invalid("invalid_input", {"confirm": "required"})
    customer, service = _service(deps, account_id, service_id)
    now = deps.now()
    refused = customer.withdrawal_refused(service_id, now)
    if refused:
        raise Conflict(refused)
    refunds, issued = [], []
    action = _action("withdrawal", service_id, now)
    for take in customer.withdrawal_takes(service_id, now):
        invoice_id = take["invoice_id"]
        correction = _correct(deps, take, det_id("correction", invoice_id, "withdrawal", service_id),
                              WITHDRAWAL_REASON, ctx, action)  # fmt: skip
        key = (
            f"withdrawal-{service_id}"
            if invoice_id == service["invoice_id"]
            else f"withdrawal-{service_id}-{invoice_id}"
        )
        refund_id = payments.refund_part_to_card(invoice_id, account_id, take["gross"], key) if take["gross"] else None
        refunds.append({"invoice_id": invoice_id, "correction_id": correction["invoice_id"], "amount": take["gross"],
                        "method": "card" if refund_id else "credit", "refund_id": refund_id})  # fmt: skip
        issued.append(correction)
    if not refunds:
        raise Conflict("not_withdrawable")
    execute(deps.events, Customer, customer_stream(account_id), lambda c: c.withdraw(service_id, refunds, now),
            command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
    methods = {r["method"] for r in refunds if r["amount"]} or {refunds[0]["method"]}
    return {**detail(account_id, service_id), "correction": issued[0], "corrections": issued,
            "refund": sum(r["amount"] for r in refunds), "refunds": refunds,
            "refund_method": methods.pop() if len(methods) == 1 else "mixed"}  # fmt: skip


def _action(kind: str, service_id: str, now: dt.datetime) -> dict[str, Any]:
    return {"kind": kind, "service_id": service_id, "at": iso(now)}


def finish_unsettled(deps: Deps, ctx: dict | None) -> int:
    """Finish the customer actions whose corrections were issued at least SETTLE_AFTER ago while no customer
    event finished them (the command after the corrections failed: a crash, the database away): each is
    asked again as of its own moment (`at`), when its corrections, refunds and credits are decided exactly
    as they were (their ids are deterministic; the corrections issued are reused). How many were finished;
    one that can no longer be (the service changed since) is logged for staff and tried at the next run."""
    finished = 0
    for action in corrections.unsettled_actions(deps.now() - SETTLE_AFTER):
        asked_at = parse(action["at"])
        then = dataclasses.replace(deps, now=lambda at=asked_at: at)
        account_id, service_id = action["account_id"], action["service_id"]
        try:
            if action["kind"] == "withdrawal":
                withdraw(then, account_id, service_id, True, ctx)
            elif action["kind"] == "cancellation":
                request_cancellation(then, account_id, service_id, "immediate", ctx)
            elif action["kind"] == "downgrade":
                change_plan(then, account_id, service_id, action["plan"], ctx)
            else:
                continue
        except CommandError as refused:
            log.error("the %s of service %s (account %s) asked at %s cannot be finished: %s; its corrections "
                      "are issued without the customer's credit", action["kind"], service_id, account_id,
                      action["at"], refused)  # fmt: skip
            continue
        finished += 1
    return finished


WITHDRAWAL_REASON = {
    "pl": "Odstąpienie od umowy przez konsumenta: zwrot za niewykorzystaną część okresu",
    "en": "Consumer's withdrawal from the contract: refund of the unused part of the period",
}
DOWNGRADE_REASON = {
    "pl": "Zmiana planu na tańszy: obniżenie ceny za pozostałe dni okresu (różnica zwrócona na saldo)",
    "en": "Change to a cheaper plan: price reduced for the days left in the period (difference credited)",
}
CANCELLATION_REASON = {
    "pl": "Rezygnacja z usługi ze skutkiem natychmiastowym: zwrot za niewykorzystaną część (na saldo)",
    "en": "Service cancelled with immediate effect: refund of the unused part (to credit)",
}
