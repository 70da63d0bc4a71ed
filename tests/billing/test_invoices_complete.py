"""Complete invoices (issue #16): what the data and the PDF (its text extracted with pypdf) say for each
kind of buyer, the VAT by buyer in the cart and on the invoice, the FA(3) document of each invoice
valid against the official XSD, corrections for refunds and staff price changes, the month's export."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import zipfile
from typing import Any
from unittest import mock

import pytest
from pypdf import PdfReader

from kernel import clock
from kernel.errors import CommandError, NotFound
from services.billing import fa3
from tests.billing.conftest import STAFF, customer
from tests.billing.helpers import billing_worker
from tests.billing.helpers import profile as polish_company

PROFILES = {
    "de-company": {"language": "en", "address": {"company": "Kunde GmbH", "nip": "DE123456789",
                                                "street": "Hauptstraße 1", "postcode": "10115", "city": "Berlin",
                                                "country": "DE"}},
    "fi-consumer": {"language": "en", "address": {"company": "", "nip": "", "street": "Mannerheimintie 1",
                                                 "postcode": "00100", "city": "Helsinki", "country": "FI"}},
    "de-consumer": {"language": "pl", "address": {"company": "", "nip": "", "street": "Hauptstraße 2",
                                                 "postcode": "10115", "city": "Berlin", "country": "DE"}},
    "us-company": {"language": "en", "address": {"company": "Example Inc.", "nip": "12-3456789",
                                                "street": "1 Main St", "postcode": "10001", "city": "New York",
                                                "country": "US"}},
}  # fmt: skip


def profile(account_id: str) -> dict[str, Any]:
    found = polish_company(account_id)
    special = PROFILES.get(account_id)
    if special:
        found.update(language=special["language"], billing_address=special["address"], first_name="Anna",
                     last_name="Virtanen")  # fmt: skip
    return found


@pytest.fixture
def billing(mongo_alias, published):
    mongo_alias("billing")
    accounts = mock.Mock()
    accounts.get_profile.side_effect = profile
    service = billing_worker(published, accounts=accounts)
    service.seed_demo_catalog()
    return service


def order(billing, account_id: str, key: str, method: str = "bank_transfer", code: str | None = None) -> dict:
    billing.add_cart_item(account_id, "hosting", {"plan": "hosting-start", "cycle": "yearly", "domain": "firma.pl"},
                          customer(account_id))  # fmt: skip
    if code:
        billing.apply_discount_code(account_id, code, customer(account_id))
    return billing.checkout(account_id, method, key, customer(account_id), "https://panel/return")


def offer(billing) -> None:
    now = clock.now()
    billing.set_offer("Jesień", "Rabat 20%", "/oferta", now.replace(year=now.year - 1).isoformat(),
                      now.replace(year=now.year + 1).isoformat(), "jesien20", 20, STAFF)  # fmt: skip


def pdf_text(billing, account_id: str, invoice_id: str) -> str:
    answer = billing.invoice_pdf(account_id, invoice_id)
    reader = PdfReader(io.BytesIO(base64.b64decode(answer["data"])))
    return " ".join("\n".join(page.extract_text() for page in reader.pages).split())  # wrapped cells read as one


def xml_of(billing, account_id: str, invoice_id: str) -> bytes:
    return base64.b64decode(billing.invoice_xml(account_id, invoice_id)["data"])


def test_a_polish_business_invoice_says_everything_art_106e_asks_for(billing):
    offer(billing)
    result = order(billing, "a1", "pl-key-1", code="jesien20")
    invoice = billing.get_invoice("a1", result["invoice_id"])
    line = invoice["lines"][0]
    assert (line["unit_net"], line["discount"], line["net"], line["vat_rate"], line["vat"]) == (15000, 3000, 12000,
                                                                                               23, 2760)  # fmt: skip
    assert invoice["period"]["from"] == invoice["issue_date"][:10] and invoice["ksef"]["required"] is True
    text = pdf_text(billing, "a1", result["invoice_id"])
    for shown in (f"Faktura VAT nr {invoice['number']}", "Data wystawienia: " + invoice["issue_date"][:10],
                  "Okres świadczenia usługi: " + invoice["period"]["from"], "Sprzedawca", "Panel Hosting sp. z o.o.",
                  "NIP: 5260250274", "Nabywca", "Zażółć gęślą jaźń sp. z o.o.", "Polska", "J.m.", "usł.", "Ilość",
                  "Cena jedn. netto", "150,00 zł", "Rabat", "30,00 zł", "120,00 zł", "23%", "27,60 zł", "147,60 zł",
                  "Podsumowanie według stawek VAT", "Sposób płatności: przelew bankowy", "Do zapłaty: 147,60 zł",
                  "Rachunek bankowy: PL61 1090 1014 0000 0712 1981 2874", f"Tytuł przelewu: {invoice['number']}",
                  "Termin płatności", "Faktura zostanie przesłana do KSeF"):  # fmt: skip
        assert shown in text, shown
    fa3.validate(xml_of(billing, "a1", result["invoice_id"]))


def test_a_paid_invoice_says_paid_and_when(billing):
    billing.add_credit("a1", 100_000, STAFF)
    result = order(billing, "a1", "paid-key-1", method="credit")
    invoice = billing.get_invoice("a1", result["invoice_id"])
    text = pdf_text(billing, "a1", result["invoice_id"])
    assert f"Zapłacono {invoice['paid_at'][:10]}: 184,50 zł" in text
    assert "Sposób płatności: środki na koncie (saldo)" in text
    assert "Do zapłaty" not in text and "Termin płatności" not in text
    fa3.validate(xml_of(billing, "a1", result["invoice_id"]))


def test_an_english_invoice_to_an_eu_business_is_reverse_charged_and_fully_english(billing):
    cart = billing.add_cart_item("de-company", "hosting", {"plan": "hosting-start", "cycle": "yearly"},
                                 customer("de-company"))  # fmt: skip
    assert cart["vat_code"] == "np II" and cart["totals"]["total_vat"] == 0 and cart["items"][0]["vat"] == 0
    result = billing.checkout("de-company", "bank_transfer", "de-key-1", customer("de-company"))
    invoice = billing.get_invoice("de-company", result["invoice_id"])
    assert invoice["total_gross"] == invoice["total_net"] == 15000 and invoice["language"] == "en"
    text = pdf_text(billing, "de-company", result["invoice_id"])
    for shown in (f"VAT invoice no. {invoice['number']}", "Issue date", "Service period", "Germany",
                  "EU VAT number: DE123456789", "Poland", "Unit", "service", "Unit net price", "np.", "reverse charge",
                  "Payment method: bank transfer", "Amount due: 150,00 zł", "yearly (12 months)"):  # fmt: skip
        assert shown in text, shown
    for polish in ("Faktura", "Nabywca", "rocznie", "usł.", "Polska", "Niemcy", "odwrotne"):
        assert polish not in text, polish
    fa3.validate(xml_of(billing, "de-company", result["invoice_id"]))


def test_eu_consumers_pay_their_countrys_vat_shown_in_the_cart_before_paying(billing):
    cart = billing.add_cart_item("fi-consumer", "hosting", {"plan": "hosting-start", "cycle": "yearly"},
                                 customer("fi-consumer"))  # fmt: skip
    assert (cart["vat_code"], cart["items"][0]["vat_rate"], cart["items"][0]["vat"]) == ("OSS", "25.5", 3825)
    result = billing.checkout("fi-consumer", "bank_transfer", "fi-key-1", customer("fi-consumer"))
    invoice = billing.get_invoice("fi-consumer", result["invoice_id"])
    assert invoice["total_gross"] == 18825 and invoice["vat_summary"][0]["vat_rate"] == "25.5"
    assert invoice["ksef"]["required"] is False  # a consumer: KSeF only with KSEF_B2C=yes
    text = pdf_text(billing, "fi-consumer", result["invoice_id"])
    assert "25.5%" in text and "Finland" in text and "Consumer (no tax ID)" in text and "OSS scheme" in text
    fa3.validate(xml_of(billing, "fi-consumer", result["invoice_id"]))
    de = billing.add_cart_item("de-consumer", "hosting", {"plan": "hosting-start", "cycle": "yearly"},
                               customer("de-consumer"))  # fmt: skip
    assert (de["items"][0]["vat_rate"], de["totals"]["total_vat"]) == (19, 2850)


def test_outside_the_eu_no_polish_vat(billing):
    result = order(billing, "us-company", "us-key-1")
    invoice = billing.get_invoice("us-company", result["invoice_id"])
    assert invoice["total_vat"] == 0 and invoice["lines"][0]["vat_code"] == "np I"
    assert "United States" in pdf_text(billing, "us-company", result["invoice_id"])
    fa3.validate(xml_of(billing, "us-company", result["invoice_id"]))


def test_ksef_for_consumers_only_with_ksef_b2c(billing, monkeypatch):
    monkeypatch.setenv("KSEF_B2C", "yes")
    result = order(billing, "de-consumer", "b2c-key-1")
    assert billing.get_invoice("de-consumer", result["invoice_id"])["ksef"]["required"] is True


def test_the_xml_is_the_owners_only(billing):
    result = order(billing, "a1", "own-key-1")
    with pytest.raises(NotFound):
        billing.invoice_xml("a2", result["invoice_id"])


def refund(billing, account_id: str, key: str) -> dict:
    billing.add_credit(account_id, 100_000, STAFF)
    result = order(billing, account_id, key, method="credit")
    billing.refund_invoice(result["invoice_id"], STAFF)
    return result


def test_a_refund_issues_a_correction_referring_to_the_invoice_in_its_own_series(billing):
    result = refund(billing, "a1", "refund-key-1")
    billing.run_invoice_documents()
    billing.run_invoice_documents()  # a second run issues nothing more
    invoice = billing.get_invoice("a1", result["invoice_id"])
    assert len(invoice["corrections"]) == 1
    correction = billing.get_invoice("a1", invoice["corrections"][0])
    assert correction["number"].startswith("KOR/") and correction["number"].endswith("/0001")
    assert correction["kind"] == "correction" and correction["total_gross"] == -invoice["total_gross"]
    assert correction["correction"]["number"] == invoice["number"]
    text = pdf_text(billing, "a1", correction["invoice_id"])
    for shown in (f"Faktura korygująca nr {correction['number']}", f"Korekta faktury nr: {invoice['number']}",
                  "Przyczyna korekty: Zwrot całości zapłaty", "Przed korektą", "Po korekcie",
                  "Do zwrotu: 184,50 zł"):  # fmt: skip
        assert shown in text, shown
    root = fa3.etree.fromstring(xml_of(billing, "a1", correction["invoice_id"]))
    ns = {"f": fa3.NAMESPACE}
    assert root.xpath("//f:RodzajFaktury/text()", namespaces=ns) == ["KOR"]
    assert root.xpath("//f:DaneFaKorygowanej/f:NrFaKorygowanej/text()", namespaces=ns) == [invoice["number"]]


def test_staff_correct_a_price_with_a_reason(billing):
    result = order(billing, "a1", "price-key-1")
    with pytest.raises(CommandError) as bad:
        billing.correct_invoice(result["invoice_id"], {"7": 100}, "", "fix-key-1", STAFF)
    assert bad.value.fields == {"reason": "required", "prices": "invalid_prices"}
    correction = billing.correct_invoice(result["invoice_id"], {"1": 10000}, "Błędna cena", "fix-key-1", STAFF)
    again = billing.correct_invoice(result["invoice_id"], {"1": 10000}, "Błędna cena", "fix-key-1", STAFF)
    assert again["invoice_id"] == correction["invoice_id"]
    assert (correction["total_net"], correction["total_vat"]) == (-5000, -1150)
    pair = correction["correction"]["pairs"][0]
    assert (pair["before"]["net"], pair["after"]["net"]) == (15000, 10000)
    fa3.validate(xml_of(billing, "a1", correction["invoice_id"]))


def test_the_months_export_for_the_accountant(billing):
    order(billing, "a1", "export-key-1")
    refund(billing, "de-company", "export-key-2")
    billing.run_invoice_documents()
    month = clock.now().strftime("%Y-%m")
    with pytest.raises(CommandError) as bad:
        billing.export_invoices("2026-13", "csv", STAFF)
    assert bad.value.fields == {"month": "invalid_month"}
    answer = billing.export_invoices(month, "csv", STAFF)
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(answer["data"]).decode("utf-8-sig"))))
    assert [r["kind"] for r in rows] == ["order", "order", "correction"]
    assert rows[2]["corrects"] == rows[1]["number"] and rows[2]["gross"] == "-150.00"
    assert rows[0]["buyer_tax_id"] == "5260250274" and rows[1]["vat_rates"] == "np II: 0.00"
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(billing.export_invoices(month, "zip", STAFF)["data"])))
    assert len(archive.namelist()) == 3
    for name in archive.namelist():
        fa3.validate(archive.read(name))


def test_a_renewal_invoice_names_its_period_and_an_english_one_its_line_in_english(billing, clock_file):
    billing.add_credit("de-company", 100_000, STAFF)
    order(billing, "de-company", "renewal-key-1", method="credit")
    [service] = billing.list_services("de-company")["items"]
    due = dt.datetime.fromisoformat(service["next_due_date"].removesuffix("Z"))
    clock.advance((due - clock.now()).total_seconds() - 13 * 86400)
    assert billing.run_billing_cycle()["renewals_requested"] == 1
    [renewal] = [i for i in billing.list_invoices("de-company")["items"] if i["kind"] == "renewal"]
    invoice = billing.get_invoice("de-company", renewal["invoice_id"])
    assert invoice["period"]["from"] == due.date().isoformat() and invoice["total_vat"] == 0  # reverse charge again
    text = pdf_text(billing, "de-company", renewal["invoice_id"])
    assert f"Service period: {invoice['period']['from']} – {invoice['period']['to']}" in text
    assert "Renewal: Hosting Start — firma.pl (yearly), period" in text and "Odnowienie" not in text
    fa3.validate(xml_of(billing, "de-company", renewal["invoice_id"]))
