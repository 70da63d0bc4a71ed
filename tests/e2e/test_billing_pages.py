"""Billing pages driven like a browser: order, cart, sandbox card, invoices, services, renewals,
suspension and unsuspension with a moved clock, idempotent checkout, the webhook endpoint."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import zlib
from urllib.parse import urlparse

import pytest
import requests

from kernel.caller import SignedClusterRpcProxy
from services.billing import payments
from tests.e2e.helpers import PASSWORD, csrf, wait_for
from tests.e2e.test_pages import _register_and_login
from tools.seed import seed_demo_offer

DAY = 86_400
INVOICE_LINK_RE = re.compile(r'href="/invoices/([0-9a-f-]{36})"')
RAW_KEY_RE = re.compile(r"\bbilling_[a-z_]+\b")  # a message key shown instead of its text
SERVICE_LINK_RE = re.compile(r'href="/services/([0-9a-f-]{36})"')


class Person:
    """A logged-in browser session on the panel."""

    def __init__(self, stack):
        self.base, self.browser = stack.gateway_url, requests.Session()
        self.email = _register_and_login(self.base, stack.var / "mail", self.browser)

    def get(self, path: str, **kwargs) -> requests.Response:
        response = self.browser.get(f"{self.base}{path}", timeout=30, **kwargs)
        if response.headers.get("Content-Type", "").startswith("text/html"):
            assert not RAW_KEY_RE.search(response.text), f"untranslated {RAW_KEY_RE.findall(response.text)} on {path}"
        return response

    def post(self, path: str, data: dict, form_page: str | None = None, **kwargs) -> requests.Response:
        """Submit a form the way a browser does: with the CSRF token of the page it is on."""
        token = csrf(self.get(form_page or path).text)
        return self.browser.post(f"{self.base}{path}", data={"csrf_token": token, **data}, timeout=30, **kwargs)

    def log_in_again(self) -> None:
        """After the clock moved past the session's lifetime."""
        self.browser.cookies.clear()
        page = self.get("/login")
        self.browser.post(f"{self.base}/login", data={"csrf_token": csrf(page.text), "email": self.email,
                                                     "password": PASSWORD}, timeout=30)  # fmt: skip

    def add_plan(self, plan: str = "hosting-start", cycle: str = "monthly", domain: str = "") -> requests.Response:
        return self.post(f"/order/{plan}", {"cycle": cycle, "domain": domain})

    def checkout(self, method: str, key: str | None = None) -> requests.Response:
        cart = self.get("/cart").text
        key = key or re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)
        return self.browser.post(f"{self.base}/cart/checkout", timeout=30, allow_redirects=False,
                                 data={"csrf_token": csrf(cart), "payment_method": method, "idempotency_key": key})  # fmt: skip

    def pay_on_sandbox(self, redirect: requests.Response, outcome: str = "success") -> requests.Response:
        """Follow the redirect to the provider's page and click its button; lands on the return page."""
        assert redirect.status_code == 302, redirect.text
        provider_page = self.browser.get(redirect.headers["Location"], timeout=30)
        assert provider_page.status_code == 200 and "Sandbox Pay" in provider_page.text
        assert not RAW_KEY_RE.search(provider_page.text)
        return self.browser.post(provider_page.url, timeout=30,
                                 data={"csrf_token": csrf(provider_page.text), "outcome": outcome})  # fmt: skip


def billing(stack) -> SignedClusterRpcProxy:
    return SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60)


def run_billing_cycle(stack) -> dict:
    """What the billing service's timer runs; the test runs it right after moving the clock."""
    with billing(stack) as cluster:
        return cluster.billing.run_billing_cycle()


def advance_clock(stack, days: float) -> None:
    stack.clock_file.write_text(str(float(stack.clock_file.read_text() or 0) + days * DAY))


@pytest.fixture
def stack_clock(stack):
    """Moves the stack's shared clock by days; puts it back afterwards for the other tests."""
    before = stack.clock_file.read_text()
    yield lambda days: advance_clock(stack, days)
    stack.clock_file.write_text(before)


