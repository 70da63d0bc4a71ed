"""Renewals: the renewal invoice of a hosting service's current period, domain renewal invoices
(issued when domains reports `domain_renewal_due`, or ordered by hand), and what renews soon."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from kernel.aggregate import execute
from kernel.errors import CommandError, Conflict, NotFound, Unavailable
from kernel.events import command_meta
from kernel.money import invoice_line
from services.billing import cart as carts
from services.billing import stripe_provider
from services.billing.app import CONFLICT_RETRIES, Deps, invoices, payments
from services.billing.catalog import CYCLE_NAMES, CYCLES, Plan, add_months
from services.billing.domain import LIVE, Customer, Policy, customer_stream, det_id, iso, parse
from services.billing.payments import PaymentIntent, PaymentRequest
from services.billing.projections import InvoiceView, ServiceView, domain_renewal_only, ts

log = logging.getLogger(__name__)


def hosting_invoice(deps: Deps, account_id: str, service_id: Any, ctx: dict | None) -> str:
    """The renewal invoice for the service's current period: the one already issued if any, else
    requested and issued now (same deterministic id the billing cycle would use, so it is never
    billed twice)."""
    if not isinstance(service_id, str) or not ServiceView.objects(id=service_id, account_id=account_id).first():
        raise NotFound("service")
    stream = customer_stream(account_id)
    customer = Customer.load(deps.events, stream)
    service = customer.services[service_id]
    if service["status"] not in LIVE or service["cancel_at_period_end"]:
        raise Conflict("service_not_renewable")
    invoice_id = customer.renewal_invoice_for(service_id) or request_hosting(
        deps, customer, service_id, service["next_due_date"], ctx
    )
    invoices.issue(deps, Customer.load(deps.events, stream), invoice_id, ctx)
    return invoice_id


def request_hosting(deps: Deps, customer: Customer, service_id: str, period_due: dt.datetime,
                    ctx: dict | None) -> str:  # fmt: skip
    """Request (not yet number) the renewal invoice of the service's period starting `period_due`."""
    service = customer.services[service_id]
    invoice_id = det_id("renewal", service_id, iso(period_due))
    plan = Plan.objects(id=service["plan"]).first()
    if not plan or service["cycle"] not in plan.prices:
        raise Conflict("plan_unavailable")
    period_to = add_months(period_due, CYCLES[service["cycle"]])
    description = (f"Odnowienie: {service['name']} ({CYCLE_NAMES['pl'][service['cycle']]}), "
                   f"okres {period_due:%Y-%m-%d} – {period_to:%Y-%m-%d}")  # fmt: skip
    params = {"service_id": service_id, "plan": service["plan"], "cycle": service["cycle"],
              "domain": service.get("domain"), "period_from": iso(period_due), "period_to": iso(period_to)}  # fmt: skip
    line = invoice_line("hosting_renewal", description, params, plan.prices[service["cycle"]], plan.vat_rate)
    now = deps.now()
    request = invoices.request(invoice_id, [line], invoices.buyer(deps, customer.account_id), now,
                               max(period_due, now))  # fmt: skip
    request["order_id"] = None
    execute(deps.events, Customer, customer.stream_id,
            lambda c: c.request_renewal(service_id, period_due, request), command_meta(ctx))  # fmt: skip
    return invoice_id


def invoice_domain_renewal(deps: Deps, due: dict[str, Any], ctx: dict | None) -> dict[str, Any] | None:
    """Domains' `domain_renewal_due` {account_id, domain_id, for_expiry, years, idempotency_key}: the
    domain's renewal invoice, issued once per key like `issue_item_invoice`; the line's params keep
    `for_expiry`, by which domains records the invoice when `invoice_issued` reaches it. None when
    domains refuses to quote it (the domain is no longer renewable); Unavailable when a service
    does not answer (the consumer tries again)."""
    params = {"domain_id": due["domain_id"], "years": int(due.get("years") or 1)}
    try:
        return invoices.issue_for_item(deps, due["account_id"], "domain_renewal", params, due["idempotency_key"],
                                       ctx, noted={"for_expiry": due["for_expiry"]})  # fmt: skip
    except Unavailable:
        raise
    except (CommandError, NotFound) as exc:
        log.warning("no renewal invoice for domain %s: %r", due["domain_id"], exc)
        return None


def issued_domain_renewal(account_id: str, params: Any) -> tuple[InvoiceView, dict[str, Any]] | None:
    """The unpaid renewal invoice already issued for the domain in `params` (and for the same number
    of years, when given) with its line, or None: then the renewal is quoted anew."""
    domain_id = params.get("domain_id") if isinstance(params, dict) else None
    if not isinstance(domain_id, str):
        return None
    years = params.get("years")
    for invoice in domain_renewal_invoices(account_id):
        for line in invoice.lines:
            line_params = line.get("params") or {}
            if line_params.get("domain_id") == domain_id and (
                years is None or str(years) == str(line_params.get("years") or 1)
            ):
                return invoice, line
    return None


