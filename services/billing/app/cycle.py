"""The billing cycle: renewal invoices, numbering of stranded requests, reminders, suspension,
termination, end-of-period cancellation."""

from __future__ import annotations

import datetime as dt
import logging

from kernel.aggregate import execute
from kernel.errors import CommandError
from kernel.events import command_meta
from services.billing import stripe_provider
from services.billing.app import Deps, invoices, renewals
from services.billing.domain import LIVE, Customer, Policy, customer_stream
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
             "errors": 0}  # fmt: skip
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
