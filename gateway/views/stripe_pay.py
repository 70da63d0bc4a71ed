"""Paying through Stripe (issue #15): the payment page, saved cards, the money ledger, and Stripe's webhook.

* `/pay/<payment_id>`: the payment page of a session billing opened. A card is typed into Stripe.js
  (Stripe's own, or the stand-in a localstripe serves), which gives it to a SetupIntent; the form
  then posts the SetupIntent (or a saved card) here and billing confirms the payment. When the bank
  asks for 3-D Secure, the page comes back with the PaymentIntent's client secret and Stripe.js
  finishes it; `/pay/<payment_id>/return` then records what Stripe says and shows the return page
  (paid, or what failed and a retry). BLIK and Przelewy24 are confirmed by Stripe.js alone.
* `/billing/cards`: saved cards (brand, last four, expiry), the default, removing, adding one, and
  the auto-renew switch of each service; `/billing/ledger`: every payment, refund and credit
  movement, and adding funds by card. Their JSON twins are under /api/v1/billing/.
* `POST /payments/stripe/webhook`: no login, no CSRF (Stripe is not a browser session); billing
  checks `Stripe-Signature` with the SDK and applies each event once, with our session's figures.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from gateway import clients, i18n, inputs, permissions, schemas
from gateway.auth import page_login_required
from gateway.errors import error_response, status_of
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.views.api import api, token_required
from gateway.views.pages import pages
from kernel import settings
from kernel.errors import CommandError, NotFound

blueprint = Blueprint("stripe_hooks", __name__)
STRIPE_ORIGINS = "https://js.stripe.com https://api.stripe.com https://hooks.stripe.com"


@blueprint.app_template_global()
def method_label(method: str) -> str:
    """A payment method's name on the pages (a template global, so imported macros see it too): the
    card is Stripe's with PAYMENT_PROVIDER=stripe, else the sandbox's."""
    stripe = os.environ.get("PAYMENT_PROVIDER", "").strip() == "stripe"
    return i18n.t("billing_pay_method_card" if stripe and method == "card" else f"billing_method_{method}")


def _me() -> str:
    g.language = g.account.get("language") or g.language
    return g.account["account_id"]


def _stripe_origin() -> str:
    base = os.environ.get("STRIPE_API_BASE", "").strip()
    if not base:
        return STRIPE_ORIGINS
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def _with_stripe_js(page: str, status: int = 200):
    """A page that loads Stripe.js: the content security policy lets Stripe (or its stand-in) in."""
    origin = _stripe_origin()
    policy = (f"default-src 'self'; script-src 'self' {origin}; connect-src 'self' {origin}; frame-src {origin}; "
              "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")  # fmt: skip
    return page, status, {"Content-Security-Policy": policy}


def _page(payment_id: str) -> dict[str, Any]:
    try:
        return clients.billing.stripe_payment_page(account_id=_me(), payment_id=payment_id,
                                                   email=g.account.get("email"))  # fmt: skip
    except NotFound:
        abort(404)


# --- the payment page ----------------------------------------------------------------------
@pages.get("/pay/<payment_id>")
@page_login_required
def stripe_pay_page(payment_id: str):
    payment = _page(payment_id)
    if payment["status"] != "created":
        return redirect(url_for("pages.stripe_pay_return", payment_id=payment_id))
    return _with_stripe_js(render_template("billing/cards_pay.html", payment=payment, action_secret=None))


@pages.post("/pay/<payment_id>")
@page_login_required
def stripe_pay_confirm(payment_id: str):
    form = request.form
    try:
        result = clients.billing.stripe_confirm(
            account_id=_me(), payment_id=payment_id, payment_method_id=form.get("payment_method_id") or None,
            setup_intent_id=form.get("setup_intent_id") or None, save_card=form.get("save_card") == "yes")  # fmt: skip
    except NotFound:
        abort(404)
    except CommandError as exc:
        flash(i18n.t("billing_payment_failed", reason=i18n.t(exc.code)), "error")
        return redirect(url_for("pages.stripe_pay_return", payment_id=payment_id))
    if result["status"] == "requires_action":  # 3-D Secure: Stripe.js finishes it on this page
        page = render_template("billing/cards_pay.html", payment=_page(payment_id),
                               action_secret=result["client_secret"])  # fmt: skip
        return _with_stripe_js(page)
    return redirect(url_for("pages.stripe_pay_return", payment_id=payment_id))


@pages.get("/pay/<payment_id>/return")
@page_login_required
def stripe_pay_return(payment_id: str):
    """Back from Stripe.js: billing records what Stripe says; the return page shows it (and a retry)."""
    try:
        payment = clients.billing.stripe_return(account_id=_me(), payment_id=payment_id)
    except NotFound:
        abort(404)
    back = payment.get("return_url") or f"{settings.PUBLIC_URL}{url_for('pages.billing_payment_return')}"
    separator = "&" if "?" in back else "?"
    return redirect(f"{back}{separator}{urlencode({'payment_id': payment_id})}")


# --- saved cards and auto-renew ------------------------------------------------------------
@pages.get("/billing/cards")
@page_login_required
def billing_cards():
    account_id = _me()
    cards = clients.billing.list_cards(account_id=account_id)
    setup = clients.billing.start_card_setup(account_id=account_id, email=g.account.get("email"))
    try:  # the auto-renew switches: for whom may look after services
        live = clients.billing.list_services(account_id=account_id)["items"]
    except permissions.Forbidden:
        live = []
    services = [s for s in live if s["status"] in ("active", "suspended")]
    page = render_template("billing/cards.html", cards=cards["cards"], setup=setup, services=services)
    return _with_stripe_js(page)


def _card_action(action, **arguments: Any):
    try:
        action(account_id=_me(), **arguments)
        flash(i18n.t("billing_cards_saved"), "success")
    except NotFound:
        abort(404)
    except CommandError as exc:
        flash(i18n.t(exc.code), "error")
    return redirect(url_for("pages.billing_cards"))


@pages.post("/billing/cards")
@page_login_required
def billing_cards_add():
    return _card_action(clients.billing.save_card, setup_intent_id=request.form.get("setup_intent_id", ""),
                        make_default=request.form.get("make_default") == "yes")  # fmt: skip


@pages.post("/billing/cards/<payment_method_id>/default")
@page_login_required
def billing_cards_default(payment_method_id: str):
    return _card_action(clients.billing.set_default_card, payment_method_id=payment_method_id)


@pages.post("/billing/cards/<payment_method_id>/remove")
@page_login_required
def billing_cards_remove(payment_method_id: str):
    return _card_action(clients.billing.remove_card, payment_method_id=payment_method_id)


@pages.post("/services/<service_id>/auto-renew")
@page_login_required
def billing_service_auto_renew(service_id: str):
    on = request.form.get("auto_renew") == "yes"
    try:
        clients.billing.set_auto_renew(account_id=_me(), service_id=service_id, auto_renew=on)
    except NotFound:
        abort(404)
    flash(i18n.t("billing_auto_renew_on" if on else "billing_auto_renew_off"), "success")
    if request.form.get("next") == "service":
        return redirect(url_for("pages.billing_service", service_id=service_id))
    return redirect(url_for("pages.billing_cards"))


# --- the money ledger ----------------------------------------------------------------------
@pages.get("/billing/ledger")
@page_login_required
def billing_ledger():
    ledger = clients.billing.get_ledger(account_id=_me())
    return render_template("billing/ledger.html", ledger=ledger, errors={})


@pages.post("/billing/ledger/add-funds")
@page_login_required
def billing_ledger_add_funds():
    zloty = inputs.form_int("amount", minimum=10, maximum=100_000)
    back = f"{settings.PUBLIC_URL}{url_for('pages.billing_ledger')}"
    try:
        started = clients.billing.add_funds(account_id=_me(), amount=(zloty or 0) * 100, return_url=back)
    except CommandError as exc:
        ledger = clients.billing.get_ledger(account_id=_me())
        fields = {k: i18n.t(v) for k, v in (exc.fields or {"amount": exc.code}).items()}
        return render_template("billing/ledger.html", ledger=ledger, errors=fields), status_of(exc)
    return redirect(started["redirect_url"])


# --- the JSON API --------------------------------------------------------------------------
def _api_call(action, **arguments: Any):
    return jsonify(action(account_id=g.account["account_id"], **arguments))


@api.get("/billing/cards")
@token_required
def api_cards():
    return _api_call(clients.billing.list_cards)


@api.post("/billing/cards/setup")
@token_required
def api_card_setup():
    return _api_call(clients.billing.start_card_setup, email=g.account.get("email"))


@api.post("/billing/cards")
@token_required
def api_card_save():
    data = inputs.json_model(schemas.SaveCard)
    return _api_call(clients.billing.save_card, **data)


@api.post("/billing/cards/<payment_method_id>/default")
@token_required
def api_card_default(payment_method_id: str):
    return _api_call(clients.billing.set_default_card, payment_method_id=payment_method_id)


@api.delete("/billing/cards/<payment_method_id>")
@token_required
def api_card_remove(payment_method_id: str):
    return _api_call(clients.billing.remove_card, payment_method_id=payment_method_id)


@api.post("/services/<service_id>/auto-renew")
@token_required
def api_auto_renew(service_id: str):
    data = inputs.json_model(schemas.AutoRenew)
    return _api_call(clients.billing.set_auto_renew, service_id=service_id, **data)


@api.get("/billing/ledger")
@token_required
def api_ledger():
    return _api_call(clients.billing.get_ledger)


@api.post("/billing/ledger/add-funds")
@token_required
def api_add_funds():
    data = inputs.json_model(schemas.AddFunds)  # back to the panel's return page (no address from outside)
    return _api_call(clients.billing.add_funds, **data)


# --- Stripe's webhook ----------------------------------------------------------------------
@blueprint.post("/payments/stripe/webhook")
def stripe_webhook():
    body = request.get_data(as_text=True)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        return jsonify(clients.billing.handle_stripe_webhook(body=body, signature=signature))
    except CommandError as exc:  # refused (signature, a figure that disagrees with our session)
        return error_response(status_of(exc), exc.code, exc.fields)


_CARDS = _obj("cards", cards={"type": "array"}, default_payment_method={"type": ["string", "null"]})
PATHS["/billing/cards"] = {
    "get": _op("Saved cards (brand, last4, exp_month, exp_year, default)", "200", _CARDS, errors=("503",)),
    "post": _op("Save the card a SetupIntent collected", "200", request=schemas.SaveCard,
                errors=("400", "404", "409", "422", "503")),
}  # fmt: skip
PATHS["/billing/cards/setup"] = {
    "post": _op("A SetupIntent for Stripe.js to collect a card: client_secret, publishable_key, js_url", "200",
                _obj("setup_intent_id", "client_secret", setup_intent_id=STRING, client_secret=STRING),
                errors=("409", "503"))
}  # fmt: skip
PATHS["/billing/cards/{payment_method_id}/default"] = {
    "post": _op("Make a saved card the default (charged for auto-renewals)", "200", _CARDS, errors=("404", "503"))
}
PATHS["/billing/cards/{payment_method_id}"] = {"delete": _op("Remove a saved card", "200", _CARDS,
                                                             errors=("404", "503"))}  # fmt: skip
PATHS["/services/{service_id}/auto-renew"] = {
    "post": _op("Switch a service's auto-renew", "200", request=schemas.AutoRenew, errors=("400", "404", "422", "503"))
}
PATHS["/billing/ledger"] = {
    "get": _op("Every payment, refund and credit movement, newest first, and the credit", "200",
               _obj("entries", entries={"type": "array"}, credit={"type": "integer"}), errors=("503",))
}  # fmt: skip
PATHS["/billing/ledger/add-funds"] = {
    "post": _op("Add funds to credit by card: the payment page to go to", "200",
                _obj("redirect_url", redirect_url=STRING), request=schemas.AddFunds, errors=("400", "422", "503"))
}  # fmt: skip