def domain_renewal_invoices(account_id: str, known: list[str] | None = None) -> list[InvoiceView]:
    """Unpaid invoices that only renew domains: those issued before a domain expires, or a renewal
    ordered by hand and left unpaid. `known`: their ids from the customer view (None when it does
    not hold them yet: then they are looked for)."""
    if known is not None and not known:
        return []
    if known is None:
        found = InvoiceView.objects(account_id=account_id, status="unpaid", lines__kind="domain_renewal")
    else:
        found = InvoiceView.objects(id__in=list(known), account_id=account_id, status="unpaid")
    return [v for v in found.order_by("due_date") if v.number and domain_renewal_only(v.lines)]


def list_renewals(deps: Deps, account_id: str) -> dict[str, Any]:
    """What renews soon, each item marked with its cart kind: live services due within RENEWAL_DAYS
    (or overdue) with their renewal invoice (`hosting_renewal`), and the unpaid domain renewal
    invoices (`domain_renewal`)."""
    live = ServiceView.objects(account_id=account_id, status__in=list(LIVE))
    return renewals(deps, account_id, live, invoices.customer_figures(account_id)["unpaid_domain_renewal_ids"])


def renewals(deps: Deps, account_id: str, live: Any, domain_renewal_ids: list[str] | None) -> dict[str, Any]:
    """list_renewals from the account's live services (a query or the list already loaded)."""
    days = Policy.from_env().renewal_days
    horizon = ts(deps.now() + dt.timedelta(days=days))
    due = [v for v in live if v.next_due_date and v.next_due_date <= horizon and v.cancel_at_period_end != "yes"]
    found = _hosting_invoices(due)
    items = []
    for view in due:
        invoice = found.get((view.id, view.next_due_date))
        summary = invoice.summary() if invoice and invoice.number else None
        items.append({"kind": "hosting_renewal", **view.public(), "renewal_invoice": summary})
    items += [domain_renewal_item(v) for v in domain_renewal_invoices(account_id, domain_renewal_ids)]
    cart_invoices = {i.get("invoice_id") for i in carts.load(account_id).items} if items else set()
    for item in items:
        item["in_cart"] = bool(item["renewal_invoice"] and item["renewal_invoice"]["invoice_id"] in cart_invoices)
    items.sort(key=lambda i: i.get("next_due_date") or i["due_date"])
    return {"items": items, "renewal_days": days}


def _hosting_invoices(due: list[ServiceView]) -> dict[tuple[str, str], InvoiceView]:
    """(service, period) -> its renewal invoice, for the services due."""
    invoices_by_period: dict[tuple[str, str], InvoiceView] = {}
    if due:
        found = InvoiceView.objects(service_id__in=[v.id for v in due], status__ne="cancelled",
                                    period_due__in=list({v.next_due_date for v in due}))  # fmt: skip
        for invoice in found:
            invoices_by_period.setdefault((invoice.service_id, invoice.period_due), invoice)
    return invoices_by_period


def domain_renewal_item(invoice: InvoiceView) -> dict[str, Any]:
    """A domain renewal invoice as a renewals item: the domain(s), years, due date and amount."""
    summary = invoice.summary()
    domains = []
    for line in invoice.lines:
        params = line.get("params") or {}
        domains.append({"domain_id": params.get("domain_id"), "domain": params.get("domain"),
                        "unicode_name": params.get("unicode_name") or params.get("domain"),
                        "years": int(params.get("years") or 1), "description": line.get("description")})  # fmt: skip
    first = domains[0]
    return {"kind": "domain_renewal", "domain_id": first["domain_id"], "domain": first["domain"],
            "unicode_name": first["unicode_name"], "name": ", ".join(d["unicode_name"] or "" for d in domains),
            "years": first["years"], "domains": domains, "due_date": summary["due_date"],
            "amount": summary["amount_due"], "currency": summary["currency"], "renewal_invoice": summary}  # fmt: skip


# --------------------------------------------------------------------------- automatic charges (issue #15)
def retry_days() -> tuple[int, ...]:
    """PAYMENT_RETRY_DAYS: days after the first refused automatic charge when it is tried again."""
    raw = os.environ.get("PAYMENT_RETRY_DAYS", "1,3,5")
    return tuple(sorted(int(d) for d in raw.split(",") if d.strip()))


def auto_renews(customer: Customer, invoice_id: str) -> bool:
    """A renewal invoice of a service whose auto-renew is on, or one that only renews domains (domains
    asks for those only while the domain's own auto-renew is on)."""
    invoice = customer.invoices[invoice_id]
    if invoice["kind"] == "renewal":
        service = customer.services.get(invoice["service_id"] or "")
        return bool(service and service.get("auto_renew"))
    return domain_renewal_only(invoice["lines"])


