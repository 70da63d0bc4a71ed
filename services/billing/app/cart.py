"""The cart: items priced when shown (hosting from today's catalogue, the other kinds as their owner
quoted them, renewals already billed by their invoice), the discount code, adding and changing items."""

from __future__ import annotations

import re
from typing import Any

from kernel import idn
from kernel.contracts import CART_ITEM_KINDS
from kernel.errors import CommandError, Conflict, Invalid, NotFound, Unavailable
from kernel.events import new_id
from kernel.money import discounted, invoice_line, totals
from services.billing import cart as carts
from services.billing import catalog, vat
from services.billing.app import Deps, invoices, offer, renewals
from services.billing.catalog import CYCLE_NAMES, CYCLES, Plan
from services.billing.domain import iso
from services.billing.projections import InvoiceView

DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
PRICED = ("net", "vat_rate", "vat", "gross", "vat_code", "discount", "unit_net")


def view(deps: Deps, account_id: str) -> dict[str, Any]:
    """The cart as shown: every item priced, the discount (or why it no longer applies), the totals."""
    cart = carts.load(account_id)
    try:
        percent, discount_error = offer.discount_percent(deps, cart.discount_code), None
    except CommandError:
        percent, discount_error = 0, "invalid_discount_code"
    priced = [price_item(item, percent) for item in cart.items]
    buyer = buyer_of(deps, account_id)
    rule = vat.vat_rule(buyer)
    for p in priced:
        p["line"] = p["line"] and invoices.taxed(p["line"], rule)
    sums = totals([p["line"] for p in priced if p["line"]])
    reused_gross = sum(p["reused_invoice"]["amount_due"] for p in priced if p["reused_invoice"])
    return {"account_id": account_id, "items": [_shown(p) for p in priced], "discount_code": cart.discount_code,
            "discount_percent": percent, "discount_error": discount_error, "vat_code": rule.code,
            "vat_note": rule.note, "buyer_country": vat.buyer_country(buyer),
            "totals": {**sums, "total_gross": sums["total_gross"] + reused_gross, "new_gross": sums["total_gross"],
                       "renewals_gross": reused_gross}}  # fmt: skip


def _shown(priced: dict[str, Any]) -> dict[str, Any]:
    line, reused = priced["line"], priced["reused_invoice"]
    return {**priced["item"], **({k: line[k] for k in PRICED if k in line} if line else {}),
            **({"gross": reused["amount_due"], "invoice": reused} if reused else {})}  # fmt: skip


def price_item(item: dict[str, Any], percent: int) -> dict[str, Any]:
    """{item, line, reused_invoice}: the invoice line for a new item (hosting priced from today's
    catalogue), or the already-issued renewal invoice the item points at."""
    public = {k: item[k] for k in ("item_id", "kind", "params", "description") if k in item}
    if item["kind"] == "hosting":
        plan = Plan.objects(id=item["params"]["plan"]).first()
        if not plan or plan.active != "yes" or item["params"]["cycle"] not in plan.prices:
            raise Conflict("invalid_input", {"items": "plan_unavailable"})
        full = plan.prices[item["params"]["cycle"]]
        net = discounted(full, percent)
        params = {**item["params"], "name": service_name(plan, item["params"].get("domain"))}
        description = _hosting_description(plan, item["params"])
        line = invoice_line("hosting", description, params, net, plan.vat_rate)
        line.update(unit_net=full, discount=full - net)  # the price before the discount, and what it took off
        return {"item": {**public, "description": description, "discount_percent": percent},
                "line": line, "reused_invoice": None}  # fmt: skip
    if item.get("invoice_id"):  # a renewal (hosting or domain) billed already: its invoice is reused
        invoice = InvoiceView.objects(id=item["invoice_id"]).first()
        summary = invoice.summary() if invoice else None
        return {"item": {**public, "invoice_id": item["invoice_id"]}, "line": None, "reused_invoice": summary}
    return {"item": public, "line": invoices.quoted_line(item["kind"], item["quote"], item["params"]),
            "reused_invoice": None}  # fmt: skip


def buyer_of(deps: Deps, account_id: str) -> dict[str, str]:
    """The buyer as the invoice will have it; a Polish buyer while accounts does not answer (the
    checkout asks again, and the invoice always carries the buyer's own VAT)."""
    try:
        return invoices.buyer(deps, account_id)
    except Unavailable:
        return {"country": vat.HOME}


