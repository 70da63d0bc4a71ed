"""Paying: from credit, by bank transfer or by card (the provider adapters in
`services.billing.payments`), the card provider's webhook, staff's transfers and refunds, credit."""

from __future__ import annotations

from typing import Any

import eventlet

from kernel.aggregate import execute
from kernel.errors import NotFound
from kernel.events import command_meta, new_id
from kernel.money import CURRENCY
from services.billing import payments as providers
from services.billing.app import CONFLICT_RETRIES, Deps, invoices
from services.billing.domain import Customer, customer_stream
from services.billing.projections import CustomerView, InvoiceView


def pay(deps: Deps, account_id: str, invoice_ids: list[str], method: str, return_url: str | None,
        ctx: dict | None, payment_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Pay the account's unpaid ones of the invoices: from credit at once, else start the method's payment."""
    chosen = providers.provider(method)
    stream = customer_stream(account_id)
    customer = Customer.load(deps.events, stream)
    for invoice_id in invoice_ids:
        if invoice_id not in customer.invoices:
            raise NotFound("invoice")
    unpaid = [i for i in invoice_ids if customer.invoices[i]["status"] == "unpaid"]
    amount = sum(customer.outstanding(i) for i in unpaid)
    if not unpaid:
        return {"method": method, "status": "paid", "amount": 0}
    numbers = invoices.numbers(unpaid)
    if method == "credit":
        execute(deps.events, Customer, stream, lambda c: c.pay_from_credit(unpaid, numbers, deps.now()),
                command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
        return {"method": method, "status": "paid", "amount": amount}
    request = providers.PaymentRequest(account_id, unpaid, amount, [numbers.get(i, "") for i in unpaid],
                                       return_url, payment_id)  # fmt: skip
    return chosen.start(request)


def pay_invoice(deps: Deps, account_id: str, invoice_id: str, method: str, return_url: str | None,
                ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    invoices.own(account_id, invoice_id)
    return pay(deps, account_id, [invoice_id], method, return_url, ctx)


def pay_all_unpaid(deps: Deps, account_id: str, method: str, return_url: str | None,
                   ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    found = InvoiceView.objects(account_id=account_id, status="unpaid").order_by("due_date").only("id")
    ids = [v.id for v in found]
    if not ids:
        return {"method": method, "status": "paid", "amount": 0, "invoice_ids": []}
    return {**pay(deps, account_id, ids, method, return_url, ctx), "invoice_ids": ids}


def sandbox_payment(payment_id: str) -> dict[str, Any]:
    """What the gateway's sandbox card page shows (a session left open too long shows as expired)."""
    intent = providers.PaymentIntent.objects(id=payment_id).first()
    if not intent:
        raise NotFound("payment")
    intent.expire_if_due()
    return {**intent.public(), "numbers": list(invoices.numbers(intent.invoice_ids).values())}


def sandbox_complete(payment_id: str, outcome: str) -> dict[str, Any]:
    """The sandbox provider settles the session; returns the signed webhook {body, signature} and the
    return URL. Like a real provider it then posts the webhook to the gateway's public endpoint on its
    own, retrying until accepted."""
    result = providers.SandboxCardProvider.complete(payment_id, outcome)
    url = providers.webhook_url()
    if url:
        eventlet.spawn_n(providers.deliver_webhook, result["webhook"], url)
    return result


def payment(account_id: str, payment_id: str) -> dict[str, Any]:
    """A card payment as its owner sees it on the return page: the session's status and the invoices
    it pays (paid once the webhook has been applied)."""
    mine = isinstance(payment_id, str) and providers.PaymentIntent.objects(id=payment_id, account_id=account_id)
    intent = mine.first() if mine else None
    if not intent:
        raise NotFound("payment")
    paid = [v.summary() for v in InvoiceView.objects(id__in=list(intent.invoice_ids), account_id=account_id)]
    return {**intent.public(), "invoices": paid, "all_paid": bool(paid) and all(i["status"] == "paid" for i in paid)}


def handle_webhook(deps: Deps, body: str, signature: str) -> dict[str, Any]:
    """Apply a provider webhook with the figures of the payment session we stored, once: a webhook that
    is forged, stale, about no session of ours, disagrees with it, or reports a success the provider
    did not settle is refused and changes nothing (`payments.accept_webhook`); a redelivery applies
    nothing; a failure notice never undoes anything."""
    intent, kind = providers.accept_webhook(body, signature)
    if kind != "payment.succeeded":
        return {"status": "ignored", "payment_id": intent.id}
    invoice_ids, amount = list(intent.invoice_ids), intent.amount
    numbers = invoices.numbers(invoice_ids)
    meta = command_meta({"actor": {"type": "provider", "id": "sandbox"}}, causation_id=intent.id)
    _, stored = execute(deps.events, Customer, customer_stream(intent.account_id),
                        lambda c: c.receive_payment(intent.id, "card", amount, invoice_ids, numbers, deps.now()),
                        meta, retries=CONFLICT_RETRIES)  # fmt: skip
    return {"status": "applied" if stored else "duplicate", "payment_id": intent.id}


def mark_paid(deps: Deps, invoice_id: str, ctx: dict | None, amount: int | None,
              reference: str | None) -> dict[str, Any]:  # fmt: skip
    """Staff (or a bank import) records a transfer; the same reference twice applies once."""
    view = InvoiceView.objects(id=invoice_id).first()
    if not view or not view.number:
        raise NotFound("invoice")
    stream = customer_stream(view.account_id)
    customer = Customer.load(deps.events, stream)
    paid = amount if amount is not None else customer.outstanding(invoice_id)
    if customer.invoices[invoice_id]["status"] != "unpaid" and amount is None:
        return InvoiceView.objects(id=invoice_id).first().detail()
    payment_id = f"bank:{invoice_id}:{reference or 'manual'}"
    numbers = {invoice_id: view.number}
    execute(deps.events, Customer, stream,
            lambda c: c.receive_payment(payment_id, "bank_transfer", paid, [invoice_id], numbers, deps.now()),
            command_meta(ctx))  # fmt: skip
    return InvoiceView.objects(id=invoice_id).first().detail()


def refund(deps: Deps, invoice_id: str, ctx: dict | None) -> dict[str, Any]:
    """Staff refund a paid invoice: what was paid goes back to the customer's credit."""
    view = InvoiceView.objects(id=invoice_id).first() if isinstance(invoice_id, str) else None
    if not view or not view.number:
        raise NotFound("invoice")
    execute(deps.events, Customer, customer_stream(view.account_id),
            lambda c: c.refund(invoice_id, view.number, deps.now()), command_meta(ctx))  # fmt: skip
    return InvoiceView.objects(id=invoice_id).first().detail()


def add_credit(deps: Deps, account_id: str, amount: int, reason: str, ctx: dict | None) -> dict[str, Any]:
    execute(deps.events, Customer, customer_stream(account_id),
            lambda c: c.add_credit(amount, reason, new_id()), command_meta(ctx))  # fmt: skip
    return credit(account_id)


def credit(account_id: str) -> dict[str, Any]:
    view = CustomerView.objects(id=account_id).first()
    return {"account_id": account_id, "credit": view.credit if view else 0, "currency": CURRENCY}
