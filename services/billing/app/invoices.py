"""Invoices: what one says (frozen when it is requested), its number in the month's ledger, the
account's invoices and their PDFs, and an invoice for one item another service prices."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kernel import settings
from kernel.aggregate import execute
from kernel.contracts import CART_ITEM_OWNERS
from kernel.errors import Invalid, NotFound, Unavailable
from kernel.events import command_meta
from kernel.money import invoice_line, totals, vat_of
from kernel.paging import one_page, page_number
from services.billing import pdf, vat
from services.billing.app import CONFLICT_RETRIES, Deps
from services.billing.catalog import CYCLE_NAMES, CYCLES, Plan, add_months
from services.billing.domain import (
    INVOICE_STATUSES,
    Customer,
    InvoiceLedger,
    Policy,
    customer_stream,
    det_id,
    iso,
    ledger_stream,
    month_of,
)
from services.billing.projections import UNPAID_SETS, CustomerView, InvoiceView

# Racing issuers of one month's ledger retry on fresh state; each retry takes the next number.
LEDGER_RETRIES = 50
ISSUED_FIELDS = ("account_id", "order_id", "service_id", "lines", "total_net", "total_vat", "total_gross",
                 "vat_summary", "currency", "buyer", "seller", "issue_date", "sale_date", "due_date", "month",
                 "period_due", "language", "payment_method", "period", "vat_note", "ksef")  # fmt: skip
UNIT = "usł."  # every line is a service


def seller() -> dict[str, str]:
    return {
        "name": settings.env("SELLER_NAME", "Panel Hosting sp. z o.o."),
        "street": settings.env("SELLER_STREET", "ul. Świętokrzyska 12"),
        "postcode": settings.env("SELLER_POSTCODE", "00-916"),
        "city": settings.env("SELLER_CITY", "Warszawa"),
        "country": settings.env("SELLER_COUNTRY", "PL"),
        "nip": settings.env("SELLER_NIP", "5260250274"),
        "bank_account": settings.env("SELLER_BANK_ACCOUNT", "PL61 1090 1014 0000 0712 1981 2874"),
    }


def buyer_from_profile(profile: dict[str, Any]) -> dict[str, str]:
    """The buyer block frozen on an invoice, from accounts' profile as it is now."""
    address = profile.get("billing_address") or {}
    person = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
    return {
        "name": address.get("company") or person,
        "person": person,
        "company": address.get("company", ""),
        "nip": address.get("nip", ""),
        "street": address.get("street", ""),
        "postcode": address.get("postcode", ""),
        "city": address.get("city", ""),
        "country": address.get("country", "") or "PL",
        "email": profile.get("email", ""),
    }


def buyer(deps: Deps, account_id: str) -> dict[str, str]:
    """The buyer block, plus `language` (the account's: the invoice's language), which `request` takes off."""
    profile = deps.remote("accounts", "get_profile", account_id)
    return {**buyer_from_profile(profile), "language": "en" if profile.get("language") == "en" else "pl"}


def goes_to_ksef(buyer: dict[str, Any]) -> bool:
    """Every invoice to a business (a buyer with a NIP or VAT number) goes to KSeF; a consumer's only
    with KSEF_B2C=yes."""
    return bool(vat.vat_id(buyer)) or settings.env("KSEF_B2C", "no").lower() == "yes"


def taxed(line: dict[str, Any], rule: vat.VatRule) -> dict[str, Any]:
    """The line with the buyer's VAT: the rate, its code, the VAT and gross on the line's net."""
    rate = vat.charged_rate(rule)
    amount = vat_of(line["net"], rate)
    return {**line, "vat_rate": rate, "vat_code": rule.code, "vat": amount, "gross": line["net"] + amount}


