"""Billing mails: invoices, payments, overdue reminders, suspension and termination.

Payment mails and overdue reminders are in the "billing" category, suspension and
unsuspension in "services" (the settings page describes that category as activation,
renewals and suspensions); both honour the customer's choice. Two notices are "legal"
and always go: the issued invoice (an electronically delivered VAT invoice is a document
the buyer must receive) and the termination of a service (a contractual notice that the
service and its data are gone).
"""

from __future__ import annotations

from kernel.contracts import billing
from kernel.events import Event
from kernel.money import format_pln
from services.notifications.app import Deps
from services.notifications.app.mails import mail, target


def _date(value: str | None) -> str:
    return (value or "")[:10]


def invoice_issued(deps: Deps, event: Event) -> None:
    p: billing.InvoiceIssued = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "number": p.number, "invoice_id": p.invoice_id,
               "amount": format_pln(p.total_gross), "due_date": _date(p.due_date), "renewal": p.kind == "renewal"}  # fmt: skip
    mail(deps, event, owner, "legal", "billing_invoice_issued", context)


def invoice_paid(deps: Deps, event: Event) -> None:
    p: billing.InvoicePaid = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "number": p.number, "invoice_id": p.invoice_id,
               "amount": format_pln(sum(line.gross for line in p.lines)), "paid_at": _date(p.paid_at)}  # fmt: skip
    mail(deps, event, owner, "billing", "billing_invoice_paid", context)


def invoice_overdue_reminder(deps: Deps, event: Event) -> None:
    p: billing.InvoiceOverdueReminder = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "number": p.number, "invoice_id": p.invoice_id,
               "amount": format_pln(p.amount_due), "due_date": _date(p.due_date), "days_overdue": p.days_overdue}  # fmt: skip
    mail(deps, event, owner, "billing", "billing_invoice_reminder", context)


def invoice_refunded(deps: Deps, event: Event) -> None:
    p: billing.InvoiceRefunded = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "number": p.number, "invoice_id": p.invoice_id,
               "amount": format_pln(p.amount)}  # fmt: skip
    mail(deps, event, owner, "billing", "billing_invoice_refunded", context)


def auto_charge_failed(deps: Deps, event: Event) -> None:
    """A saved card refused for an automatic renewal (issue #15): the pay link, and the next try if any."""
    p: billing.AutoChargeFailed = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "number": p.number, "invoice_id": p.invoice_id,
               "amount": format_pln(p.amount), "reason": p.code, "next_retry_at": _date(p.next_retry_at)}  # fmt: skip
    mail(deps, event, owner, "billing", "billing_auto_charge_failed", context)


def card_expiring(deps: Deps, event: Event) -> None:
    """The default card expires before a renewal it would pay (issue #15)."""
    p: billing.CardExpiring = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "brand": p.brand.upper(), "last4": p.last4,
               "expiry": f"{p.exp_month:02d}/{p.exp_year}", "renews_on": _date(p.renews_on)}  # fmt: skip
    mail(deps, event, owner, "billing", "billing_card_expiring", context)


def service_mail(deps: Deps, event: Event, template: str, category: str = "services") -> None:
    """A service suspended or restored ("services"), or terminated (`category` "legal")."""
    p: billing.ServiceEvent = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "name": p.name, "domain": p.domain or "",
               "service_id": p.service_id, "invoice_id": getattr(p, "invoice_id", None) or ""}  # fmt: skip
    mail(deps, event, owner, category, template, context)


def service_withdrawn(deps: Deps, event: Event) -> None:
    """The acknowledgement of a consumer's withdrawal ("legal"): how much came back and where to."""
    p: billing.ServiceWithdrawn = event.payload
    owner = target(deps, event)
    parts = p.refunds or []  # one per corrected invoice (absent on withdrawals recorded before)
    by_method = {m: sum(r.amount for r in parts if r.method == m) for m in ("card", "credit")}
    context = {"first_name": owner["first_name"], "name": p.name, "domain": p.domain or "",
               "service_id": p.service_id, "invoice_id": p.invoice_id, "amount": format_pln(p.refund),
               "to_card": p.refund_method == "card", "mixed": p.refund_method == "mixed",
               "card_amount": format_pln(by_method["card"]), "credit_amount": format_pln(by_method["credit"]),
               "corrections": max(1, len(parts))}  # fmt: skip
    mail(deps, event, owner, "legal", "billing_service_withdrawn", context)