def wait_paid(person: Person, return_page: requests.Response) -> str:
    """Reload the return page (as its Refresh header does) until the webhook has been applied."""
    assert return_page.status_code == 200 and "/payments/return" in return_page.url
    assert not RAW_KEY_RE.search(return_page.text)
    return wait_for(lambda: (page := person.browser.get(return_page.url, timeout=30).text)
                    and 'data-payment-status="paid"' in page and page, what="the payment confirmed")  # fmt: skip


def pdf_unicode_maps(raw: bytes) -> list[str]:
    maps = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S):
        try:
            text = zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:
            text = match.group(1).decode("latin-1")
        if "beginbfchar" in text or "beginbfrange" in text:
            maps.append(text.upper())
    return maps


# --- order, sandbox card, invoice, PDF, service -------------------------------------------------
def test_person_orders_a_plan_and_pays_with_the_sandbox_card(stack):
    person = Person(stack)
    catalogue = person.get("/order")
    assert catalogue.status_code == 200 and "Hosting Start" in catalogue.text
    assert "15,00" in catalogue.text and "18,45" in catalogue.text  # net and gross of the monthly price

    bad = person.add_plan(domain="nie domena!")
    assert bad.status_code == 422 and 'id="e-domain"' in bad.text and 'value="nie domena!"' in bad.text
    added = person.add_plan(domain="zazolc.example.pl")
    assert added.status_code == 200 and added.url.endswith("/cart") and "Dodano do koszyka." in added.text
    item_id = re.search(r"/cart/items/([0-9a-f-]+)/cycle", added.text).group(1)
    yearly = person.post(f"/cart/items/{item_id}/cycle", {"cycle": "yearly"}, form_page="/cart")
    assert 'data-total="net"><span class="money">150,00' in yearly.text.replace("\xa0", " ")
    monthly = person.post(f"/cart/items/{item_id}/cycle", {"cycle": "monthly"}, form_page="/cart")
    assert 'data-total="gross"><strong><span class="money">18,45' in monthly.text

    redirect = person.checkout("card")
    assert "/sandbox-pay/" in redirect.headers["Location"]
    return_page = person.pay_on_sandbox(redirect)
    paid_page = wait_paid(person, return_page)
    assert "Płatność przyjęta" in paid_page
    invoice_id = INVOICE_LINK_RE.search(paid_page).group(1)

    invoice = person.get(f"/invoices/{invoice_id}")
    assert invoice.status_code == 200 and 'data-invoice-status="paid"' in invoice.text
    assert "Sprzedawca" in invoice.text and "Nabywca" in invoice.text and "Łucja Żmuda" in invoice.text
    pdf = person.get(f"/invoices/{invoice_id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and b"/FontFile2" in pdf.content and b"DejaVu" in pdf.content
    maps = pdf_unicode_maps(pdf.content)
    for letter in "ŁŻŚę":  # the buyer Łucja Żmuda, the seller's ul. Świętokrzyska
        assert any(f"<{ord(letter):04X}>" in cmap for cmap in maps), letter

    services = person.get("/services")
    service_id = SERVICE_LINK_RE.search(services.text).group(1)
    assert "aktywna" in services.text and "zazolc.example.pl" in services.text
    manage = person.get(f"/services/{service_id}")
    assert 'data-service-status="active"' in manage.text and invoice_id in manage.text
    dashboard = person.get("/")
    assert f'href="/services/{service_id}"' in dashboard.text
    filtered = person.get("/services?status=suspended")  # filtered on the server, the filter kept
    assert not SERVICE_LINK_RE.search(filtered.text) and '<option value="suspended" selected>' in filtered.text
    assert SERVICE_LINK_RE.search(person.get("/services?status=active&page=1").text).group(1) == service_id


def test_declined_card_leaves_the_invoice_unpaid_and_payable(stack):
    person = Person(stack)
    person.add_plan()
    declined = person.pay_on_sandbox(person.checkout("card"), outcome="failure")
    assert declined.status_code == 200 and "Płatność została odrzucona" in declined.text
    assert "Refresh" not in declined.headers
    invoice_id = INVOICE_LINK_RE.search(declined.text).group(1)
    invoice = person.get(f"/invoices/{invoice_id}")
    assert 'data-invoice-status="unpaid"' in invoice.text and "Dane do przelewu" in invoice.text
    retry = person.post(f"/invoices/{invoice_id}/pay", {"payment_method": "card"}, form_page=f"/invoices/{invoice_id}",
                        allow_redirects=False)  # fmt: skip
    wait_paid(person, person.pay_on_sandbox(retry))
    assert 'data-invoice-status="paid"' in person.get(f"/invoices/{invoice_id}").text


def test_double_submitted_checkout_places_one_order_and_one_invoice(stack):
    person = Person(stack)
    person.add_plan()
    cart = person.get("/cart").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)
    first, second = person.checkout("bank_transfer", key), person.checkout("bank_transfer", key)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]  # the same invoice page
    invoice_page = person.get(first.headers["Location"])
    assert "Dane do przelewu" in invoice_page.text and "PL61 1090 1014 0000 0712 1981 2874" in invoice_page.text
    listed = person.get("/invoices")
    assert len(set(INVOICE_LINK_RE.findall(listed.text))) == 1
    assert "Koszyk jest pusty" in person.get("/cart").text


