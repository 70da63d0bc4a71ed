"""The cart: a plain document per account, not an event stream.

A cart is a scratch pad that customers change many times before deciding; none
of those edits is a business fact anyone subscribes to. The fact is the order:
`order_placed` and the invoice freeze exactly what was bought and at what price.
So the cart is one document changed with an optimistic version check (a lost
update between two tabs is retried, never silently overwritten).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import mongoengine as me

from kernel import clock
from kernel.errors import CommandError, Conflict

ALIAS = "billing"
MAX_ITEMS = 50


class Cart(me.Document):
    id = me.StringField(primary_key=True)  # account id
    items = me.ListField(me.DictField())
    discount_code = me.StringField(null=True)
    version = me.IntField(default=0)
    updated_at = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "carts", "auto_create_index": False}


def load(account_id: str) -> Cart:
    return Cart.objects(id=account_id).first() or Cart(id=account_id, items=[], version=0)


def mutate(account_id: str, change: Callable[[list[dict[str, Any]], dict[str, Any]], None], attempts: int = 10) -> Cart:
    """Apply `change(items, extra)` (in place) under an optimistic version check.

    `extra` holds {"discount_code": ...}; the change may raise CommandError.
    """
    for _ in range(attempts):
        cart = load(account_id)
        items = copy.deepcopy(list(cart.items))
        extra = {"discount_code": cart.discount_code}
        change(items, extra)
        if len(items) > MAX_ITEMS:
            raise CommandError("cart_full")
        now = clock.now()
        if cart.version == 0 and not Cart.objects(id=account_id).first():
            try:
                Cart(
                    id=account_id,
                    items=items,
                    discount_code=extra["discount_code"],
                    version=1,
                    updated_at=now.isoformat(),
                ).save(force_insert=True)
                return load(account_id)
            except me.NotUniqueError:
                continue
        won = Cart.objects(id=account_id, version=cart.version).update_one(
            set__items=items, set__discount_code=extra["discount_code"], set__version=cart.version + 1,
            set__updated_at=now.isoformat(),
        )  # fmt: skip
        if won:
            return load(account_id)
    raise Conflict("cart_busy")


def remove_items(account_id: str, item_ids: list[str]) -> Cart:
    """Drop what was ordered (and the discount with it once the cart is empty); items
    added meanwhile in another tab stay."""

    def change(items: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        items[:] = [i for i in items if i["item_id"] not in item_ids]
        if not items:
            extra["discount_code"] = None

    return mutate(account_id, change)