def request(invoice_id: str, lines: list[dict[str, Any]], buyer: dict[str, str], now: dt.datetime,
            due: dt.datetime, payment_method: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the invoice will say, frozen now; the ledger only adds the number. The VAT is the
    buyer's (services.billing.vat), each line gets its unit and English text, the service period
    is the lines' own (a renewal's) or starts today."""
    buyer = dict(buyer)
    language = buyer.pop("language", "pl")
    rule = vat.vat_rule(buyer)
    lines = [taxed({"unit": UNIT, "discount": 0, **line, "description_en": line.get("description_en") or
                    english_text(line)}, rule) for line in lines]  # fmt: skip
    return {"invoice_id": invoice_id, "lines": lines, **totals(lines), "month": month_of(now),
            "issue_date": iso(now), "sale_date": iso(now), "due_date": iso(due), "buyer": buyer,
            "seller": seller(), "language": language, "payment_method": payment_method,
            "period": service_period(lines, now), "vat_note": rule.note, "ksef": goes_to_ksef(buyer)}  # fmt: skip


def service_period(lines: list[dict[str, Any]], now: dt.datetime) -> dict[str, str] | None:
    """From-to of the services billed: a renewal's period, or a new hosting's cycle from today."""
    spans = []
    for line in lines:
        params = line.get("params") or {}
        if params.get("period_from") and params.get("period_to"):
            spans.append((params["period_from"][:10], params["period_to"][:10]))
        elif line["kind"] == "hosting" and params.get("cycle") in CYCLES:
            end = add_months(now, CYCLES[params["cycle"]]) - dt.timedelta(days=1)
            spans.append((now.date().isoformat(), end.date().isoformat()))
    if not spans:
        return None
    return {"from": min(s[0] for s in spans), "to": max(s[1] for s in spans)}


def english_text(line: dict[str, Any]) -> str:
    """The line's text in English, from what it bills (the Polish one is made where it is priced)."""
    params, kind = line.get("params") or {}, line["kind"]
    name = params.get("unicode_name") or params.get("domain") or ""
    years = int(params.get("years") or 1)
    span = f"{years} year" + ("s" if years != 1 else "")
    if kind == "domain_registration":
        return f"Domain registration {name} for {span}"
    if kind == "domain_transfer":
        return f"Domain transfer {name} (renewed for {span})"
    if kind == "domain_renewal":
        return f"Domain renewal {name} for {span}"
    plan = Plan.objects(id=params.get("plan")).first() if params.get("plan") else None
    plan_name = (plan.name.get("en") or plan.name.get("pl")) if plan else params.get("plan", "")
    service = f"{plan_name} — {params['domain']}" if params.get("domain") else plan_name
    cycle = params.get("cycle", "")
    if kind == "hosting_renewal":
        period = f", period {params.get('period_from', '')[:10]} – {params.get('period_to', '')[:10]}"
        return f"Renewal: {service} ({CYCLE_NAMES['en'].get(cycle, cycle)}){period}"
    months = CYCLES.get(cycle, 0)
    return f"{service}, {CYCLE_NAMES['en'].get(cycle, cycle)} ({months} month{'s' if months != 1 else ''})"


def payment_due(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=Policy.from_env().payment_days)


def issue(deps: Deps, customer: Customer, invoice_id: str, ctx: dict | None) -> str:
    """Number the requested invoice in its month's ledger (idempotent); its number."""
    requested = customer.requests[invoice_id]
    payload = {k: requested.get(k) for k in ISSUED_FIELDS}
    payload["kind"] = customer.invoices[invoice_id]["kind"]
    ledger, _ = execute(deps.events, InvoiceLedger, ledger_stream(requested["month"]),
                        lambda led: led.issue(invoice_id, payload), command_meta(ctx), retries=LEDGER_RETRIES)  # fmt: skip
    return ledger.issued[invoice_id]


def numbers(invoice_ids: list[str]) -> dict[str, str]:
    """The numbers of those of the invoices that have one."""
    views = InvoiceView.objects(id__in=list(invoice_ids)).only("id", "number")
    return {v.id: v.number for v in views if v.number}


def own(account_id: str, invoice_id: str) -> InvoiceView:
    """The account's issued invoice; NotFound for another account's or an unnumbered one."""
    view = InvoiceView.objects(id=invoice_id, account_id=account_id).first() if isinstance(invoice_id, str) else None
    if not view or not view.number:
        raise NotFound("invoice")
    return view


