"""Invoices in KSeF through the whole stack (issue #16): billing (under nameko and eventlet) sends to
tools/ksef_server.py, started on free ports by tests/conftest.py's `ksef_server`. A business customer's
order yields an invoice whose PDF (text read with pypdf) shows its KSeF number, KOD I and every field
art. 106e asks for, and whose /xml validates against the FA(3) XSD; KSeF down then back sends it once;
a rejected one is on the staff desk with KSeF's reason; a refund's correction refers to it."""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import pytest
import requests
from ksef_client.utils.ksef_number import is_valid_ksef_number
from pypdf import PdfReader

from kernel.caller import SignedClusterRpcProxy
from services.billing import fa3
from tests.e2e.helpers import bearer, register_verified, wait_for
from tests.e2e.test_staff_desk import STAFF_PASSWORD, post_form, staff, staff_browser  # noqa: F401 (fixture)
from tests.e2e.test_support_pages import login_browser

COMPANY = {"company": "Drukarnia Łódzka sp. z o.o.", "nip": "111-111-11-11", "street": "ul. Piotrkowska 100",
           "postcode": "90-001", "city": "Łódź", "country": "PL"}  # fmt: skip


class Ksef:
    def __init__(self, control: str):
        self.control = control

    def tell(self, what: str, **data) -> None:
        requests.post(f"{self.control}/{what}", json=data, timeout=5).raise_for_status()

    def received(self, number: str) -> list[dict]:
        return [i for i in requests.get(f"{self.control}/invoices", timeout=5).json() if i.get("number") == number]


@pytest.fixture
def ksef(ksef_server):
    server = Ksef(ksef_server["control"])
    server.tell("up")
    yield server
    server.tell("up")


@pytest.fixture(scope="module")
def company(stack) -> tuple[str, str]:
    """A Polish company (its billing address with a NIP): e-mail and bearer token."""
    email, token = register_verified(stack.gateway_url, stack.var / "mail")
    saved = requests.patch(f"{stack.gateway_url}/api/v1/profile", headers=bearer(token), timeout=15,
                           json={"billing_address": COMPANY})  # fmt: skip
    assert saved.status_code == 200, saved.text
    return email, token


@pytest.fixture(scope="module")
def business(company) -> str:
    return company[1]


def api(stack, token: str, path: str) -> requests.Response:
    return requests.get(f"{stack.gateway_url}/api/v1{path}", headers=bearer(token), timeout=30)


