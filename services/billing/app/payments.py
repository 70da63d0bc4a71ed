"""Paying: from credit, by bank transfer or by card, BLIK and Przelewy24 (the provider adapters in
`services.billing.payments` and `services.billing.stripe_provider`, chosen by
`services.billing.providers`), the providers' webhooks, staff's transfers and refunds, credit, saved
cards and the money ledger."""

from __future__ import annotations

import logging
from typing import Any

import eventlet

from kernel.aggregate import execute
from kernel.errors import CommandError, Conflict, Invalid, NotFound, Unavailable
from kernel.events import command_meta, new_id
from kernel.money import CURRENCY
from services.billing import payments as providers
from services.billing import providers as registry
from services.billing import stripe_provider as stripe_pay
from services.billing.app import CONFLICT_RETRIES, Deps, invoices
from services.billing.domain import Customer, customer_stream
from services.billing.projections import CustomerView, InvoiceView

log = logging.getLogger(__name__)
STRIPE_CTX = {"actor": {"type": "provider", "id": "stripe"}}
TOP_UP_MIN, TOP_UP_MAX = 1000, 10_000_000  # adding funds by card: 10 zł to 100 000 zł, in grosze


def pay(deps: Deps, account_id: str, invoice_ids: list[str], method: str, return_url: str | None,
        ctx: dict | None, payment_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Pay the account's unpaid ones of the invoices: from credit at once, else start the method's payment."""
    chosen = registry.provider(method)
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
    """Staff refund a paid invoice: paid by a Stripe payment, the money goes back to the card (asked of
    Stripe, recorded when Stripe says the refund succeeded, in its answer or its event); otherwise
    what was paid goes back to the customer's credit."""
    view = InvoiceView.objects(id=invoice_id).first() if isinstance(invoice_id, str) else None
    if not view or not view.number:
        raise NotFound("invoice")
    session = _stripe_session_of(invoice_id)
    if session is not None:
        return _refund_to_card(deps, view, session, ctx)
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


# --------------------------------------------------------------------------- Stripe (issue #15)
def _own_session(account_id: str, payment_id: Any) -> providers.PaymentIntent:
    found = isinstance(payment_id, str) and providers.PaymentIntent.objects(id=payment_id, account_id=account_id,
                                                                           provider="stripe").first()  # fmt: skip
    if not found:
        raise NotFound("payment")
    return found


def stripe_page(account_id: str, payment_id: str, email: str | None = None) -> dict[str, Any]:
    """What the payment page shows: the session, its invoices' numbers, Stripe.js and its key, and for a
    card the saved cards and a SetupIntent to collect a new one (for BLIK and Przelewy24 the
    PaymentIntent's client secret)."""
    session = _own_session(account_id, payment_id).expire_if_due()
    page = {**session.public(), "numbers": list(invoices.numbers(list(session.invoice_ids)).values()),
            "publishable_key": stripe_pay.publishable_key(), "js_url": stripe_pay.js_url()}  # fmt: skip
    if session.status != "created":
        return page
    if session.method == "card":
        return {**page, **stripe_pay.cards(account_id), "setup": stripe_pay.start_setup(account_id, email)}
    return {**page, "client_secret": session.client_secret}


def stripe_confirm(deps: Deps, account_id: str, payment_id: str, payment_method_id: str | None = None,
                   setup_intent_id: str | None = None, save_card: bool = False) -> dict[str, Any]:  # fmt: skip
    """Pay the session with a saved card or the one Stripe.js just collected (its SetupIntent):
    {status: succeeded | requires_action (client_secret for Stripe.js) | failed (code)}."""
    session = _own_session(account_id, payment_id).expire_if_due()
    if session.status != "created" or session.provider_ref:
        raise Conflict("payment_not_open", {"status": session.status})
    if setup_intent_id:
        payment_method_id = stripe_pay.finish_setup(account_id, setup_intent_id, make_default=save_card)[
            "payment_method_id"
        ]
    elif not isinstance(payment_method_id, str):
        raise Invalid("invalid_input", {"payment_method_id": "required"})
    else:
        stripe_pay.own_card(account_id, payment_method_id)  # a saved card: it must be this account's
    result = stripe_pay.confirm_card(session, payment_method_id, off_session=False)
    settle(deps, session.reload(), result)
    if setup_intent_id and not save_card and result["status"] != "requires_action":
        stripe_pay.remove_card(account_id, payment_method_id)  # used once, not kept
    return {**result, "payment_id": session.id, "return_url": session.return_url}


def settle(deps: Deps, session: providers.PaymentIntent, result: dict[str, Any]) -> None:
    """Record what the provider said of the session: a success is applied (our figures), a failure
    kept with its code; a session already settled stays as it is."""
    if result["status"] == "succeeded":
        apply_success(deps, session)
    elif result["status"] == "failed":
        providers.PaymentIntent.objects(id=session.id, status="created").update_one(
            set__status="failed", set__failure_code=result.get("code"), set__completed_at=deps.now().isoformat()
        )


def apply_success(deps: Deps, session: providers.PaymentIntent) -> bool:
    """The session's money on the account, once (the aggregate remembers the session id): its
    invoices paid in order, the rest (everything, for adding funds) to credit."""
    providers.PaymentIntent.objects(id=session.id, status__in=["created", "failed"]).update_one(
        set__status="succeeded", set__completed_at=deps.now().isoformat()
    )
    invoice_ids = list(session.invoice_ids)
    numbers = invoices.numbers(invoice_ids)
    reason = "overpayment" if invoice_ids else "top_up"
    meta = command_meta(STRIPE_CTX, causation_id=session.id)
    _, stored = execute(deps.events, Customer, customer_stream(session.account_id),
                        lambda c: c.receive_payment(session.id, session.method, session.amount, invoice_ids, numbers,
                                                    deps.now(), credit_reason=reason),
                        meta, retries=CONFLICT_RETRIES)  # fmt: skip
    return bool(stored)


def stripe_return(deps: Deps, account_id: str, payment_id: str) -> dict[str, Any]:
    """The customer is back from Stripe.js (3-D Secure, BLIK, Przelewy24): what Stripe says of the
    PaymentIntent now is recorded (the webhook may not have come yet), then the session is shown."""
    session = _own_session(account_id, payment_id)
    status = stripe_pay.intent_status(session) if session.status == "created" else None
    if status == "succeeded":
        apply_success(deps, session)
    elif status in ("requires_payment_method", "canceled"):
        settle(deps, session, {"status": "failed", "code": "payment_intent_authentication_failure"})
    return payment(account_id, payment_id)


def handle_stripe_webhook(deps: Deps, body: str, signature: str) -> dict[str, Any]:
    """A Stripe event, once its signature is right (the SDK's check) and once per event id, in any
    order: what it is about is found among our sessions and applied with our figures."""
    event = stripe_pay.verify_event(body, signature)
    if not stripe_pay.first_time(event.id, event.type):
        return {"status": "duplicate", "event_id": event.id}
    try:
        return {**_apply_event(deps, event.type, event.data.object.to_dict()), "event_id": event.id}
    except Exception:
        stripe_pay.forget(event.id)  # not applied: a redelivery tries again
        raise


def _apply_event(deps: Deps, kind: str, obj: Any) -> dict[str, Any]:
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        session = stripe_pay.session_of(obj)
        if session is None:
            log.warning("stripe event %s for a PaymentIntent not ours: %s", kind, obj.get("id"))
            return {"status": "ignored"}
        if obj.get("amount") != session.amount or str(obj.get("currency", "")).upper() != session.currency:
            log.warning("stripe event %s disagrees with session %s", kind, session.id)
            raise Invalid("payment_mismatch", {"amount": "mismatch"})
        if not session.provider_ref:
            providers.PaymentIntent.objects(id=session.id).update_one(set__provider_ref=obj.get("id"))
        if kind == "payment_intent.succeeded":
            return {"status": "applied" if apply_success(deps, session) else "duplicate", "payment_id": session.id}
        error = obj.get("last_payment_error") or {}
        settle(deps, session, {"status": "failed", "code": error.get("code") or "card_declined"})
        return {"status": "recorded", "payment_id": session.id}
    if kind == "charge.refunded":
        refunds = (obj.get("refunds") or {}).get("data") or []
        done = [_apply_refund(deps, r) for r in refunds if r.get("status") == "succeeded"]
        return {"status": "applied" if any(done) else "ignored"}
    if kind in ("refund.created", "refund.updated") and obj.get("status") == "succeeded":
        return {"status": "applied" if _apply_refund(deps, obj) else "ignored"}
    return {"status": "ignored"}


def _stripe_session_of(invoice_id: str) -> providers.PaymentIntent | None:
    """The Stripe payment that paid the invoice, if one did."""
    return providers.PaymentIntent.objects(provider="stripe", status="succeeded", invoice_ids=invoice_id).first()


def _refund_to_card(deps: Deps, view: InvoiceView, session: providers.PaymentIntent,
                    ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    if view.status != "paid":
        raise Conflict("invoice_not_refundable")
    refunded = stripe_pay.refund(session, view.paid_amount or view.total_gross, f"refund-{view.id}",
                                 {"invoice_id": view.id, "account_id": view.account_id})  # fmt: skip
    if refunded.status == "succeeded":
        _apply_refund(deps, {"id": refunded.id, "metadata": {"invoice_id": view.id, "account_id": view.account_id}},
                      ctx)  # fmt: skip
    return InvoiceView.objects(id=view.id).first().detail()


def refund_part_to_card(invoice_id: str, account_id: str, amount: int, key: str) -> str | None:
    """Give `amount` of the Stripe payment that paid the invoice back to the card (a withdrawal's unused
    part, issue #18), once per `key`: Stripe's refund id, or None when no Stripe payment paid it."""
    session = _stripe_session_of(invoice_id)
    if session is None:
        return None
    refunded = stripe_pay.refund(session, amount, key, {"invoice_id": invoice_id, "account_id": account_id,
                                                        "part": "withdrawal"})  # fmt: skip
    if refunded.status != "succeeded":
        raise Unavailable("card_refund_failed")
    return refunded.id


def _apply_refund(deps: Deps, refund_obj: dict[str, Any], ctx: dict | None = None) -> bool:
    """A Stripe refund of ours (its metadata names the invoice; the account is the invoice's) recorded
    once: the invoice refunded to the card. A part refunded (a withdrawal) is recorded by its own path."""
    if (refund_obj.get("metadata") or {}).get("part"):
        return False
    invoice_id = (refund_obj.get("metadata") or {}).get("invoice_id")
    view = InvoiceView.objects(id=invoice_id).first() if isinstance(invoice_id, str) else None
    if not view or not view.number:
        log.warning("stripe refund %s names no invoice of ours", refund_obj.get("id"))
        return False
    _, stored = execute(deps.events, Customer, customer_stream(view.account_id),
                        lambda c: c.refund(view.id, view.number, deps.now(), refund_id=refund_obj["id"]),
                        command_meta(ctx or STRIPE_CTX), retries=CONFLICT_RETRIES)  # fmt: skip
    return bool(stored)


def add_funds(account_id: str, amount: Any, return_url: str | None) -> dict[str, Any]:
    """Add money to credit by card: a payment session for no invoice (all of it becomes credit)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or not TOP_UP_MIN <= amount <= TOP_UP_MAX:
        raise Invalid("invalid_input", {"amount": "invalid_amount"})
    if not stripe_pay.enabled():
        raise CommandError("card_payments_unavailable")
    request = providers.PaymentRequest(account_id, [], amount, [], return_url)
    return registry.provider("card").start(request)


# --------------------------------------------------------------------------- the money ledger
LEDGER_EVENTS = ("payment_received", "credit_added", "credit_used", "invoice_refunded", "service_withdrawn")
REFUNDS_TO_CREDIT = ("refund", "withdrawal", "plan_change", "cancellation")  # credit_added reasons giving money back


def ledger(deps: Deps, account_id: str) -> dict[str, Any]:
    """Every payment, refund and credit movement of the account, newest first: date, kind, method,
    amount (grosze; negative where money left the account or its credit), invoice numbers, and the
    credit balance after it where it changed."""
    numbers: dict[str, str] = {}
    entries = []
    for event in deps.events.load(customer_stream(account_id)):
        if event.type not in LEDGER_EVENTS or (event.type == "invoice_refunded" and event.data.get("method") != "card"):
            continue  # a refund to credit is listed once, as the credit it added
        if event.type == "service_withdrawn":  # its parts refunded to a card, against their corrections
            for part in _withdrawal_card_parts(event.data):
                numbers.update(invoices.numbers([part["invoice_id"]]))
                entries.append(_ledger_entry("invoice_refunded", {**part, "currency": event.data["currency"]},
                                             event.occurred_at, [numbers.get(part["invoice_id"])]))  # fmt: skip
            continue
        d = event.data
        invoice_ids = d.get("invoice_ids") or ([d["invoice_id"]] if d.get("invoice_id") else [])
        numbers.update(invoices.numbers([i for i in invoice_ids if i not in numbers]))
        entries.append(_ledger_entry(event.type, d, event.occurred_at, [numbers.get(i) for i in invoice_ids]))
    entries.reverse()
    return {"entries": entries, **credit(account_id)}


def _withdrawal_card_parts(d: dict[str, Any]) -> list[dict[str, Any]]:
    """A withdrawal's parts refunded to a card: {invoice_id (the correction), amount}."""
    parts = d.get("refunds")
    if parts is None:  # recorded before it had parts: one, by its method
        parts = [{"correction_id": d["correction_id"], "amount": d["refund"], "method": d["refund_method"]}]
    return [{"invoice_id": p["correction_id"], "amount": p["amount"]} for p in parts
            if p["method"] == "card" and p["amount"]]  # fmt: skip


def _ledger_entry(kind: str, d: dict[str, Any], when: Any, numbers: list[str | None]) -> dict[str, Any]:
    amount = d["amount"]
    method = {"payment_received": d.get("method"), "invoice_refunded": "card"}.get(kind, "credit")
    if kind == "credit_added":
        reason = d.get("reason")
        kind = (
            "refund_to_credit"
            if reason in REFUNDS_TO_CREDIT
            else {"top_up": "top_up", "overpayment": "overpayment"}.get(reason, "credit_added")
        )
    elif kind == "invoice_refunded":
        kind, amount = "refund", -amount
    elif kind == "credit_used":
        amount = -amount
    return {"date": str(when)[:19] + "Z", "kind": kind, "method": method, "amount": amount,
            "currency": d.get("currency", CURRENCY), "invoices": [n for n in numbers if n],
            "balance": d.get("balance")}  # fmt: skip
