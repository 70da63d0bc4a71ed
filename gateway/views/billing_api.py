"""Billing under /api/v1: catalogue, cart, checkout, invoices, services, renewals.

Every call is scoped to the logged-in account (`g.account["account_id"]`); the
client never names an account.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, g, jsonify, request

from gateway import clients, inputs, permissions, rpc, schemas
from gateway.errors import ApiError
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.views.api import api, token_required

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
    item = inputs.json_model(_cart_item_model())
    cart = clients.billing.add_cart_item(account_id=_account_id(), kind=item["kind"], params=item["params"])
    return jsonify(cart), 201


def _cart_item_model() -> type[schemas.Request]:
    """The model of the item's kind (schemas.CART_ITEMS); a kind missing or unknown is 422 naming `kind`."""
    kind = inputs.json_object().get("kind")
    if kind is None:
        raise ApiError(422, "invalid_input", {"kind": "required"})
    if not isinstance(kind, str) or kind not in schemas.CART_ITEMS:
        raise ApiError(422, "invalid_input", {"kind": "invalid_kind"})
    return schemas.CART_ITEMS[kind]


@api.delete("/cart/items/<item_id>")
@token_required
def remove_cart_item(item_id: str):
    return jsonify(clients.billing.remove_cart_item(account_id=_account_id(), item_id=item_id))


@api.post("/cart/checkout")
@token_required
def checkout():
    sent = inputs.json_object()
    header = request.headers.get("Idempotency-Key")  # the header, when sent, is the key
    data = inputs.json_model(schemas.Checkout, {**sent, "idempotency_key": header} if header else sent)
    result = clients.billing.checkout(account_id=_account_id(), **data)
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
    data = inputs.json_model(schemas.PayInvoice)
    return jsonify(clients.billing.pay_invoice(account_id=_account_id(), invoice_id=invoice_id, **data))


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
_PAYMENT_METHOD = {"type": "string", "enum": ["bank_transfer", "card", "credit"]}
_READ = ("404", "503")

PATHS["/catalog"] = {"get": _op("Hosting plans with cycles and net prices", "200",
                                _obj("plans", plans={"type": "array"}, currency=STRING), errors=("503",))}  # fmt: skip
PATHS["/cart/items"] = {
    "get": _op("The cart with prices and totals", "200", schemas.Cart, errors=("503",)),
    "post": _op("Add an item: its kind and the params of that kind (404: a renewal of a service or domain "
                "that is not the account's)", "201", schemas.Cart, schemas.CartItem,
                errors=("400", "404", "409", "422", "503")),
}  # fmt: skip
PATHS["/cart/items/{item_id}"] = {"delete": _op("Remove an item from the cart", "200", schemas.Cart, errors=_READ)}
PATHS["/cart/checkout"] = {
    "post": _op("Place the order and issue its invoice; the same Idempotency-Key gives the same order", "200",
                _obj("order_id", "invoice_id", "payment", order_id=STRING, invoice_id={"type": ["string", "null"]},
                     payment={"type": "object"}),
                schemas.Checkout,
                errors=("400", "409", "422", "503"))
}  # fmt: skip
PATHS["/invoices"] = {"get": _op("Invoices, newest first (query: status, page, per_page)", "200", schemas.InvoicePage,
                                 errors=("422", "503"))}  # fmt: skip
PATHS["/invoices/{invoice_id}"] = {"get": _op("One invoice with its lines", "200", schemas.Invoice, errors=_READ)}
PATHS["/invoices/{invoice_id}/pdf"] = {"get": _op("The invoice as a PDF attachment (application/pdf)", "200",
                                                  errors=_READ)}  # fmt: skip
PATHS["/invoices/{invoice_id}/pay"] = {
    "post": _op("Start paying an unpaid invoice", "200", _obj("method", "status", method=STRING, status=STRING),
                schemas.PayInvoice, errors=("400", "404", "422", "503"))
}  # fmt: skip
PATHS["/services"] = {"get": _op("The account's services by name (query: status, page, per_page)", "200", schemas.ServicePage,
                                 errors=("422", "503"))}  # fmt: skip
PATHS["/services/{service_id}"] = {"get": _op("One service with its invoices", "200", schemas.Service, errors=_READ)}
PATHS["/renewals"] = {"get": _op("Services due for renewal soon, with their renewal invoice", "200",
                                 _obj("items", items={"type": "array"}, renewal_days={"type": "integer"}),
                                 errors=("503",))}  # fmt: skip
