"""Hosting services: the account's list, one service with its invoices and what can be done with it
(issue #18): a plan change with proration, renewing early, cancellation, a consumer's withdrawal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kernel.aggregate import execute
from kernel.errors import Conflict, Invalid, NotFound
from kernel.events import command_meta
from kernel.money import invoice_line, vat_of
from kernel.paging import one_page, page_number
from services.billing.app import CONFLICT_RETRIES, Deps, corrections, invoices, payments
from services.billing.catalog import Plan
from services.billing.domain import (
    SERVICE_STATUSES,
    WITHDRAWAL_DAYS,
    Customer,
    customer_stream,
    det_id,
    iso,
    parse,
    period_days,
    prorated,
)
from services.billing.projections import InvoiceView, OrderView, ServiceView


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
    invoice_ids += [
        det_id("correction", i, *why) for i in invoice_ids for why in (("withdrawal", service_id), ("refund",))
    ]
    found = [v.summary() for v in InvoiceView.objects(id__in=invoice_ids, account_id=account_id) if v.number]
    found.sort(key=lambda i: i["issue_date"] or "", reverse=True)
    return {**view.public(), "invoices": found}


def request_cancellation(deps: Deps, account_id: str, service_id: str, when: str, ctx: dict | None) -> dict[str, Any]:
    """End of period (no money back) or at once (the current period's unused part credited)."""
    detail(account_id, service_id)
    unused = _terms(deps, account_id, service_id)["cancellation"]["immediate_credit"]
    execute(deps.events, Customer, customer_stream(account_id),
            lambda c: c.request_cancellation(service_id, when, deps.now(), unused), command_meta(ctx))  # fmt: skip
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
    current = _price(Plan.objects(id=service["plan"]).first(), service["cycle"])
    plans = [_plan_change(p, service, current, left, total) for p in Plan.objects(active="yes").order_by("sort")]
    refused = customer.withdrawal_refused(service_id, now)
    order = customer.orders.get(service.get("order_id") or "")
    return {
        "days_left": left, "days_in_period": total, "currency": "PLN",
        "plans": [p for p in plans if p],
        "cancellation": {"immediate_credit": prorated(_gross(*current), left, total) if current else 0,
                         "end_of_period": iso(service["next_due_date"])},
        "withdrawal": {"available": refused is None, "refused": refused,
                       "until": iso(parse(order["placed_at"]) + dt.timedelta(days=WITHDRAWAL_DAYS)) if order else None,
                       "refund": _withdrawal_refund(customer, service, now)[3] if refused is None else 0},
    }  # fmt: skip


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
    change = next((p for p in terms["plans"] if p["plan"] == plan), None) if isinstance(plan, str) else None
    if change is None:
        raise Invalid("invalid_input", {"plan": "invalid_plan"})
    if change["direction"] == "downgrade":
        execute(deps.events, Customer, customer_stream(account_id),
                lambda c: c.change_plan(service_id, plan, change["gross"], deps.now()), command_meta(ctx),
                retries=CONFLICT_RETRIES)  # fmt: skip
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


def _withdrawal_refund(customer: Customer, service: dict[str, Any],
                       now: dt.datetime) -> tuple[str, dict, int, int]:  # fmt: skip
    """(order invoice id, its hosting line for this service, the net for the days used, the refund):
    the line's unused days back, gross."""
    invoice_id = service["invoice_id"]
    lines = customer.invoices[invoice_id]["lines"]
    index = next(i for i in range(len(lines)) if det_id("service", invoice_id, str(i)) == service["service_id"])
    line = lines[index]
    left, total = period_days(service["next_due_date"], service["cycle"], now)
    used_net = line["net"] - prorated(line["net"], left, total)
    return invoice_id, line, used_net, line["gross"] - used_net - vat_of(used_net, line["vat_rate"])


def withdraw(deps: Deps, account_id: str, service_id: str, confirm: Any, ctx: dict | None) -> dict[str, Any]:
    """A consumer's withdrawal within 14 days of the order (`confirm` must be true): a correcting invoice
    takes the unused part of the service's line back, that sum goes back to the card that paid through
    Stripe or else to credit, the service ends."""
    if confirm is not True:
        raise Invalid("invalid_input", {"confirm": "required"})
    customer, service = _service(deps, account_id, service_id)
    now = deps.now()
    refused = customer.withdrawal_refused(service_id, now)
    if refused:
        raise Conflict(refused)
    invoice_id, line, used_net, refund = _withdrawal_refund(customer, service, now)
    after = {**line, "unit_net": used_net, "net": used_net, "vat": vat_of(used_net, line["vat_rate"]),
             "gross": used_net + vat_of(used_net, line["vat_rate"])}  # fmt: skip
    view = corrections.corrected_invoice(invoice_id)
    language = view.language or "pl"
    reason = WITHDRAWAL_REASON[language if language in WITHDRAWAL_REASON else "pl"]
    correction = corrections.issue(deps, view, det_id("correction", invoice_id, "withdrawal", service_id), reason,
                                   [{"before": dict(line), "after": after}], ctx)  # fmt: skip
    refund_id = (
        payments.refund_part_to_card(invoice_id, account_id, refund, f"withdrawal-{service_id}") if refund else None
    )
    refund_data = {"invoice_id": invoice_id, "correction_id": correction["invoice_id"], "amount": refund,
                   "method": "card" if refund_id else "credit", "refund_id": refund_id}  # fmt: skip
    execute(deps.events, Customer, customer_stream(account_id), lambda c: c.withdraw(service_id, refund_data, now),
            command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
    return {**detail(account_id, service_id), "correction": correction, "refund": refund,
            "refund_method": refund_data["method"]}  # fmt: skip


WITHDRAWAL_REASON = {
    "pl": "Odstąpienie od umowy przez konsumenta: zwrot za niewykorzystaną część okresu",
    "en": "Consumer's withdrawal from the contract: refund of the unused part of the period",
}
