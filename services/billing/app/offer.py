"""The offer banner on the dashboard and its discount code."""

from __future__ import annotations

from typing import Any

from kernel.aggregate import execute
from kernel.errors import Invalid
from kernel.events import command_meta
from services.billing.app import Deps
from services.billing.domain import Offer, offer_active, validate_offer
from services.billing.projections import OfferView


def set_offer(deps: Deps, fields: dict[str, Any], ctx: dict | None) -> dict[str, Any]:
    """`fields`: validate_offer's arguments by name (title/text Polish, title_en/text_en English)."""
    offer = validate_offer(**fields)
    execute(deps.events, Offer, "offer", lambda o: o.set(offer), command_meta(ctx))
    return OfferView.objects(id="current").first().public()


def current(deps: Deps) -> dict[str, Any] | None:
    view = OfferView.objects(id="current").first()
    if not view or not offer_active({"starts_at": view.starts_at, "ends_at": view.ends_at}, deps.now()):
        return None
    return view.public()


def discount_percent(deps: Deps, code: str | None) -> int:
    """The current offer's discount for `code` (0 for none); Invalid when the code is not the offer's."""
    if not code:
        return 0
    offer = current(deps)
    if not offer or not offer["discount_code"] or offer["discount_code"] != code.strip().upper():
        raise Invalid("invalid_input", {"discount_code": "invalid_discount_code"})
    return offer["discount_percent"]