def test_checkout_errors_are_shown_and_nothing_is_ordered(stack):
    person = Person(stack)
    assert "Koszyk jest pusty" in person.get("/cart").text
    person.add_plan()
    refused = person.post("/cart/discount", {"discount_code": "NIEMA-KODU"}, form_page="/cart")
    assert refused.status_code == 422 and 'id="e-discount_code"' in refused.text
    assert 'value="NIEMA-KODU"' in refused.text
    no_method = person.checkout("")
    assert no_method.status_code == 422 and 'id="e-payment_method"' in no_method.text
    assert "Brak faktur." in person.get("/invoices").text


def test_pages_of_another_account_give_404(stack):
    owner, stranger = Person(stack), Person(stack)
    owner.add_plan()
    redirect = owner.checkout("bank_transfer")
    invoice_path = urlparse(redirect.headers["Location"]).path
    assert owner.get(invoice_path).status_code == 200
    for path in (invoice_path, f"{invoice_path}/pdf", f"/services/{uuid.uuid4()}"):
        assert stranger.get(path).status_code == 404, path
    paying = stranger.post(f"{invoice_path}/pay", {"payment_method": "card"}, form_page="/invoices")
    assert paying.status_code == 404
    assert stranger.get("/payments/return", params={"payment_id": "x"}).status_code == 404


def test_pages_need_login(stack):
    for path in ("/order", "/cart", "/invoices", "/services", "/renewals"):
        response = requests.get(f"{stack.gateway_url}{path}", allow_redirects=False, timeout=10)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


# --- the webhook endpoint -----------------------------------------------------------------------
@pytest.fixture
def webhook_url(stack) -> str:
    return f"{stack.gateway_url}/payments/sandbox/webhook"


