"""Billing under /api/v1: catalogue, cart, checkout, invoices, services, renewals.

Every call is scoped to the logged-in account (`g.account["account_id"]`); the
client never names an account.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, g, jsonify, request

from gateway import clients, inputs, permissions, rpc
from gateway.errors import ApiError
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.views.api import api, body, token_required

INVOICE_STATUSES = ("unpaid", "paid", "cancelled", "refunded")


def _account_id() -> str:
    return g.account["account_id"]


# --- catalogue and cart -----------------------------------------------------
@api.get("/catalog")
@token_required
def get_catalog():
    return jsonify(clients.billing.get_catalog(language=g.language))


@api.get("/cart/items")
@token_required
def get_cart():
    return jsonify(clients.billing.get_cart(account_id=_account_id()))


@api.post("/cart/items")
@token_required
def add_cart_item():
    data = body("kind", optional=("params",), types={"params": inputs.CartParams})
    params = data.get("params") or {}
    cart = clients.billing.add_cart_item(account_id=_account_id(), kind=data["kind"], params=params)
    return jsonify(cart), 201


@api.delete("/cart/items/<item_id>")
@token_required
def remove_cart_item(item_id: str):
    return jsonify(clients.billing.remove_cart_item(account_id=_account_id(), item_id=item_id))


@api.post("/cart/checkout")
@token_required
def checkout():
    data = body("payment_method", optional=("idempotency_key",))
    key = request.headers.get("Idempotency-Key") or data.get("idempotency_key")
    if not key:
        raise ApiError(422, "invalid_input", {"idempotency_key": "required"})
    result = clients.billing.checkout(
        account_id=_account_id(), payment_method=data["payment_method"], idempotency_key=key
    )
    return jsonify({"order_id": result["order_id"], "invoice_id": result["invoice_id"], "payment": result["payment"]})


# --- invoices ---------------------------------------------------------------
@api.get("/invoices")
@token_required
def list_invoices():
    status = inputs.query_choice("status", INVOICE_STATUSES, "invalid_status")
    page, per_page = inputs.page_args()
    return jsonify(clients.billing.list_invoices(account_id=_account_id(), status=status, page=page, per_page=per_page))


@api.get("/invoices/<invoice_id>")
@token_required
def get_invoice(invoice_id: str):
    return jsonify(clients.billing.get_invoice(account_id=_account_id(), invoice_id=invoice_id))


@api.get("/invoices/<invoice_id>/pdf")
@token_required
def invoice_pdf(invoice_id: str):
    return pdf_response(clients.billing.invoice_pdf(account_id=_account_id(), invoice_id=invoice_id))


def pdf_response(result: dict) -> Response:
    """billing.invoice_pdf's answer as a PDF download (used by the API and the invoice page)."""
    try:
        content = base64.b64decode(result["data"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise rpc.ServiceUnavailable("billing: malformed PDF") from None
    filename = str(result.get("filename") or "invoice.pdf").replace('"', "")
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@api.post("/invoices/<invoice_id>/pay")
@token_required
def pay_invoice(invoice_id: str):
    data = body("payment_method")
    return jsonify(clients.billing.pay_invoice(account_id=_account_id(), invoice_id=invoice_id, payment_method=data["payment_method"]))  # fmt: skip


# --- services and renewals --------------------------------------------------
@api.get("/services")
@token_required
def list_services():
    page, per_page = inputs.page_args()
    status = inputs.query_text("status") or None
    return jsonify(clients.billing.list_services(account_id=_account_id(), status=status, page=page, per_page=per_page))


@api.get("/services/<service_id>")
@token_required
def get_service(service_id: str):
    return jsonify(clients.billing.get_service(account_id=_account_id(), service_id=service_id))


@api.get("/renewals")
@token_required
def list_renewals():
    renewals = clients.billing.list_renewals(account_id=_account_id())
    renewals["items"] = permissions.visible_renewals(g.account, renewals["items"])
    return jsonify(renewals)


# --- OpenAPI ----------------------------------------------------------------
_PAGE = _obj("items", items={"type": "array"}, total={"type": "integer"}, page={"type": "integer"},
             per_page={"type": "integer"}, pages={"type": "integer"})  # fmt: skip
_CART = _obj("items", items={"type": "array"}, totals={"type": "object"}, discount_code={"type": ["string", "null"]})
_PAYMENT_METHOD = {"type": "string", "enum": ["bank_transfer", "card", "credit"]}
_READ = ("404", "503")

PATHS["/catalog"] = {"get": _op("Hosting plans with cycles and net prices", "200",
                                _obj("plans", plans={"type": "array"}, currency=STRING), errors=("503",))}  # fmt: skip
PATHS["/cart/items"] = {
    "get": _op("The cart with prices and totals", "200", _CART, errors=("503",)),
    "post": _op("Add an item, e.g. {kind: hosting, params: {plan, cycle, domain?}}", "201", _CART,
                _obj("kind", kind=STRING, params={"type": "object"}), errors=("400", "409", "422", "503")),
}  # fmt: skip
PATHS["/cart/items/{item_id}"] = {"delete": _op("Remove an item from the cart", "200", _CART, errors=_READ)}
PATHS["/cart/checkout"] = {
    "post": _op("Place the order and issue its invoice; the same Idempotency-Key gives the same order", "200",
                _obj("order_id", "invoice_id", "payment", order_id=STRING, invoice_id={"type": ["string", "null"]},
                     payment={"type": "object"}),
                _obj("payment_method", payment_method=_PAYMENT_METHOD, idempotency_key=STRING),
                errors=("400", "409", "422", "503"))
}  # fmt: skip
PATHS["/invoices"] = {"get": _op("Invoices, newest first (query: status, page, per_page)", "200", _PAGE,
                                 errors=("422", "503"))}  # fmt: skip
PATHS["/invoices/{invoice_id}"] = {"get": _op("One invoice with its lines", "200", errors=_READ)}
PATHS["/invoices/{invoice_id}/pdf"] = {"get": _op("The invoice as a PDF attachment (application/pdf)", "200",
                                                  errors=_READ)}  # fmt: skip
PATHS["/invoices/{invoice_id}/pay"] = {
    "post": _op("Start paying an unpaid invoice", "200", _obj("method", "status", method=STRING, status=STRING),
                _obj("payment_method", payment_method=_PAYMENT_METHOD), errors=("400", "404", "422", "503"))
}  # fmt: skip
PATHS["/services"] = {"get": _op("The account's services by name (query: status, page, per_page)", "200", _PAGE,
                                 errors=("422", "503"))}  # fmt: skip
PATHS["/services/{service_id}"] = {"get": _op("One service with its invoices", "200", errors=_READ)}
PATHS["/renewals"] = {"get": _op("Services due for renewal soon, with their renewal invoice", "200",
                                 _obj("items", items={"type": "array"}, renewal_days={"type": "integer"}),
                                 errors=("503",))}  # fmt: skip
