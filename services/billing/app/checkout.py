"""Checkout: the cart becomes an order and its invoice, then paying starts."""

from __future__ import annotations

import logging
from typing import Any

from kernel.aggregate import execute
from kernel.errors import CommandError, Conflict, Invalid
from kernel.events import command_meta
from kernel.money import totals
from services.billing import cart as carts
from services.billing import providers as registry
from services.billing.app import CONFLICT_RETRIES, Deps, cart, invoices, payments
from services.billing.domain import Customer, customer_stream, det_id, iso

log = logging.getLogger(__name__)


def checkout(deps: Deps, account_id: str, method: str, idempotency_key: str, ctx: dict | None,
             return_url: str | None) -> dict[str, Any]:  # fmt: skip
    """Place the order and issue its invoice, then start paying. The same key always gives the same
    order and invoice: the order id is derived from it and the order stream refuses a second
    `order_placed` for it. The cart is consumed in the same decision: the order records the cart's
    version (`cart_key`) and the Customer aggregate places at most one order per version, so
    concurrent checkouts of one cart with different keys get that one order back (or Conflict
    `cart_empty` once the cart is emptied)."""
    registry.provider(method)
    invoices.check_key(idempotency_key)
    order_id = det_id("order", account_id, idempotency_key)
    customer, placed = place(deps, account_id, order_id, method, ctx)
    consume_cart(account_id, placed)
    if placed["order_id"] != order_id:  # another request placed this cart: its order, paid its way
        method = placed.get("payment_method") or method
    if placed.get("invoice_id"):
        invoices.issue(deps, customer, placed["invoice_id"], ctx)
    invoice_ids = ([placed["invoice_id"]] if placed.get("invoice_id") else []) + placed.get("reused_invoice_ids", [])
    try:
        payment = payments.pay(deps, account_id, invoice_ids, method, return_url, ctx,
                               det_id("payment", placed["order_id"]))  # fmt: skip
    except CommandError as exc:
        payment = {"method": method, "status": "failed", "code": exc.code}
    return {"order_id": placed["order_id"], "invoice_id": invoice_ids[0] if invoice_ids else None,
            "invoice_ids": invoice_ids, "payment": payment}  # fmt: skip


def place(deps: Deps, account_id: str, order_id: str, method: str,
          ctx: dict | None) -> tuple[Customer, dict[str, Any]]:  # fmt: skip
    """The customer and the order placed for this key or for the cart as it is (placed now if neither is)."""
    stream = customer_stream(account_id)
    customer = Customer.load(deps.events, stream)
    placed = customer.placed_order(order_id)
    if placed is not None:
        return customer, placed
    current = carts.load(account_id)
    if not current.items:
        raise Conflict("cart_empty")
    cart_key = det_id("cart", account_id, str(current.version), *sorted(i["item_id"] for i in current.items))
    placed = customer.placed_order(order_id, cart_key)
    if placed is not None:
        return customer, placed
    order = _order(deps, account_id, order_id, method, current, cart_key)
    customer, _ = execute(deps.events, Customer, stream, lambda c: c.place_order(order), command_meta(ctx),
                          retries=CONFLICT_RETRIES)  # fmt: skip
    return customer, customer.placed_order(order_id, cart_key)


def _order(deps: Deps, account_id: str, order_id: str, method: str, current: carts.Cart,
           cart_key: str) -> dict[str, Any]:  # fmt: skip
    """The order for the cart as it is: its priced items, the invoice request for the new ones, the
    renewal invoices it reuses."""
    shown = cart.view(deps, account_id)
    if shown["discount_error"]:
        raise Invalid("invalid_input", {"discount_code": shown["discount_error"]})
    priced = [cart.price_item(item, shown["discount_percent"]) for item in current.items]
    lines = [p["line"] for p in priced if p["line"]]
    now = deps.now()
    order: dict[str, Any] = {
        "order_id": order_id, "items": [p["item"] for p in priced],
        "reused_invoice_ids": [item["invoice_id"] for item in current.items if item.get("invoice_id")],
        "payment_method": method, "discount_code": current.discount_code, "invoice_id": None,
        "total_gross": totals(lines)["total_gross"], "placed_at": iso(now), "cart_key": cart_key,
    }  # fmt: skip
    if lines:
        request = invoices.request(det_id("invoice", order_id), lines, invoices.buyer(deps, account_id), now,
                                   invoices.payment_due(now), method)  # fmt: skip
        order.update(request, order_id=order_id)
    return order


def consume_cart(account_id: str, placed: dict[str, Any]) -> None:
    """Take an order's items out of the cart (items added since stay). Safe to repeat: a checkout that
    stopped after placing the order leaves them for the next one to take out."""
    ordered = {item.get("item_id") for item in placed.get("items", [])}
    if not any(item["item_id"] in ordered for item in carts.load(account_id).items):
        return
    try:
        carts.remove_items(account_id, list(ordered))
    except CommandError as exc:  # the cart is busy: the order stands, the next checkout tidies up
        log.warning("ordered items of %s left in the cart: %s", placed["order_id"], exc.code)