def add_item(deps: Deps, account_id: str, kind: str, params: Any, ctx: dict | None) -> dict[str, Any]:
    if kind not in CART_ITEM_KINDS:
        raise Invalid("invalid_input", {"kind": "invalid_kind"})
    if not isinstance(params, dict):
        raise Invalid("invalid_input", {"params": "invalid_type"})
    item: dict[str, Any] = {"item_id": new_id(), "kind": kind, "added_at": iso(deps.now())}
    if kind == "hosting":
        item.update(params=hosting_params(params), description="")
    elif kind == "hosting_renewal":
        service_id = params.get("service_id")
        invoice_id = renewals.hosting_invoice(deps, account_id, service_id, ctx)
        item.update(params={"service_id": service_id}, invoice_id=invoice_id, description="")
    elif kind == "domain_renewal" and (issued := renewals.issued_domain_renewal(account_id, params)):
        invoice, line = issued
        item.update(params=dict(line.get("params") or {}), invoice_id=invoice.id, description=line["description"])
    else:
        quoted = invoices.quote(deps, account_id, kind, params)
        item.update(params=quoted.get("params") or params, quote=quoted, description=quoted["description"])

    def change(items: list[dict[str, Any]], _: dict[str, Any]) -> None:
        if item.get("invoice_id") and any(i.get("invoice_id") == item["invoice_id"] for i in items):
            return  # already in the cart
        items.append(item)

    carts.mutate(account_id, change)
    return view(deps, account_id)


def hosting_params(params: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """{plan, cycle, domain} checked against the catalogue (`current`: the item's params before the change)."""
    merged = {**(current or {}), **params}
    errors: dict[str, str] = {}
    plan = catalog.find_plan(merged.get("plan"))
    if not plan:
        errors["plan"] = "unknown_plan"
    cycle = merged.get("cycle")
    if cycle not in CYCLES or (plan and cycle not in plan.prices):
        errors["cycle"] = "invalid_cycle"
    domain = idn.ascii_name(merged.get("domain") or "")  # "żółw.pl" as typed: stored in ASCII (punycode)
    if domain and not DOMAIN_RE.match(domain):
        errors["domain"] = "invalid_domain"
    if errors:
        raise Invalid("invalid_input", errors)
    return {"plan": plan.id, "cycle": cycle, "domain": domain or None}


def change_cycle(deps: Deps, account_id: str, item_id: str, cycle: str) -> dict[str, Any]:
    def change(items: list[dict[str, Any]], _: dict[str, Any]) -> None:
        for item in items:
            if item["item_id"] == item_id:
                if item["kind"] != "hosting":
                    raise Invalid("invalid_input", {"cycle": "not_changeable"})
                item["params"] = hosting_params({"cycle": cycle}, item["params"])
                return
        raise NotFound("cart_item")

    carts.mutate(account_id, change)
    return view(deps, account_id)


def remove_item(deps: Deps, account_id: str, item_id: str) -> dict[str, Any]:
    def change(items: list[dict[str, Any]], _: dict[str, Any]) -> None:
        if not any(i["item_id"] == item_id for i in items):
            raise NotFound("cart_item")
        items[:] = [i for i in items if i["item_id"] != item_id]

    carts.mutate(account_id, change)
    return view(deps, account_id)


def apply_discount_code(deps: Deps, account_id: str, code: str | None) -> dict[str, Any]:
    """Apply the current offer's code (None or "" removes it)."""
    clean = (code or "").strip().upper() or None
    offer.discount_percent(deps, clean)

    def change(_: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        extra["discount_code"] = clean

    carts.mutate(account_id, change)
    return view(deps, account_id)


def service_name(plan: Plan, domain: str | None) -> str:
    name = plan.name.get("pl") or plan.id
    return f"{name} — {idn.unicode_name(domain)}" if domain else name  # people read żółw.pl, not xn--


def _hosting_description(plan: Plan, params: dict[str, Any]) -> str:
    cycle = params["cycle"]
    return f"{service_name(plan, params.get('domain'))}, {CYCLE_NAMES['pl'][cycle]} ({CYCLES[cycle]} mies.)"