def test_webhook_needs_a_valid_signature_and_a_duplicate_is_applied_once(stack, webhook_url):
    person = Person(stack)
    person.add_plan()
    redirect = person.checkout("card")
    payment_id = urlparse(redirect.headers["Location"]).path.rsplit("/", 1)[1]
    with billing(stack) as cluster:
        intent = cluster.billing.sandbox_get_payment(payment_id)
    body = json.dumps({"type": "payment.succeeded", "payment_id": payment_id, "account_id": intent["account_id"],
                       "invoice_ids": intent["invoice_ids"], "amount": intent["amount"], "currency": "PLN"})  # fmt: skip
    forged = requests.post(webhook_url, data=body, headers={"X-Sandbox-Signature": "t=1,v1=" + "0" * 64}, timeout=30)
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_signature"
    invoice_path = f"/invoices/{intent['invoice_ids'][0]}"
    # signed, but the customer never paid on the provider's page: our session says so, the body cannot
    early = requests.post(webhook_url, data=body, headers={"X-Sandbox-Signature": payments.sign(body)}, timeout=30)
    assert early.status_code == 409 and early.json()["error"]["code"] == "payment_not_succeeded"
    assert 'data-invoice-status="unpaid"' in person.get(invoice_path).text

    wait_paid(person, person.pay_on_sandbox(redirect))  # the provider's own webhook is applied
    again = requests.post(webhook_url, data=body, headers={"X-Sandbox-Signature": payments.sign(body)}, timeout=30)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert 'data-invoice-status="paid"' in person.get(invoice_path).text
    services = person.get("/services").text
    assert len(SERVICE_LINK_RE.findall(services)) == 1  # one service, not two


# --- the clock: renewal, notice, renewals page, suspension, unsuspension -------------------------
def test_moving_the_clock_renews_suspends_and_paying_unsuspends(stack, stack_clock):
    person = Person(stack)
    person.add_plan(domain="odnowienie.example.pl")
    wait_paid(person, person.pay_on_sandbox(person.checkout("card")))
    service_id = SERVICE_LINK_RE.search(person.get("/services").text).group(1)
    assert "Żadna usługa nie wymaga teraz odnowienia." in person.get("/renewals").text

    stack_clock(20)  # the monthly period ends in about 10 days: within RENEWAL_DAYS (14)
    run_billing_cycle(stack)
    person.log_in_again()
    dashboard = person.get("/")
    assert 'href="/renewals"' in dashboard.text and "Odnów teraz" in dashboard.text
    renewals = person.get("/renewals")
    assert f'data-service="{service_id}"' in renewals.text and "odnowienie.example.pl" in renewals.text
    renewal_invoice = INVOICE_LINK_RE.search(renewals.text).group(1)

    in_cart = person.post(f"/renewals/{service_id}/add", {}, form_page="/renewals")
    assert in_cart.url.endswith("/cart") and 'data-kind="hosting_renewal"' in in_cart.text
    again = person.post(f"/renewals/{service_id}/add", {}, form_page="/renewals")
    assert again.text.count('data-kind="hosting_renewal"') == 1  # no second line for the same renewal
    # not paid: the transfer is chosen, the invoice stays unpaid and the cart reuses the issued invoice
    ordered = person.checkout("bank_transfer")
    assert urlparse(ordered.headers["Location"]).path == f"/invoices/{renewal_invoice}"

    stack_clock(20)  # ten days past the due date, beyond the 5-day grace period
    run_billing_cycle(stack)
    person.log_in_again()
    service = person.get(f"/services/{service_id}")
    assert 'data-service-status="suspended"' in service.text and "zawieszona" in service.text
    unpaid = person.get("/invoices", params={"status": "unpaid"})
    assert renewal_invoice in unpaid.text and "Zapłać wszystkie nieopłacone" in unpaid.text

    paying = person.post("/invoices/pay-all", {"payment_method": "card"}, form_page="/invoices?status=unpaid",
                         allow_redirects=False)  # fmt: skip
    wait_paid(person, person.pay_on_sandbox(paying))
    service = person.get(f"/services/{service_id}")
    assert 'data-service-status="active"' in service.text
    assert 'data-invoice-status="paid"' in person.get(f"/invoices/{renewal_invoice}").text
    assert "Brak faktur." in person.get("/invoices", params={"status": "unpaid"}).text