def order(stack, token: str, method: str = "bank_transfer") -> str:
    base = stack.gateway_url
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=15,
                          json={"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "yearly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    placed = requests.post(f"{base}/api/v1/cart/checkout", json={"payment_method": method}, timeout=30,
                           headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    assert placed.status_code == 200, placed.text
    return placed.json()["invoice_id"]


def ksef_state(stack, token: str, invoice_id: str, status: str) -> dict:
    def reached() -> dict | None:
        invoice = api(stack, token, f"/invoices/{invoice_id}").json()
        return invoice if invoice.get("ksef", {}).get("status") == status else None

    return wait_for(reached, timeout=40, what=f"the invoice {status} in KSeF")


def pdf_text(stack, token: str, invoice_id: str) -> str:
    answer = api(stack, token, f"/invoices/{invoice_id}/pdf")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    return " ".join("\n".join(page.extract_text() for page in reader.pages).split())


def test_a_business_order_yields_an_invoice_in_ksef_with_every_field_on_its_pdf(stack, company, business, ksef):
    invoice_id = order(stack, business)
    invoice = ksef_state(stack, business, invoice_id, "sent")
    number, ksef_number = invoice["number"], invoice["ksef"]["ksef_number"]
    assert is_valid_ksef_number(ksef_number) and len(ksef.received(number)) == 1
    text = pdf_text(stack, business, invoice_id)
    for shown in (f"Faktura VAT nr {number}", f"Data wystawienia: {invoice['issue_date'][:10]}",
                  f"Okres świadczenia usługi: {invoice['period']['from']} – {invoice['period']['to']}",
                  f"Termin płatności: {invoice['due_date'][:10]}", "Sprzedawca", "NIP: 5260250274", "Nabywca",
                  "Drukarnia Łódzka sp. z o.o.", "NIP: 1111111111", "Polska", "J.m.", "usł.", "Ilość",
                  "Cena jedn. netto", "150,00 zł", "Rabat", "0,00 zł", "23%", "34,50 zł", "184,50 zł",
                  "Podsumowanie według stawek VAT", "Sposób płatności: przelew bankowy", "Do zapłaty: 184,50 zł",
                  "Rachunek bankowy:", f"Tytuł przelewu: {number} KSeF {ksef_number}", f"Numer KSeF: {ksef_number}",
                  "Kod weryfikacyjny KSeF (KOD I)", invoice["ksef"]["qr_link"]):  # fmt: skip
        assert shown.replace("\u00a0", " ") in text.replace("\u00a0", " "), shown
    xml = api(stack, business, f"/invoices/{invoice_id}/xml")
    assert xml.status_code == 200 and xml.headers["Content-Type"].startswith("application/xml")
    fa3.validate(xml.content)
    _, stranger = register_verified(stack.gateway_url, stack.var / "mail")
    assert api(stack, stranger, f"/invoices/{invoice_id}/xml").status_code == 404
    page = login_browser(stack.gateway_url, company[0]).get(f"{stack.gateway_url}/invoices/{invoice_id}", timeout=15)
    assert page.status_code == 200 and f"<strong data-ksef-number>{ksef_number}</strong>" in page.text
    assert "<svg" in page.text and f"{number} KSeF {ksef_number}" in page.text  # KOD I and the transfer title


def test_ksef_down_then_back_the_invoice_is_offline_then_sent_once(stack, business, ksef):
    ksef.tell("down", mode="refuse")
    invoice_id = order(stack, business)
    invoice = ksef_state(stack, business, invoice_id, "offline")
    text = pdf_text(stack, business, invoice_id)
    assert "OFFLINE — Faktura wystawiona w trybie offline" in text and invoice["ksef"]["qr_link"] in text
    ksef.tell("up")
    invoice = ksef_state(stack, business, invoice_id, "sent")
    got = ksef.received(invoice["number"])
    assert [(g["ksef_number"], g["mode"]) for g in got] == [(invoice["ksef"]["ksef_number"], "Offline")]


def test_a_rejected_invoice_is_shown_to_staff_with_ksefs_reason(stack, business, ksef, staff):  # noqa: F811
    ksef.tell("reject", code=450, reason="Błąd weryfikacji semantyki dokumentu faktury")
    invoice_id = order(stack, business)
    invoice = ksef_state(stack, business, invoice_id, "rejected")
    desk = staff_browser(stack, staff)
    page = desk.get(f"{stack.gateway_url}/staff/invoices", timeout=15)
    assert page.status_code == 200 and invoice["number"] in page.text
    assert "450: Błąd weryfikacji semantyki dokumentu faktury" in page.text
    month = invoice["issue_date"][:7]
    exported = desk.get(f"{stack.gateway_url}/staff/invoices/export", params={"month": month, "format": "csv"},
                        timeout=30)  # fmt: skip
    assert exported.status_code == 200 and invoice["number"] in exported.content.decode("utf-8-sig")
    assert "rejected" in exported.content.decode("utf-8-sig")
    bad = desk.get(f"{stack.gateway_url}/staff/invoices/export", params={"month": "2026-13"}, timeout=30)
    assert bad.status_code == 422
    login = requests.post(f"{stack.gateway_url}/api/v1/auth/login", timeout=15,
                          json={"email": staff["email"], "password": STAFF_PASSWORD})  # fmt: skip
    staff_token = login.json()["token"]
    problems = api(stack, staff_token, "/staff/invoices/ksef-problems").json()["items"]
    assert [(p["number"], p["ksef"]["code"]) for p in problems if p["invoice_id"] == invoice_id] == [
        (invoice["number"], 450)]  # fmt: skip
    archive = requests.get(f"{stack.gateway_url}/api/v1/staff/invoices/export", headers=bearer(staff_token),
                           params={"month": month, "format": "zip"}, timeout=30)  # fmt: skip
    assert archive.status_code == 200 and archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as documents:
        fa3.validate(documents.read(f"{invoice['number'].replace('/', '-')}.xml"))
    assert api(stack, business, "/staff/invoices/export?month=" + month).status_code == 404  # customers: no such thing


def test_a_refund_yields_a_correction_referring_to_the_invoice(stack, company, business, ksef, staff):  # noqa: F811
    invoice_id = order(stack, business)
    invoice = ksef_state(stack, business, invoice_id, "sent")
    staff_ctx = {"actor": {"type": "staff", "id": staff["account_id"]}}
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, ctx=staff_ctx,
                               timeout=60) as cluster:  # fmt: skip
        cluster.billing.mark_invoice_paid(invoice_id=invoice_id)
        cluster.billing.refund_invoice(invoice_id=invoice_id)

    def corrected() -> list | None:
        return api(stack, business, f"/invoices/{invoice_id}").json().get("corrections") or None

    [correction_id] = wait_for(corrected, timeout=40, what="the correction")
    correction = ksef_state(stack, business, correction_id, "sent")
    assert correction["number"].startswith("KOR/") and correction["total_gross"] == -invoice["total_gross"]
    assert correction["correction"]["number"] == invoice["number"]
    assert correction["correction"]["ksef_number"] == invoice["ksef"]["ksef_number"]
    text = pdf_text(stack, business, correction_id)
    assert f"Korekta faktury nr: {invoice['number']}" in text
    assert f"Numer KSeF faktury korygowanej: {invoice['ksef']['ksef_number']}" in text
    fa3.validate(api(stack, business, f"/invoices/{correction_id}/xml").content)
    assert len(ksef.received(correction["number"])) == 1
    person = login_browser(stack.gateway_url, company[0])
    listed = person.get(f"{stack.gateway_url}/invoices", timeout=15)
    assert listed.status_code == 200 and correction["number"] in listed.text and "korekta" in listed.text
    page = person.get(f"{stack.gateway_url}/invoices/{correction_id}", timeout=15)
    assert page.status_code == 200 and f"Korekta faktury nr {invoice['number']}" in page.text
    corrected_page = person.get(f"{stack.gateway_url}/invoices/{invoice_id}", timeout=15).text
    assert f'href="/invoices/{correction_id}"' in corrected_page


def test_the_cart_shows_reverse_charge_and_eu_consumer_vat(stack):
    base = stack.gateway_url
    for address, code, vat in (
        ({"company": "Kunde GmbH", "nip": "DE123456789", "street": "Hauptstraße 1", "postcode": "10115",
          "city": "Berlin", "country": "DE"}, "np II", 0),
        ({"company": "", "nip": "", "street": "Rue de Rivoli 1", "postcode": "75001", "city": "Paris",
          "country": "FR"}, "OSS", 3000),
    ):  # fmt: skip
        _, token = register_verified(base, stack.var / "mail")
        saved = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), json={"billing_address": address},
                               timeout=15)  # fmt: skip
        assert saved.status_code == 200, saved.text
        added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=15,
                              json={"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "yearly"}})  # fmt: skip
        assert added.status_code == 201, added.text
        shown = api(stack, token, "/cart/items").json()
        assert shown["items"][0]["vat"] == vat and shown["items"][0]["vat_code"] == code, shown
    mismatch = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), timeout=15,
                              json={"billing_address": {**address, "nip": "DE123456789"}})  # fmt: skip
    assert mismatch.status_code == 422 and "vat_id_country_mismatch" in mismatch.text


