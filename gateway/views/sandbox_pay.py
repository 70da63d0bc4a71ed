"""The sandbox card provider's own small area, and the public webhook endpoint.

* `/sandbox-pay/<payment_id>`: the provider's hosted payment page (amount, "Zapłać" /
  "Odrzuć"). Choosing settles the session in billing, which then posts the signed webhook
  to us like a real provider would, and the person is sent to the panel's return URL.
* `POST /payments/sandbox/webhook`: no login and no CSRF token (the provider is not a
  browser session); billing.handle_webhook verifies the signature and its time, and
  applies the payment session billing stored (never the body's figures) once, however
  often it arrives; a body that disagrees with the session is refused with a 4xx.

Outside development (PANEL_ENV) with the built-in webhook secret, all of it answers 404:
the sandbox provider does not exist there (billing refuses to start too).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, render_template, request

from gateway import clients
from gateway.auth import check_csrf
from gateway.errors import error_response, status_of
from kernel.errors import CommandError, NotFound
from kernel.settings import sandbox_refusal

blueprint = Blueprint("sandbox", __name__)


@blueprint.before_request
def sandbox_allowed():
    if sandbox_refusal():
        abort(404)


def _payment(payment_id: str) -> dict:
    try:
        return clients.billing.sandbox_get_payment(payment_id=payment_id)
    except NotFound:
        abort(404)


@blueprint.get("/sandbox-pay/<payment_id>")
def sandbox_page(payment_id: str):
    return render_template("billing/sandbox_pay.html", payment=_payment(payment_id))


@blueprint.post("/sandbox-pay/<payment_id>")
def sandbox_decide(payment_id: str):
    check_csrf()
    _payment(payment_id)
    outcome = "success" if request.form.get("outcome") == "success" else "failure"
    try:
        result = clients.billing.sandbox_complete(payment_id=payment_id, outcome=outcome)
    except CommandError as exc:
        if exc.code == "payment_expired":  # too late to pay this session: the page says so
            return render_template("billing/sandbox_pay.html", payment=_payment(payment_id)), 409
        abort(404)
    back = result.get("return_url")
    if not back:
        return render_template("billing/sandbox_pay.html", payment=_payment(payment_id))
    separator = "&" if "?" in back else "?"
    return redirect(f"{back}{separator}{urlencode({'payment_id': payment_id})}")


@blueprint.post("/payments/sandbox/webhook")
def sandbox_webhook():
    body = request.get_data(as_text=True)
    signature = request.headers.get("X-Sandbox-Signature", "")
    try:
        result = clients.billing.handle_webhook(body=body, signature=signature)
    except CommandError as exc:  # refused: which field disagrees with the stored session, if any
        return error_response(status_of(exc), exc.code, exc.fields)
    except NotFound as exc:
        return error_response(404, exc.code)
    return jsonify(result)