def test_cancellation_needs_confirmation_then_ends_the_service(stack):
    person = Person(stack)
    person.add_plan()
    wait_paid(person, person.pay_on_sandbox(person.checkout("card")))
    service_id = SERVICE_LINK_RE.search(person.get("/services").text).group(1)
    refused = person.post(f"/services/{service_id}/cancel", {"when": "immediate"}, form_page=f"/services/{service_id}")
    assert refused.status_code == 422 and 'id="e-confirm"' in refused.text
    assert 'data-service-status="active"' in refused.text
    planned = person.post(f"/services/{service_id}/cancel", {"when": "end_of_period", "confirm": "on"},
                          form_page=f"/services/{service_id}")  # fmt: skip
    assert "Zaplanowano zakończenie usługi" in planned.text and 'data-service-status="active"' in planned.text
    ended = person.post(f"/services/{service_id}/cancel", {"when": "immediate", "confirm": "on"},
                        form_page=f"/services/{service_id}")  # fmt: skip
    assert 'data-service-status="cancelled"' in ended.text


def test_invoice_list_filters_and_pages_on_the_server(stack):
    person = Person(stack)
    for _ in range(3):
        person.add_plan()
        assert person.checkout("bank_transfer").status_code == 302
    everything = person.get("/invoices")
    assert len(set(INVOICE_LINK_RE.findall(everything.text))) == 3
    assert "Zapłać wszystkie nieopłacone" in everything.text
    assert "Brak faktur." in person.get("/invoices", params={"status": "paid"}).text
    first = person.get("/invoices", params={"status": "unpaid", "per_page": "2"})
    second = person.get("/invoices", params={"status": "unpaid", "per_page": "2", "page": "2"})
    assert "Strona 1 z 2" in first.text and 'rel="next"' in first.text
    assert "Strona 2 z 2" in second.text and 'rel="prev"' in second.text
    on_pages = INVOICE_LINK_RE.findall(first.text) + INVOICE_LINK_RE.findall(second.text)
    assert len(on_pages) == len(set(on_pages)) == 3


def test_every_billing_page_is_translated_in_english(stack):
    person = Person(stack)
    person.add_plan()
    redirect = person.checkout("bank_transfer")
    invoice_path = urlparse(redirect.headers["Location"]).path
    person.add_plan(plan="hosting-pro", cycle="yearly")
    switched = person.post("/language", {"language": "en", "next": "/cart"}, form_page="/cart")
    assert "Checkout" in switched.text and "Account credit" in switched.text
    expected = {"/order": "Order a new service", "/order/hosting-start": "Add to cart", "/cart": "Total gross",
                "/invoices": "Pay all unpaid", invoice_path: "Bank transfer details", "/services": "Your services",
                "/renewals": "No service needs renewing right now."}  # fmt: skip
    for path, text in expected.items():
        page = person.get(path)
        assert page.status_code == 200 and text in page.text, path


def test_the_demo_offer_code_gives_its_discount_in_the_cart(stack):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=float(stack.clock_file.read_text()))
    with billing(stack) as cluster:  # whatever offer runs now ends, so the seed sets the demo one
        cluster.billing.set_offer("Koniec", "", "", (now - dt.timedelta(days=2)).isoformat(),
                                  (now - dt.timedelta(days=1)).isoformat(), ctx={"actor": {"type": "staff"}})  # fmt: skip
    seed_demo_offer(stack.env)
    seed_demo_offer(stack.env)  # a second `make up` keeps it
    with billing(stack) as cluster:
        seeded = cluster.billing.get_current_offer()
    assert (seeded["title_en"], seeded["text_en"]) == (
        "Hosting Start 20% off", "With the code JESIEN20 you pay 20% less for the first period."
    )  # fmt: skip
    person = Person(stack)
    assert "Hosting Start 20% taniej" in person.get("/").text
    person.add_plan()
    discounted = person.post("/cart/discount", {"discount_code": "jesien20"}, form_page="/cart")
    assert "Kod rabatowy zastosowany." in discounted.text and "Rabat 20% (kod JESIEN20)" in discounted.text
    assert 'data-total="net"><span class="money">12,00' in discounted.text.replace("\xa0", " ")
    removed = person.post("/cart/discount", {"discount_code": "JESIEN20", "remove": "1"}, form_page="/cart")
    assert 'data-total="net"><span class="money">15,00' in removed.text.replace("\xa0", " ")
