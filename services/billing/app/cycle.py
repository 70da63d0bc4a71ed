"""The billing cycle: renewal invoices, numbering of stranded requests, reminders, suspension,
termination, end-of-period cancellation; and what became true as time passed, told as events so that
the gateway's dashboard view (fed by events) never needs the clock to be right (issue #17): a service's
renewal window opening, the offer starting or ending."""

from __future__ import annotations

import datetime as dt
import logging

from kernel.aggregate import execute
from kernel.errors import CommandError
from kernel.events import command_meta
from services.billing import stripe_provider
from services.billing.app import Deps, invoices, renewals
from services.billing.domain import LIVE, Customer, Offer, Policy, customer_stream
from services.billing.projections import InvoiceView, ServiceView

log = logging.getLogger(__name__)
CYCLE_CTX = {"actor": {"type": "system", "id": "billing-cycle"}}


def run(deps: Deps) -> dict[str, int]:
    """Safe to run twice, or in two instances at once: every decision is made by the Customer aggregate
    from its state and appended with an expected version (a concurrent run loses the race, re-reads,
    and finds nothing left to do); renewal invoice ids are derived from (service, period), and the
    ledger issues an invoice id at most once. No lock is needed for safety."""
    now, policy = deps.now(), Policy.from_env()
    stats = {"accounts": 0, "renewals_requested": 0, "invoices_issued": 0, "auto_charges": 0, "events": 0,
             "renewal_windows_opened": 0, "offer_events": 0, "errors": 0}  # fmt: skip
    try:
        stats["offer_events"] = offer_passed(deps, now)
    except CommandError as exc:
        stats["errors"] += 1
        log.warning("billing cycle for the offer: %r", exc)
    account_ids = {v.account_id for v in ServiceView.objects(status__in=list(LIVE)).only("account_id")}
    account_ids |= {v.account_id for v in InvoiceView.objects(status__in=["pending", "unpaid"]).only("account_id")}
    for account_id in sorted(account_ids):
        stats["accounts"] += 1
        try:
            run_account(deps, account_id, now, policy, stats)
        except CommandError as exc:  # a conflict past the retries is one too
            stats["errors"] += 1
            log.warning("billing cycle for %s: %r", account_id, exc)
    return stats


def run_account(deps: Deps, account_id: str, now: dt.datetime, policy: Policy, stats: dict[str, int]) -> None:
    stream = customer_stream(account_id)
    customer = Customer.load(deps.events, stream)
    if customer.renewal_windows_opening(now, policy):  # told before the invoice is asked for (it may not be)
        _, opened = execute(deps.events, Customer, stream, lambda c: c.open_renewal_windows(now, policy),
                            command_meta(CYCLE_CTX), retries=10)  # fmt: skip
        stats["renewal_windows_opened"] += len(opened)
        stats["events"] += len(opened)
    for service_id, period_due in customer.renewals_due(now, policy):
        try:
            renewals.request_hosting(deps, customer, service_id, period_due, CYCLE_CTX)
            stats["renewals_requested"] += 1
        except CommandError as exc:  # accounts down, plan withdrawn: try on the next run
            stats["errors"] += 1
            log.warning("renewal of %s not requested: %s", service_id, exc.code)
    customer = Customer.load(deps.events, stream)
    numbers = invoices.numbers(list(customer.invoices))
    for invoice_id in customer.requests:
        if invoice_id not in numbers:
            numbers[invoice_id] = invoices.issue(deps, customer, invoice_id, CYCLE_CTX)
            stats["invoices_issued"] += 1
    if stripe_provider.enabled():  # saved cards charged for auto-renewals, and their retries (issue #15)
        stats["auto_charges"] += renewals.auto_charges(deps, Customer.load(deps.events, stream), numbers, now)
    _, stored = execute(deps.events, Customer, stream, lambda c: c.overdue(now, policy, numbers),
                        command_meta(CYCLE_CTX), retries=10)  # fmt: skip
    stats["events"] += len(stored)


def offer_passed(deps: Deps, now: dt.datetime) -> int:
    """`offer_started`/`offer_ended` once each when the offer's start or end passed since it was set
    (the banner appears or goes with no one acting); the events stored."""
    _, stored = execute(deps.events, Offer, "offer", lambda o: o.passed_in_time(now), command_meta(CYCLE_CTX),
                        retries=10)  # fmt: skip
    return len(stored)
