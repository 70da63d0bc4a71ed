"""Availability, the price list and the quotes billing asks for its cart (kernel.contracts)."""

from __future__ import annotations

import re
from typing import Any

from kernel.errors import Conflict, Invalid, Unavailable
from kernel.money import vat_of
from services.domains import names, prices, registrar
from services.domains.app import Deps, own
from services.domains.domain import HELD, ORDER_KINDS
from services.domains.projections import DomainView

# Someone else already holds or has paid for the name.
TAKEN_STATUSES = ("pending_registration", "pending_transfer", *HELD)
EPP_CODE = re.compile(r"^[\x21-\x7e]{6,64}$")
YEARS_WORDS = {1: "rok", 2: "lata", 3: "lata", 4: "lata"}


def years_of(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Invalid("invalid_input", {"years": "domains_invalid_period"})
    years = int(value)
    if not prices.MIN_YEARS <= years <= prices.MAX_YEARS:
        raise Invalid("invalid_input", {"years": "domains_invalid_period"})
    return years


def period(years: int) -> str:
    return f"{years} {YEARS_WORDS.get(years, 'lat')}"


def availability(deps: Deps, name: names.DomainName) -> dict[str, Any]:
    price = prices.price_of(name.tld)
    answer = deps.registry("check", name.ascii)
    ours = DomainView.objects(name=name.ascii, status__in=list(TAKEN_STATUSES)).first() is not None
    register = answer.premium_net if answer.premium else price.register
    nets = {"register": register, "transfer": price.transfer, "renew": price.renew}
    return {**name.public(), "available": answer.available and not ours, "premium": answer.premium,
            "prices": nets, "gross": {k: v + vat_of(v, prices.VAT_RATE) for k, v in nets.items()},
            "vat_rate": prices.VAT_RATE, "currency": prices.CURRENCY}  # fmt: skip


def check(deps: Deps, name: Any) -> dict[str, Any]:
    """One name, or with no TLD given the label under every TLD we sell."""
    try:
        text = name.strip() if isinstance(name, str) else name
        if isinstance(text, str) and text and "." not in text.rstrip("."):
            label = names.parse_label(text)
            candidates = [names.parse(f"{label}.{tld}") for tld in prices.price_list()]
        else:
            candidates = [names.parse(text)]
    except names.InvalidName as exc:
        raise Invalid("invalid_input", {"name": exc.code}) from None
    try:
        results = [availability(deps, candidate) for candidate in candidates]
    except registrar.RegistrarError as exc:
        raise Unavailable(exc.code) from None
    return {"query": name, "results": results}


def price_list() -> dict[str, Any]:
    return {"items": prices.public_prices(), "min_years": prices.MIN_YEARS, "max_years": prices.MAX_YEARS}


def quote_cart_item(deps: Deps, account_id: str, kind: str, params: Any) -> dict[str, Any]:
    """Billing's contract (kernel.contracts): price one cart item, or refuse it with a reason."""
    if not isinstance(params, dict):
        raise Invalid("invalid_input", {"params": "invalid_type"})
    years = years_of(params.get("years", 1))
    if kind == "domain_renewal":
        return _quote_renewal(account_id, params.get("domain_id"), years)
    if kind not in ORDER_KINDS:
        raise Invalid("invalid_input", {"kind": "invalid_kind"})
    name = names.parse_or_refuse(params.get("domain") or params.get("name"), "domain")
    try:
        found = availability(deps, name)
    except registrar.RegistrarError as exc:
        raise Unavailable(exc.code) from None
    price = prices.price_of(name.tld)
    quoted = {"domain": name.ascii, "unicode_name": name.unicode, "years": years}
    if kind == "domain_registration":
        if not found["available"]:
            raise Conflict("invalid_input", {"domain": "domains_taken"})
        net = found["prices"]["register"] * years
        description = f"Rejestracja domeny {name.unicode} na {period(years)}"
        return _quote(description, net, {**quoted, "premium": found["premium"]})
    epp_code = params.get("epp_code")
    if not isinstance(epp_code, str) or not EPP_CODE.match(epp_code.strip()):
        raise Invalid("invalid_input", {"epp_code": "domains_invalid_epp_format"})
    if found["available"]:
        raise Conflict("invalid_input", {"domain": "domains_not_registered"})
    if DomainView.objects(name=name.ascii, status__in=list(TAKEN_STATUSES)).first():
        raise Conflict("invalid_input", {"domain": "domains_already_here"})
    description = f"Transfer domeny {name.unicode} (z przedłużeniem o {period(years)})"
    return _quote(description, price.net("transfer", years), {**quoted, "epp_code": epp_code.strip()})


def _quote_renewal(account_id: str, domain_id: Any, years: int) -> dict[str, Any]:
    view = own(account_id, domain_id)
    if view.status not in HELD:
        raise Conflict("domains_not_renewable")
    net = prices.price_of(view.tld).net("renew", years)
    params = {"domain_id": view.id, "domain": view.name, "unicode_name": view.unicode_name, "years": years}
    return _quote(f"Odnowienie domeny {view.unicode_name} na {period(years)}", net, params)


def _quote(description: str, net: int, params: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "net": net, "vat_rate": prices.VAT_RATE, "currency": prices.CURRENCY,
            "params": params}  # fmt: skip