def list_page(account_id: str, status: str | None, page: int, per_page: int) -> dict[str, Any]:
    if status is not None and status not in INVOICE_STATUSES:
        raise Invalid("invalid_input", {"status": "invalid_status"})
    page, per_page = page_number(page, 1, 10_000), page_number(per_page, 20, 100)
    query = {"status": status} if status else {"status__ne": "pending"}
    found = InvoiceView.objects(account_id=account_id, **query).order_by("-issue_date", "-number")
    return one_page(found, page, per_page, InvoiceView.summary)


def as_pdf(account_id: str, invoice_id: str) -> dict[str, str]:
    view = own(account_id, invoice_id)
    content = pdf.render_invoice(view.detail())
    return {"filename": f"{view.number.replace('/', '-')}.pdf", "content_type": "application/pdf",
            "data": base64.b64encode(content).decode("ascii")}  # fmt: skip


def quote(deps: Deps, account_id: str, kind: str, params: Any) -> dict[str, Any]:
    """The owning service's price for one item of `kind` ({description, net, vat_rate, params}), or its refusal."""
    owner = CART_ITEM_OWNERS[kind]
    quoted = deps.remote(owner, "quote_cart_item", account_id, kind, params)
    if not isinstance(quoted, dict) or not isinstance(quoted.get("net"), int) or not quoted.get("description"):
        raise Unavailable(f"{owner}_unavailable")
    return quoted


def quoted_line(kind: str, quoted: dict[str, Any], params: Any) -> dict[str, Any]:
    return invoice_line(kind, quoted["description"], quoted.get("params") or params, quoted["net"],
                        quoted.get("vat_rate", 23))  # fmt: skip


def check_key(idempotency_key: Any) -> None:
    if not isinstance(idempotency_key, str) or not 8 <= len(idempotency_key) <= 200:
        raise Invalid("invalid_input", {"idempotency_key": "invalid_idempotency_key"})


def issue_for_item(deps: Deps, account_id: str, kind: str, params: Any, idempotency_key: str, ctx: dict | None,
                   noted: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """An unpaid invoice for one item priced by its owner (e.g. a domain renewal), issued once per key:
    quoted like a cart item, placed as an order without the cart. `noted`: kept in the line's params
    for the owner to recognise its invoice by (a domain renewal's `for_expiry`)."""
    if kind not in CART_ITEM_OWNERS:
        raise Invalid("invalid_input", {"kind": "invalid_kind"})
    check_key(idempotency_key)
    order_id = det_id("item-invoice", account_id, idempotency_key)
    stream = customer_stream(account_id)
    customer = Customer.load(deps.events, stream)
    if order_id not in customer.orders:
        line = quoted_line(kind, quote(deps, account_id, kind, params), params)
        line["params"] = {**line["params"], **(noted or {})}
        now = deps.now()
        order = {"order_id": order_id, "payment_method": "bank_transfer", "discount_code": None,
                 "items": [{"item_id": order_id, "kind": kind, "params": line["params"],
                            "description": line["description"]}],
                 "reused_invoice_ids": [], "total_gross": line["gross"], "placed_at": iso(now),
                 **request(det_id("invoice", order_id), [line], buyer(deps, account_id), now, payment_due(now),
                           "bank_transfer")}  # fmt: skip
        customer, _ = execute(deps.events, Customer, stream, lambda c: c.place_order(order), command_meta(ctx),
                              retries=CONFLICT_RETRIES)  # fmt: skip
    invoice_id = customer.orders[order_id]["invoice_id"]
    issue(deps, customer, invoice_id, ctx)
    return InvoiceView.objects(id=invoice_id).first().summary()


def customer_figures(account_id: str) -> dict[str, Any]:
    """The account's credit and unpaid-invoice id sets in one read; a set is None when the customer
    view does not hold it yet (written before the sets existed, or no invoice yet)."""
    raw = CustomerView.objects(id=account_id).only(*UNPAID_SETS, "credit").as_pymongo().first() or {}
    return {"credit": raw.get("credit") or 0, **{key: raw.get(key) for key in UNPAID_SETS}}