def auto_charges(deps: Deps, customer: Customer, numbers: dict[str, str], now: dt.datetime) -> int:
    """Charge the default saved card for every unpaid auto-renewing invoice whose attempt is due (the
    first at once, the next ones PAYMENT_RETRY_DAYS after the first); notice a default card that
    expires before a renewal it would pay. Returns the charges attempted."""
    due = [i for i in customer.unpaid_invoice_ids() if i in numbers and auto_renews(customer, i)]
    renewing = any(s.get("auto_renew") and s["status"] in LIVE for s in customer.services.values())
    card = stripe_provider.default_card(customer.account_id) if due or renewing else None
    if not card:
        return 0
    expiry_notices(deps, customer, card)
    return sum(auto_charge(deps, customer, i, numbers[i], card, now) for i in due)


def auto_charge(deps: Deps, customer: Customer, invoice_id: str, number: str, card: dict[str, Any],
                now: dt.datetime) -> int:  # fmt: skip
    """One off-session attempt when it is due: its session id is derived from (invoice, attempt), so
    two cycles at once make one attempt (and Stripe sees one idempotency key). An attempt whose
    request never got Stripe's answer (Stripe unreachable) is sent again, with the same key."""
    attempts = list(PaymentIntent.objects(off_session=True, invoice_ids=invoice_id).order_by("created_at"))
    unsent = [a for a in attempts if a.status == "created" and not a.provider_ref]
    if any(a.status == "succeeded" or (a.status == "created" and a.provider_ref) for a in attempts):
        return 0  # paid, or Stripe is deciding
    days = retry_days()
    session = unsent[0] if unsent else _next_attempt(customer, invoice_id, number, attempts, days, now)
    if session is None:
        return 0
    tried = attempts.index(session) if session in attempts else len(attempts)
    result = stripe_provider.confirm_card(session, card["payment_method_id"], off_session=True)
    payments.settle(deps, session, result)
    if result["status"] == "failed":
        first = parse((attempts[0] if attempts else session).created_at)
        retry_at = iso(first + dt.timedelta(days=days[tried])) if tried < len(days) else None
        failure = {"invoice_id": invoice_id, "number": number, "amount": session.amount, "attempt": tried + 1,
                   "code": result.get("code") or "card_declined", "next_retry_at": retry_at}  # fmt: skip
        execute(deps.events, Customer, customer.stream_id, lambda c: c.charge_failed(failure),
                command_meta(payments.STRIPE_CTX, causation_id=session.id), retries=CONFLICT_RETRIES)  # fmt: skip
    return 1


def _next_attempt(customer: Customer, invoice_id: str, number: str, attempts: list[PaymentIntent],
                  days: tuple[int, ...], now: dt.datetime) -> PaymentIntent | None:  # fmt: skip
    """The next attempt's session when it is due (the first at once, then PAYMENT_RETRY_DAYS after the
    first), or None."""
    tried = len(attempts)
    if tried > len(days) or (tried and now < parse(attempts[0].created_at) + dt.timedelta(days=days[tried - 1])):
        return None
    request = PaymentRequest(customer.account_id, [invoice_id], customer.outstanding(invoice_id), [number], None,
                             det_id("autocharge", invoice_id, str(tried)))  # fmt: skip
    session = stripe_provider.open_session(request, "card", off_session=True)
    return session if session.status == "created" and not session.provider_ref else None


def card_expires(card: dict[str, Any]) -> dt.datetime:
    """The first moment a card no longer works: the start of the month after its expiry month."""
    year, month = card["exp_year"] + card["exp_month"] // 12, card["exp_month"] % 12 + 1
    return dt.datetime(year, month, 1)


def expiry_notices(deps: Deps, customer: Customer, card: dict[str, Any]) -> None:
    """A notice (once per card and renewal) when the default card expires before an auto-renewal."""
    for service in customer.services.values():
        renews_on = service["next_due_date"]
        if service.get("auto_renew") and service["status"] in LIVE and card_expires(card) <= renews_on:
            execute(deps.events, Customer, customer.stream_id, lambda c, r=renews_on: c.card_expiring(card, r),
                    command_meta(payments.STRIPE_CTX), retries=CONFLICT_RETRIES)  # fmt: skip


def set_auto_renew(deps: Deps, account_id: str, service_id: Any, auto_renew: Any, ctx: dict | None) -> dict[str, Any]:
    """The service's auto-renew switch (charge the default saved card when its renewal is issued)."""
    if not isinstance(service_id, str) or not ServiceView.objects(id=service_id, account_id=account_id).first():
        raise NotFound("service")
    execute(deps.events, Customer, customer_stream(account_id), lambda c: c.set_auto_renew(service_id, auto_renew),
            command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
    return ServiceView.objects(id=service_id).first().public()