def test_staff_correct_a_price_on_the_desk(stack, business, ksef, staff):  # noqa: F811
    invoice_id = order(stack, business)
    invoice = ksef_state(stack, business, invoice_id, "sent")
    desk = staff_browser(stack, staff)
    page_url = f"{stack.gateway_url}/staff/invoices"
    key = re.search(r'name="key" value="([0-9a-f]{32})"', desk.get(page_url, timeout=15).text).group(1)
    form = {"number": invoice["number"], "line": "1", "unit_net": "abc", "reason": "Cena promocyjna nie naliczona",
            "key": key}  # fmt: skip
    bad = post_form(desk, page_url, f"{page_url}/correct", form)
    assert (
        bad.status_code == 422 and 'id="e-unit_net"' in bad.text and 'value="Cena promocyjna nie naliczona"' in bad.text
    )
    wrong_line = post_form(desk, page_url, f"{page_url}/correct", {**form, "unit_net": "100,00", "line": "9"})
    assert wrong_line.status_code == 422 and 'id="e-line"' in wrong_line.text
    done = post_form(desk, page_url, f"{page_url}/correct", {**form, "unit_net": "100,00"})
    assert done.status_code == 200 and "Wystawiono fakturę korygującą KOR/" in done.text

    def corrected() -> list | None:
        return api(stack, business, f"/invoices/{invoice_id}").json().get("corrections") or None

    [correction_id] = wait_for(corrected, timeout=40, what="the correction")
    correction = ksef_state(stack, business, correction_id, "sent")
    assert (correction["total_net"], correction["total_vat"]) == (-5000, -1150)
    assert correction["correction"]["reason"] == "Cena promocyjna nie naliczona"


def test_an_english_eu_business_sees_its_reverse_charged_invoice_in_english(stack, ksef):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail", language="en")
    address = {"company": "Kunde GmbH", "nip": "DE123456789", "street": "Hauptstraße 1", "postcode": "10115",
               "city": "Berlin", "country": "DE"}  # fmt: skip
    assert requests.patch(f"{base}/api/v1/profile", headers=bearer(token), json={"billing_address": address},
                          timeout=15).status_code == 200  # fmt: skip
    invoice_id = order(stack, token)
    invoice = ksef_state(stack, token, invoice_id, "sent")  # a business abroad: its invoice goes to KSeF too
    page = login_browser(base, email).get(f"{base}/invoices/{invoice_id}", timeout=15).text
    assert "Hosting Start, yearly (12 months)" in page and "np. ·" in page and "Germany" in page
    text = pdf_text(stack, token, invoice_id)
    assert f"VAT invoice no. {invoice['number']}" in text and "reverse charge" in text and "Faktura" not in text
