"""FA(3), the structured invoice KSeF takes (issue #16): built from a plain invoice dict with
ksef-client's FA(3) builders and checked against the official XSD that ksef-client ships.

The invoice dict (amounts in integer grosze, as kernel.money keeps them; dates ISO):
    number, issue_date, sale_date | period {from, to}, created_at (optional ISO datetime: the
    document's DataWytworzeniaFa, so the same invoice always gives the same bytes and hash),
    seller {name, nip, street, postcode, city, country},
    buyer {name, nip | vat_eu, street, postcode, city, country, email},
    lines [{description, unit, quantity, unit_net, discount (grosze off the line), net, vat, gross,
            vat_code (optional; else the buyer's rule from services.billing.vat)}],
    payment {method: transfer | card | cash | mobile | credit | other, status: paid | unpaid,
             paid_at, due_date, bank_account, title, description (for other)},
    correction (a correcting invoice) {number, issue_date, ksef_number, reason,
             pairs [{before: line, after: line | None (the line is cancelled)}]}.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ksef_client.documents.fa3 import (
    Address,
    BankAccount,
    Contact,
    Discount,
    FA3Invoice,
    FA3XmlValidationError,
    InvoiceLine,
    InvoiceParty,
    PartyIdentifier,
    PaymentTerms,
    TaxCategory,
    validate_fa3_xml_xsd,
)
from ksef_client.documents.fa3.sections import AdditionalDescription
from lxml import etree

from services.billing import vat

NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
SYSTEM_INFO = "Panel Klienta"
PAYMENT_CODES = {"cash": "1", "card": "2", "voucher": "3", "cheque": "4", "credit": "5", "transfer": "6", "mobile": "7"}
TRANSFER_TITLE = "Tytuł przelewu"


class Fa3Invalid(ValueError):
    """The document does not follow the FA(3) XSD (or could not be built as FA(3))."""


def build(invoice: dict[str, Any]) -> bytes:
    """The FA(3) XML of an invoice (a correction when it has `correction`), checked against the XSD."""
    try:
        document = _builder(invoice).build()
        xml = document.to_xml()
    except (ValueError, FA3XmlValidationError) as exc:
        raise Fa3Invalid(str(exc)) from exc
    xml = _stamp(xml, invoice.get("created_at") or f"{invoice['issue_date']}T00:00:00Z")
    validate(xml)
    return xml


def validate(xml: bytes | str) -> None:
    """Raise Fa3Invalid unless `xml` follows the official FA(3) XSD (offline: only ksef-client's
    bundled schema files are read; an import of anything else fails instead of fetching it)."""
    try:
        validate_fa3_xml_xsd(xml)
    except (FA3XmlValidationError, ValueError) as exc:
        raise Fa3Invalid(str(exc)) from exc


def _builder(invoice: dict[str, Any]):
    correction = invoice.get("correction")
    builder = FA3Invoice.correction(invoice["number"]) if correction else FA3Invoice.basic(invoice["number"])
    builder.issued_on(_date(invoice["issue_date"])).seller(seller_party(invoice["seller"]))
    builder.buyer(buyer_party(invoice["buyer"]))
    if invoice.get("period"):
        builder.period(_date(invoice["period"]["from"]), _date(invoice["period"]["to"]))
    elif invoice.get("sale_date") and invoice["sale_date"] != invoice["issue_date"]:
        builder.sale_date(_date(invoice["sale_date"]))
    rule = vat.vat_rule(invoice["buyer"])
    if correction:
        _add_correction(builder, correction, rule)
    else:
        for line in invoice["lines"]:
            builder.add_line(**line_fields(line, rule))
    if rule.code == vat.EU_REVERSE_CHARGE:
        builder.reverse_charge()
    if invoice.get("payment"):
        builder.payment(payment_terms(invoice["payment"]))
        if invoice["payment"].get("status") != "paid" and invoice["payment"].get("title"):
            builder.with_section(AdditionalDescription.key_value(TRANSFER_TITLE, invoice["payment"]["title"]))
    return builder


def _add_correction(builder, correction: dict[str, Any], rule: vat.VatRule) -> None:
    builder.corrects_invoice(
        number=correction["number"],
        issue_date=_date(correction["issue_date"]),
        reason=correction["reason"],
        ksef_number=correction.get("ksef_number") or None,
    )
    for pair in correction["pairs"]:
        before = invoice_line(pair["before"], rule)
        after = invoice_line(pair["after"], rule) if pair.get("after") else _cancelled(pair["before"], rule)
        builder.add_corrected_line_before_after(before=before, after=after)


def _cancelled(line: dict[str, Any], rule: vat.VatRule) -> InvoiceLine:
    """The state after a line is taken back whole: same service, nothing to pay."""
    return invoice_line({**line, "unit_net": 0, "discount": 0, "net": 0, "vat": 0, "gross": 0}, rule)


def invoice_line(line: dict[str, Any], rule: vat.VatRule) -> InvoiceLine:
    return InvoiceLine.create(**line_fields(line, rule))


def line_fields(line: dict[str, Any], rule: vat.VatRule) -> dict[str, Any]:
    """One FaWiersz; net, VAT and gross are the invoice's own (billing rounds them), not recomputed."""
    code = line.get("vat_code") or rule.code
    quantity = Decimal(line.get("quantity", 1))
    discount = line.get("discount") or 0
    fields: dict[str, Any] = {
        "description": line["description"],
        "quantity": quantity,
        "unit_net_price": _pln(line["unit_net"]),
        "unit": line.get("unit") or "usł.",
        "tax": tax_category(code, Decimal(str(line.get("vat_rate", rule.percent)))),
        "discount": Discount.amount(_pln(discount) / quantity) if discount else None,
        "net_amount": _pln(line["net"]),
        "vat_amount": _pln(line["vat"]),
        "gross_amount": _pln(line["gross"]),
    }
    return fields | ({"procedure": "WSTO_EE"} if code == vat.OSS else {})


