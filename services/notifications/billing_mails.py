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
from kernel.service import consumes


def _date(value: str | None) -> str:
    return (value or "")[:10]


class BillingMails:
    @consumes("billing", "invoice_issued")
    def on_invoice_issued(self, event: Event) -> None:
        p: billing.InvoiceIssued = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "number": p.number, "invoice_id": p.invoice_id,
                   "amount": format_pln(p.total_gross), "due_date": _date(p.due_date), "renewal": p.kind == "renewal"}  # fmt: skip
        self._mail(event, target, "legal", "billing_invoice_issued", context)

    @consumes("billing", "invoice_paid")
    def on_invoice_paid(self, event: Event) -> None:
        p: billing.InvoicePaid = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "number": p.number, "invoice_id": p.invoice_id,
                   "amount": format_pln(sum(line.gross for line in p.lines)), "paid_at": _date(p.paid_at)}  # fmt: skip
        self._mail(event, target, "billing", "billing_invoice_paid", context)

    @consumes("billing", "invoice_overdue_reminder")
    def on_invoice_overdue_reminder(self, event: Event) -> None:
        p: billing.InvoiceOverdueReminder = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "number": p.number, "invoice_id": p.invoice_id,
                   "amount": format_pln(p.amount_due), "due_date": _date(p.due_date), "days_overdue": p.days_overdue}  # fmt: skip
        self._mail(event, target, "billing", "billing_invoice_reminder", context)

    @consumes("billing", "invoice_refunded")
    def on_invoice_refunded(self, event: Event) -> None:
        p: billing.InvoiceRefunded = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "number": p.number, "invoice_id": p.invoice_id,
                   "amount": format_pln(p.amount)}  # fmt: skip
        self._mail(event, target, "billing", "billing_invoice_refunded", context)

    @consumes("billing", "service_suspended")
    def on_service_suspended(self, event: Event) -> None:
        self._service_mail(event, "billing_service_suspended")

    @consumes("billing", "service_unsuspended")
    def on_service_unsuspended(self, event: Event) -> None:
        self._service_mail(event, "billing_service_unsuspended")

    @consumes("billing", "service_terminated")
    def on_service_terminated(self, event: Event) -> None:
        self._service_mail(event, "billing_service_terminated", category="legal")

    def _service_mail(self, event: Event, template: str, category: str = "services") -> None:
        p: billing.ServiceEvent = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "name": p.name, "domain": p.domain or "",
                   "service_id": p.service_id, "invoice_id": getattr(p, "invoice_id", None) or ""}  # fmt: skip
        self._mail(event, target, category, template, context)
