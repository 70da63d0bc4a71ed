"""Billing pages for people: order, cart and checkout, payment return, invoices, services, renewals.

Every call is scoped to the logged-in account; another account's id gives the 404 page.
CSRF is checked for every POST by the `pages` blueprint.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for

from gateway import clients, i18n, inputs, permissions, rpc, schemas
from gateway.auth import page_login_required
from gateway.errors import field_messages, status_of
from gateway.openapi import PATHS, _op
from gateway.views import hosting_pages, invoice_docs
from gateway.views.api import api, token_required
from gateway.views.billing_api import pdf_response
from gateway.views.pages import pages
from kernel import settings
from kernel.errors import CommandError, Invalid, NotFound

P = ParamSpec("P")
R = TypeVar("R")
PAYMENT_METHODS = ("card", "bank_transfer", "credit")
if os.environ.get("PAYMENT_PROVIDER", "").strip() == "stripe":  # Stripe adds BLIK and Przelewy24 (issue #15)
    PAYMENT_METHODS = ("card", "blik", "p24", "bank_transfer", "credit")
INVOICE_STATUSES = ("unpaid", "paid", "cancelled", "refunded")
SERVICE_STATUSES = ("pending", "active", "suspended", "terminated", "cancelled")
PER_PAGE = 20


def _me() -> str:
    g.language = g.account.get("language") or g.language
    return g.account["account_id"]


def _read(query: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """A billing query whose NotFound (missing or someone else's) is the 404 page."""
    try:
        return query(*args, **kwargs)
    except NotFound:
        abort(404)


def _parallel(*pending: rpc.PendingCall) -> list[Any]:
    """The answers of several queries sent at once (clients.start), in the same order."""
    return [call.result() for call in pending]


def _return_url() -> str:
    return f"{settings.PUBLIC_URL}{url_for('pages.billing_payment_return')}"


def _after_payment(payment: dict[str, Any], invoice_ids: list[str]):
    """Where a started payment sends the person: the card provider's page, the return page,
    or the invoice (paid from credit, or waiting for a transfer)."""
    status = payment.get("status")
    target = url_for("pages.billing_invoice", invoice_id=invoice_ids[0]) if len(invoice_ids) == 1 else None
    target = target or url_for("pages.billing_invoices")
    if status == "redirect":
        return redirect(payment["redirect_url"])
    if payment.get("payment_id") and status in ("succeeded", "failed"):
        return redirect(url_for("pages.billing_payment_return", payment_id=payment["payment_id"]))
    if status == "failed":
        flash(i18n.t("billing_payment_failed", reason=i18n.t(payment.get("code", "internal_error"))), "error")
    elif status == "paid":
        flash(i18n.t("billing_paid_from_credit"), "success")
    elif status == "pending":
        flash(i18n.t("billing_transfer_ordered"), "info")
    return redirect(target)


def _error_flash(exc: CommandError) -> None:
    details = " ".join(field_messages(exc.fields).values())
    flash(f"{i18n.t(exc.code)} {details}".strip(), "error")


# --- order --------------------------------------------------------------------
@pages.get("/order")
@page_login_required
def billing_order():
    _me()
    return render_template("billing/order.html", catalog=clients.billing.get_catalog(language=g.language))


def _plan(code: str) -> dict[str, Any]:
    plan = next((p for p in clients.billing.get_catalog(language=g.language)["plans"] if p["code"] == code), None)
    if not plan:
        abort(404)
    return plan


@pages.route("/order/<plan_code>", methods=["GET", "POST"])
@page_login_required
def billing_plan(plan_code: str):
    account_id = _me()
    plan = _plan(plan_code)
    if request.method == "GET":
        form = {"cycle": request.args.get("cycle") or plan["cycles"][0]["cycle"], "domain": ""}
        return render_template("billing/plan.html", plan=plan, form=form, errors={})
    form = {"cycle": request.form.get("cycle", ""), "domain": request.form.get("domain", "")}
    try:
        clients.billing.add_cart_item(account_id=account_id, kind="hosting", params={"plan": plan_code, **form})
    except CommandError as exc:
        return render_template("billing/plan.html", plan=plan, form=form, errors=field_messages(exc.fields),
                               error=i18n.t(exc.code)), status_of(exc)  # fmt: skip
    flash(i18n.t("billing_added_to_cart"), "success")
    return redirect(url_for("pages.billing_cart"))


# --- cart and checkout ----------------------------------------------------------
def _render_cart(account_id: str, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 error: str | None = None, status: int = 200):  # fmt: skip
    cart, catalog, credit = _parallel(
        clients.start(clients.billing.get_cart, account_id=account_id),
        clients.start(clients.billing.get_catalog, language=g.language),
        clients.start(clients.billing.get_credit, account_id=account_id),
    )
    plans = {p["code"]: p for p in catalog["plans"]}
    form = {"payment_method": "card", "idempotency_key": uuid.uuid4().hex,
            "discount_code": cart.get("discount_code") or "", **(form or {})}  # fmt: skip
    return render_template("billing/cart.html", cart=cart, plans=plans, credit=credit["credit"], form=form,
                           errors=errors or {}, error=error, methods=PAYMENT_METHODS), status  # fmt: skip


@pages.get("/cart")
@page_login_required
def billing_cart():
    return _render_cart(_me())


@pages.post("/cart/items/<item_id>/cycle")
@page_login_required
def billing_cart_cycle(item_id: str):
    account_id = _me()
    try:
        clients.billing.update_cart_item(account_id=account_id, item_id=item_id, cycle=request.form.get("cycle", ""))
        flash(i18n.t("billing_cycle_changed"), "success")
    except CommandError as exc:
        _error_flash(exc)
    except NotFound:
        abort(404)
    return redirect(url_for("pages.billing_cart"))


@pages.post("/cart/items/<item_id>/remove")
@page_login_required
def billing_cart_remove(item_id: str):
    account_id = _me()
    try:
        clients.billing.remove_cart_item(account_id=account_id, item_id=item_id)
    except NotFound:
        abort(404)
    flash(i18n.t("billing_removed"), "success")
    return redirect(url_for("pages.billing_cart"))


@pages.post("/cart/discount")
@page_login_required
def billing_cart_discount():
    account_id = _me()
    code = request.form.get("discount_code", "")
    if "remove" in request.form:
        code = ""
    try:
        clients.billing.apply_discount_code(account_id=account_id, code=code)
    except CommandError as exc:
        return _render_cart(account_id, {"discount_code": code}, field_messages(exc.fields), i18n.t(exc.code), 422)
    flash(i18n.t("billing_discount_applied" if code.strip() else "billing_discount_removed"), "success")
    return redirect(url_for("pages.billing_cart"))


@pages.post("/cart/checkout")
@page_login_required
def billing_checkout():
    account_id = _me()
    form = {k: request.form.get(k, "") for k in ("payment_method", "idempotency_key")}
    try:
        result = clients.billing.checkout(account_id=account_id, payment_method=form["payment_method"], idempotency_key=form["idempotency_key"], return_url=_return_url())  # fmt: skip
    except CommandError as exc:
        return _render_cart(account_id, form, field_messages(exc.fields), i18n.t(exc.code), status_of(exc))
    return _after_payment(result["payment"], result["invoice_ids"])


@pages.get("/payments/return")
@page_login_required
def billing_payment_return():
    """Where the card provider sends the person back; waits (by reloading) for the webhook."""
    payment = _read(clients.billing.get_payment, account_id=_me(), payment_id=request.args.get("payment_id", ""))
    waiting = payment["status"] != "failed" and not payment["all_paid"]
    page = render_template("billing/payment_return.html", payment=payment, waiting=waiting)
    return page, 200, ({"Refresh": "2"} if waiting else {})  # browsers reload it, no script needed


# --- invoices ---------------------------------------------------------------------
def _page_url(page: int) -> str:
    """A list's (invoices, services) link to another page, keeping the filter."""
    kept = {k: request.args.get(k) for k in ("status", "per_page")}
    return "?" + urlencode({k: v for k, v in {**kept, "page": page}.items() if v})


@pages.get("/invoices")
@page_login_required
def billing_invoices():
    account_id = _me()
    status = request.args.get("status") or None
    if status not in (None, *INVOICE_STATUSES):
        status = None
    page, per_page = inputs.page_args(PER_PAGE)
    listed, unpaid, credit = _parallel(
        clients.start(
            clients.billing.list_invoices, account_id=account_id, status=status, page=page, per_page=per_page
        ),
        clients.start(clients.billing.list_invoices, account_id=account_id, status="unpaid", page=1, per_page=100),
        clients.start(clients.billing.get_credit, account_id=account_id),
    )
    return render_template(
        "billing/invoices.html",
        listed=listed,
        status=status,
        statuses=INVOICE_STATUSES,
        unpaid=unpaid,
        credit=credit["credit"],
        methods=PAYMENT_METHODS,
        page_url=_page_url,
    )


@pages.post("/invoices/pay-all")
@page_login_required
def billing_pay_all():
    account_id = _me()
    try:
        result = clients.billing.pay_all_unpaid(account_id=account_id, payment_method=request.form.get("payment_method", ""), return_url=_return_url())  # fmt: skip
    except CommandError as exc:
        _error_flash(exc)
        return redirect(url_for("pages.billing_invoices", status="unpaid"))
    return _after_payment(result, result.get("invoice_ids") or [])


@pages.get("/invoices/<invoice_id>")
@page_login_required
def billing_invoice(invoice_id: str):
    account_id = _me()
    invoice = _read(clients.billing.get_invoice, account_id=account_id, invoice_id=invoice_id)
    credit = clients.billing.get_credit(account_id=account_id)["credit"]
    return render_template("billing/invoice.html", invoice=invoice, credit=credit, methods=PAYMENT_METHODS,
                           **invoice_docs.page_extras(invoice))  # fmt: skip


@pages.post("/invoices/<invoice_id>/pay")
@page_login_required
def billing_pay_invoice(invoice_id: str):
    account_id = _me()
    try:
        payment = clients.billing.pay_invoice(account_id=account_id, invoice_id=invoice_id, payment_method=request.form.get("payment_method", ""), return_url=_return_url())  # fmt: skip
    except NotFound:
        abort(404)
    except CommandError as exc:
        _error_flash(exc)
        return redirect(url_for("pages.billing_invoice", invoice_id=invoice_id))
    return _after_payment(payment, [invoice_id])


@pages.get("/invoices/<invoice_id>/pdf")
@page_login_required
def billing_invoice_pdf(invoice_id: str):
    return pdf_response(_read(clients.billing.invoice_pdf, account_id=_me(), invoice_id=invoice_id))


# --- services ---------------------------------------------------------------------
@pages.get("/services")
@page_login_required
def billing_services():
    status = request.args.get("status") or None
    if status not in (None, *SERVICE_STATUSES):
        status = None
    page, per_page = inputs.page_args(PER_PAGE)
    listed = clients.billing.list_services(account_id=_me(), status=status, page=page, per_page=per_page)
    return render_template("billing/services.html", listed=listed, status=status, statuses=SERVICE_STATUSES,
                           page_url=_page_url)  # fmt: skip


@pages.get("/services/<service_id>")
@page_login_required
def billing_service(service_id: str):
    service = _read(clients.billing.get_service, account_id=_me(), service_id=service_id)
    return render_template("billing/service.html", service=service, form={"when": "end_of_period"}, errors={},
                           hosting=hosting_pages.access(service))  # fmt: skip


@pages.post("/services/<service_id>/cancel")
@page_login_required
def billing_service_cancel(service_id: str):
    form = {"when": request.form.get("when", ""), "confirm": "confirm" in request.form}
    done = "billing_cancelled_now" if form["when"] == "immediate" else "billing_cancel_requested"
    return _service_action(service_id, form, done, clients.billing.request_cancellation, when=form["when"])


@pages.post("/services/<service_id>/plan")
@page_login_required
def billing_service_plan(service_id: str):
    """Another plan: an upgrade's prorated invoice to pay (the plan changes when it is paid), a downgrade's
    difference credited at once; the amounts are on the page before this is confirmed."""
    form = {"plan": request.form.get("plan", ""), "confirm": "plan_confirm" in request.form, "when": "end_of_period"}
    changed = _service_call(service_id, form, "plan_confirm", clients.billing.change_service_plan, plan=form["plan"])
    if not isinstance(changed, dict):
        return changed
    if changed["invoice"]:
        flash(i18n.t("billing_plan_upgrade_invoiced", amount=i18n.money(changed["invoice"]["total_gross"])), "success")
        return redirect(url_for("pages.billing_invoice", invoice_id=changed["invoice"]["invoice_id"]))
    flash(i18n.t("billing_plan_downgraded", amount=i18n.money(changed["change"]["gross"])), "success")
    return redirect(url_for("pages.billing_service", service_id=service_id))


@pages.get("/services/<service_id>/withdraw")
@page_login_required
def billing_service_withdraw_confirm(service_id: str):
    """The withdrawal's confirmation step: what comes back and how, then one button."""
    service = _read(clients.billing.get_service, account_id=_me(), service_id=service_id)
    return render_template("billing/withdraw.html", service=service, errors={})


@pages.post("/services/<service_id>/withdraw")
@page_login_required
def billing_service_withdraw(service_id: str):
    try:
        if "confirm" not in request.form:
            raise Invalid("invalid_input", {"confirm": "billing_withdraw_confirm_required"})
        done = clients.billing.withdraw_from_service(account_id=_me(), service_id=service_id, confirm=True)
    except NotFound:
        abort(404)
    except CommandError as exc:
        service = _read(clients.billing.get_service, account_id=_me(), service_id=service_id)
        return render_template("billing/withdraw.html", service=service, errors=field_messages(exc.fields),
                               error=i18n.t(exc.code)), status_of(exc)  # fmt: skip
    flash(_withdrawn_message(done), "success")
    return redirect(url_for("pages.billing_service", service_id=service_id))


def _withdrawn_message(done: dict[str, Any]) -> str:
    """What the withdrawal did: its correcting invoice(s) and where the money went (card, credit or both)."""
    corrections = done.get("corrections") or [done["correction"]]
    if len(corrections) == 1:
        key = "billing_withdrawn_card" if done.get("refund_method") == "card" else "billing_withdrawn"
        return i18n.t(key, number=corrections[0]["number"], amount=i18n.money(done["refund"]))
    by_method = {m: sum(r["amount"] for r in done.get("refunds") or [] if r["method"] == m) for m in ("card", "credit")}
    if by_method["card"] and by_method["credit"]:
        where = i18n.t("billing_withdrawn_to_both", card=i18n.money(by_method["card"]),
                       credit=i18n.money(by_method["credit"]))  # fmt: skip
    else:
        where = i18n.t("billing_withdrawn_to_card" if by_method["card"] else "billing_withdrawn_to_credit")
    numbers = ", ".join(c["number"] for c in corrections)
    return i18n.t("billing_withdrawn_many", numbers=numbers, amount=i18n.money(done["refund"]), where=where)


# What an unticked confirmation box says, by the action: cancelling, changing the plan.
CONFIRM_REQUIRED = {"confirm": "billing_confirm_required", "plan_confirm": "billing_plan_confirm_required"}


def _service_call(service_id: str, form: dict[str, Any], confirm_field: str, call: Callable[..., Any],
                  **arguments: Any) -> Any:  # fmt: skip
    """The call's answer, or the service page again with the errors (the confirmation box unticked)."""
    account_id = _me()
    try:
        if not form["confirm"]:
            raise Invalid("invalid_input", {confirm_field: CONFIRM_REQUIRED[confirm_field]})
        return call(account_id=account_id, service_id=service_id, **arguments)
    except NotFound:
        abort(404)
    except CommandError as exc:
        service = _read(clients.billing.get_service, account_id=account_id, service_id=service_id)
        return render_template("billing/service.html", service=service, form=form, errors=field_messages(exc.fields),
                               error=i18n.t(exc.code), hosting=hosting_pages.access(service)), status_of(exc)  # fmt: skip


def _service_action(service_id: str, form: dict[str, Any], done: str, call: Callable[..., Any], **arguments: Any):
    answer = _service_call(service_id, form, "confirm", call, **arguments)
    if not isinstance(answer, dict):
        return answer
    flash(i18n.t(done), "success")
    return redirect(url_for("pages.billing_service", service_id=service_id))


@api.post("/services/<service_id>/plan")
@token_required
def api_service_plan(service_id: str):
    """Change the service's plan (body: plan): an upgrade answers with its invoice, a downgrade with none."""
    plan = inputs.json_model(schemas.PlanChange)["plan"]
    return jsonify(clients.billing.change_service_plan(account_id=g.account["account_id"], service_id=service_id,
                                                       plan=plan))  # fmt: skip


@api.post("/services/<service_id>/withdraw")
@token_required
def api_service_withdraw(service_id: str):
    """A consumer's withdrawal within 14 days (body: confirm true): the correction and the refund."""
    confirm = inputs.json_model(schemas.Withdrawal)["confirm"]
    return jsonify(clients.billing.withdraw_from_service(account_id=g.account["account_id"], service_id=service_id,
                                                         confirm=confirm))  # fmt: skip


PATHS["/services/{service_id}/plan"] = {
    "post": _op("Change a service's plan (body: plan): the prorated difference for the rest of the period is "
                "invoiced (upgrade, effective when paid) or credited through a correcting invoice (downgrade, "
                "at once)", "200",
                request=schemas.PlanChange, errors=("400", "404", "409", "422", "503"))
}  # fmt: skip
PATHS["/services/{service_id}/withdraw"] = {
    "post": _op("A consumer withdraws from the contract within 14 days of the order (body: confirm true): "
                "everything paid for the service (order, upgrades, renewals) less credits already given and "
                "the days used comes back, one correcting invoice per paid invoice (`corrections`, `refunds` "
                "with each part's method: card or credit; `refund` the total, `refund_method` card, credit "
                "or mixed)", "200", request=schemas.Withdrawal,
                errors=("400", "404", "409", "422", "503"))
}  # fmt: skip


# --- renewals ---------------------------------------------------------------------
@pages.get("/renewals")
@page_login_required
def billing_renewals():
    renewals = clients.billing.list_renewals(account_id=_me())
    renewals["items"] = permissions.visible_renewals(g.account, renewals["items"])
    return render_template("billing/renewals.html", renewals=renewals)


@pages.post("/renewals/<service_id>/add")
@page_login_required
def billing_renewal_add(service_id: str):
    return _add_renewal("hosting_renewal", {"service_id": service_id})


@pages.post("/renewals/domains/<domain_id>/add")
@page_login_required
def billing_domain_renewal_add(domain_id: str):
    """The domain's renewal invoice, already issued, goes to the cart (paid by the standard checkout)."""
    return _add_renewal("domain_renewal", {"domain_id": domain_id})


def _add_renewal(kind: str, params: dict[str, str]):
    account_id = _me()
    try:
        clients.billing.add_cart_item(account_id=account_id, kind=kind, params=params)
    except NotFound:
        abort(404)
    except CommandError as exc:
        _error_flash(exc)
        return redirect(url_for("pages.billing_renewals"))
    flash(i18n.t("billing_added_to_cart"), "success")
    return redirect(url_for("pages.billing_cart"))