def tax_category(code: str, percent: Decimal) -> TaxCategory:
    """FA(3)'s rate for a rule code: a Polish rate is the line's percent (23, 8, ...; anything else is
    refused), OSS lines carry the buyer country's rate in P_12_XII, the rest are codes (np I, np II)."""
    if code == vat.OSS:
        return TaxCategory.xii(percent)
    if code.isdigit():
        return TaxCategory.from_vat_rate(percent)
    return TaxCategory.from_rate_code(code)


def seller_party(seller: dict[str, Any]) -> InvoiceParty:
    return InvoiceParty.polish_company(nip=seller["nip"], name=seller["name"], address=_address(seller))


def buyer_party(buyer: dict[str, Any]) -> InvoiceParty:
    """Podmiot2: a Polish NIP, a VAT-EU number, another country's tax number, or none (a consumer)."""
    country = vat.buyer_country(buyer)
    number = vat.vat_id(buyer)
    contacts = (Contact(email=buyer["email"]),) if buyer.get("email") else ()
    if not number:
        identifier = PartyIdentifier.none()
    elif country == vat.HOME:
        identifier = PartyIdentifier.polish_nip(number.removeprefix("PL"))
    elif vat.is_eu(country):
        prefix = number[:2] if number[:2].isalpha() else ("EL" if country == "GR" else country)
        identifier = PartyIdentifier.eu_vat(prefix, number.removeprefix(prefix))
    else:
        identifier = PartyIdentifier.foreign(number, country_code=country)
    address = _address(buyer) if buyer.get("street") else None  # a consumer may have given none (Adres is optional)
    return InvoiceParty(name=buyer["name"], identifier=identifier, address=address, contacts=contacts)


def payment_terms(payment: dict[str, Any]) -> PaymentTerms:
    method = payment.get("method") or "transfer"
    code = PAYMENT_CODES.get(method)
    account = payment.get("bank_account")
    return PaymentTerms(
        due_dates=(_date(payment["due_date"]),) if payment.get("due_date") and payment.get("status") != "paid" else (),
        method=code,
        other_method_description=None if code else (payment.get("description") or method),
        paid_date=_date(payment["paid_at"]) if payment.get("status") == "paid" else None,
        bank_accounts=(BankAccount(account.replace(" ", "")),) if account else (),
    )


def _address(party: dict[str, Any]) -> Address:
    town = " ".join(part for part in (party.get("postcode", ""), party.get("city", "")) if part)
    return Address(line1=party["street"], line2=town or None, country_code=vat.buyer_country(party))


def _stamp(xml: bytes, created_at: str) -> bytes:
    """Fix the header's creation time and system name, so a document is the same bytes every time."""
    root = etree.fromstring(xml)
    header = root.find(f"{{{NAMESPACE}}}Naglowek")
    header.find(f"{{{NAMESPACE}}}DataWytworzeniaFa").text = _utc(created_at)
    header.find(f"{{{NAMESPACE}}}SystemInfo").text = SYSTEM_INFO
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _utc(moment: str) -> str:
    parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _pln(grosze: int) -> Decimal:
    return Decimal(grosze) / 100


def _date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value[:10])
