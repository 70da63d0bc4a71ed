"""A hosting service's lifecycle through the front door (issue #18): a plan change with its prorated
amount shown on the page and invoiced, a downgrade credited, a consumer's withdrawal within 14 days
with its correcting invoice and its acknowledgement by mail."""

from __future__ import annotations

import re
import time

import requests

from kernel.caller import rpc_proxy
from kernel.money import div_half_up, vat_of
from tests.e2e.helpers import bearer, wait_for
from tests.e2e.test_billing_pages import SERVICE_LINK_RE, Person, wait_paid
from tests.e2e.test_checkout_races import _checkout, _customer
from tools.seed import mail_text, wait_for_mail

PRICES = {"hosting-start": 1500, "hosting-biznes": 3999, "hosting-pro": 9900}  # monthly net, the demo catalogue


def text_of(grosze: int) -> str:
    return f"{grosze // 100},{grosze % 100:02d}"


def prorated_gross(old: str, new: str, left: int, total: int) -> int:
    net = abs(div_half_up((PRICES[new] - PRICES[old]) * left, total))
    return net + vat_of(net, 23)


def gross(net: int) -> int:
    return net + vat_of(net, 23)


def downgrade_credit(old: str, new: str, left: int, total: int) -> int:
    """A downgrade's credit is the correction of the order's line: its gross before less its gross after
    the prorated difference is taken off (VAT on the net after)."""
    net = abs(div_half_up((PRICES[new] - PRICES[old]) * left, total))
    return gross(PRICES[old]) - gross(PRICES[old] - net)


def api(base: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{base}/api/v1{path}", headers=bearer(token), timeout=30, **kwargs)


def paid_service(person: Person) -> str:
    person.add_plan()
    wait_paid(person, person.pay_on_sandbox(person.checkout("card")))
    return SERVICE_LINK_RE.search(person.get("/services").text).group(1)


def test_an_upgrade_shows_its_prorated_amount_and_is_invoiced(stack):
    person = Person(stack)
    service_id = paid_service(person)
    page = person.get(f"/services/{service_id}").text.replace("\xa0", " ")
    assert 'data-plan="hosting-start">Hosting Start<' in page  # the plan by its name
    assert page.count("Rezygnacja z usługi") == 1
    assert "Automatyczne odnowienie" in page and 'data-auto-renew="no"' in page
    assert "Odnów wcześniej" in page
    shown = int(re.search(r'for="f-plan-hosting-biznes" data-prorated="(\d+)"', page).group(1))
    left, total = (int(n) for n in re.search(r"pozostałe (\d+) z (\d+) dni", page).groups())
    assert shown == prorated_gross("hosting-start", "hosting-biznes", left, total)
    assert f'dopłata <span class="money">{text_of(shown)}' in page

    unconfirmed = person.post(f"/services/{service_id}/plan", {"plan": "hosting-biznes"},
                              form_page=f"/services/{service_id}")  # fmt: skip
    assert unconfirmed.status_code == 422 and 'id="e-plan_confirm"' in unconfirmed.text
    invoiced = person.post(f"/services/{service_id}/plan", {"plan": "hosting-biznes", "plan_confirm": "on"},
                           form_page=f"/services/{service_id}")  # fmt: skip
    assert "/invoices/" in invoiced.url and 'data-invoice-status="unpaid"' in invoiced.text
    assert text_of(shown) in invoiced.text.replace("\xa0", " ") and "Zmiana planu" in invoiced.text
    still = person.get(f"/services/{service_id}").text
    assert 'data-plan="hosting-start"' in still  # the plan changes when the invoice is paid


def test_api_downgrade_is_credited_and_a_paid_upgrade_changes_the_plan(stack):
    base = stack.gateway_url
    token, account = _customer(stack)
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=30,
                          json={"kind": "hosting", "params": {"plan": "hosting-biznes", "cycle": "monthly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    order = _checkout(base, token, f"lifecycle-{time.time_ns()}")
    assert order.status_code == 200, order.text
    with rpc_proxy(stack.env["AMQP_URI"], actor={"type": "staff", "id": "test-staff"}, timeout=30) as cluster:
        cluster.billing.add_credit(account, 20_000)
    paid = requests.post(f"{base}/api/v1/invoices/{order.json()['invoice_id']}/pay", headers=bearer(token),
                         json={"payment_method": "credit"}, timeout=30)  # fmt: skip
    assert paid.status_code == 200, paid.text
    listed = wait_for(lambda: requests.get(f"{base}/api/v1/services", headers=bearer(token), timeout=30).json()
                      ["items"], what="the service active")  # fmt: skip
    service_id = listed[0]["service_id"]
    service = requests.get(f"{base}/api/v1/services/{service_id}", headers=bearer(token), timeout=30).json()
    terms = service["terms"]
    start = next(p for p in terms["plans"] if p["plan"] == "hosting-start")
    back = downgrade_credit("hosting-biznes", "hosting-start", terms["days_left"], terms["days_in_period"])
    assert (start["direction"], start["gross"]) == ("downgrade", back)

    bad = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token), json={}, timeout=30)
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["plan"]["code"] == "required"
    credit_before = requests.get(f"{base}/api/v1/billing/ledger", headers=bearer(token), timeout=30).json()["credit"]
    down = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token),
                         json={"plan": "hosting-start"}, timeout=30)  # fmt: skip
    assert down.status_code == 200 and down.json()["plan"] == "hosting-start" and down.json()["invoice"] is None
    wait_for(lambda: requests.get(f"{base}/api/v1/billing/ledger", headers=bearer(token), timeout=30).json()
             ["credit"] == credit_before + back, what="the downgrade credited")  # fmt: skip
    # The credit is a price reduction after the invoice: a correcting invoice of the order's invoice.
    [kor_id] = wait_for(lambda: api(base, token, "GET", f"/invoices/{order.json()['invoice_id']}").json()
                        ["corrections"], what="the downgrade's correction")  # fmt: skip
    kor = api(base, token, "GET", f"/invoices/{kor_id}").json()
    assert kor["number"].startswith("KOR/") and kor["total_gross"] == -back, kor
    ledger = api(base, token, "GET", "/billing/ledger").json()["entries"]
    assert any(e["kind"] == "refund_to_credit" and e["amount"] == back and e["invoices"] == [kor["number"]]
               for e in ledger), ledger  # fmt: skip

    up = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token),
                       json={"plan": "hosting-pro"}, timeout=30).json()  # fmt: skip
    assert up["plan"] == "hosting-start" and up["invoice"]["status"] == "unpaid"
    assert up["invoice"]["total_gross"] == up["change"]["gross"] > 0
    paid = requests.post(f"{base}/api/v1/invoices/{up['invoice']['invoice_id']}/pay", headers=bearer(token),
                         json={"payment_method": "credit"}, timeout=30)  # fmt: skip
    assert paid.status_code == 200, paid.text
    wait_for(lambda: requests.get(f"{base}/api/v1/services/{service_id}", headers=bearer(token), timeout=30).json()
             ["plan"] == "hosting-pro", what="the upgrade in effect")  # fmt: skip


def test_a_consumer_withdraws_within_14_days_with_a_correction_and_a_mail(stack):
    person = Person(stack)
    service_id = paid_service(person)
    page = person.get(f"/services/{service_id}").text
    assert "Odstąp od umowy" in page
    confirm_page = person.get(f"/services/{service_id}/withdraw")
    assert confirm_page.status_code == 200 and "faktur" in confirm_page.text
    refused = person.post(f"/services/{service_id}/withdraw", {}, form_page=f"/services/{service_id}/withdraw")
    assert refused.status_code == 422 and 'id="e-confirm"' in refused.text
    since = time.time() - 1
    done = person.post(f"/services/{service_id}/withdraw", {"confirm": "on"},
                       form_page=f"/services/{service_id}/withdraw")  # fmt: skip
    assert done.status_code == 200 and 'data-service-status="cancelled"' in done.text, done.text[:500]
    assert "Odstąp od umowy" not in done.text
    invoices = wait_for(lambda: (text := person.get("/invoices").text) and "KOR/" in text and text,
                        what="the correcting invoice listed")  # fmt: skip
    assert "KOR/" in invoices
    message = wait_for_mail(stack.var / "mail", person.email, "odstąpienia", since=since)
    assert message is not None and "fakturę korygującą" in mail_text(message)


def test_api_withdrawal_after_a_paid_upgrade_gives_back_both_through_two_corrections(stack):
    """Ordered and upgraded the same day, then withdrawn at once: nothing of either period used, so both
    invoices come back whole, each through its own correcting invoice (the bug: only the order's)."""
    base = stack.gateway_url
    token, account = _customer(stack)  # no billing address: a consumer
    added = api(base, token, "POST", "/cart/items", json={"kind": "hosting",
                                                          "params": {"plan": "hosting-start", "cycle": "monthly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    order = _checkout(base, token, f"withdraw-{time.time_ns()}")
    assert order.status_code == 200, order.text
    with rpc_proxy(stack.env["AMQP_URI"], actor={"type": "staff", "id": "test-staff"}, timeout=30) as cluster:
        cluster.billing.add_credit(account, 20_000)
    order_invoice = order.json()["invoice_id"]
    assert api(base, token, "POST", f"/invoices/{order_invoice}/pay", json={"payment_method": "credit"}).ok
    [service] = wait_for(lambda: api(base, token, "GET", "/services").json()["items"], what="the service active")
    service_id = service["service_id"]
    terms = api(base, token, "GET", f"/services/{service_id}").json()["terms"]
    left, total = terms["days_left"], terms["days_in_period"]
    upgrade_net = div_half_up((PRICES["hosting-biznes"] - PRICES["hosting-start"]) * left, total)
    up = api(base, token, "POST", f"/services/{service_id}/plan", json={"plan": "hosting-biznes"}).json()
    assert up["invoice"]["total_gross"] == gross(upgrade_net)
    paid = api(base, token, "POST", f"/invoices/{up['invoice']['invoice_id']}/pay", json={"payment_method": "credit"})
    assert paid.status_code == 200, paid.text
    wait_for(lambda: api(base, token, "GET", f"/services/{service_id}").json()["plan"] == "hosting-biznes",
             what="the upgrade in effect")  # fmt: skip

    terms = api(base, token, "GET", f"/services/{service_id}").json()["terms"]
    assert terms["days_left"] == left  # the same day
    order_back = gross(PRICES["hosting-start"]) - gross(PRICES["hosting-start"]
                                                         - div_half_up(PRICES["hosting-start"] * left, total))  # fmt: skip
    upgrade_back = gross(upgrade_net)  # none of the upgrade's days used yet
    expected = order_back + upgrade_back
    assert terms["withdrawal"]["refund"] == expected, (terms["withdrawal"], expected)
    credit_before = api(base, token, "GET", "/billing/ledger").json()["credit"]
    refused = api(base, token, "POST", f"/services/{service_id}/withdraw", json={})
    assert refused.status_code == 422 and "confirm" in refused.json()["error"]["fields"], refused.text
    done = api(base, token, "POST", f"/services/{service_id}/withdraw", json={"confirm": True})
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["refund"], body["refund_method"], body["status"]) == (expected, "credit", "cancelled")
    order_kor, upgrade_kor = body["corrections"]
    assert order_kor["correction"]["invoice_id"] == order_invoice and order_kor["total_gross"] == -order_back
    assert upgrade_kor["correction"]["invoice_id"] == up["invoice"]["invoice_id"]
    assert upgrade_kor["total_gross"] == -upgrade_back
    first, second = (int(k["number"].rsplit("/", 1)[1]) for k in (order_kor, upgrade_kor))
    assert second == first + 1  # one after the other in the month's KOR series
    wait_for(lambda: api(base, token, "GET", "/billing/ledger").json()["credit"] == credit_before + expected,
             what="both parts on the balance")  # fmt: skip
    ledger = api(base, token, "GET", "/billing/ledger").json()["entries"]
    refunds = sorted((e["amount"], e["invoices"]) for e in ledger if e["kind"] == "refund_to_credit")
    assert refunds == sorted([(order_back, [order_kor["number"]]), (upgrade_back, [upgrade_kor["number"]])]), ledger


def test_the_correction_page_says_to_be_returned_and_no_due_date(stack):
    person = Person(stack)
    service_id = paid_service(person)
    done = person.post(f"/services/{service_id}/withdraw", {"confirm": "on"},
                       form_page=f"/services/{service_id}/withdraw")  # fmt: skip
    assert done.status_code == 200 and 'data-service-status="cancelled"' in done.text, done.text[:500]
    listed = wait_for(lambda: re.search(r'data-invoice="([^"]+)"><td><a [^>]*>KOR/', person.get("/invoices").text),
                      what="the correcting invoice listed")  # fmt: skip
    page = person.get(f"/invoices/{listed.group(1)}").text.replace("\xa0", " ")
    returned = int(re.search(r'data-correction-to-return="(\d+)"', page).group(1))
    assert returned > 0 and "Do zwrotu brutto" in page and text_of(returned) in page
    assert "Termin płatności" not in page and "Do zapłaty brutto" not in page
    number = re.search(r"<h1>[^<]*(KOR/\d{4}/\d{2}/\d{4})", page).group(1)
    corrected = re.search(r'href="/invoices/([^"]+)">FV/', page).group(1)
    invoice = person.get(f"/invoices/{corrected}").text
    assert f"Faktura korygująca do tej faktury: {number}</a>" in invoice


def test_after_an_early_renewal_the_page_says_from_when_the_plan_can_change_and_refuses_it_before(stack):
    person = Person(stack)
    service_id = paid_service(person)
    added = person.post(f"/renewals/{service_id}/add", {}, form_page=f"/services/{service_id}")
    assert added.status_code == 200, added.text
    wait_paid(person, person.pay_on_sandbox(person.checkout("card")))
    page = person.get(f"/services/{service_id}").text
    assert "Następny okres tej usługi jest już opłacony z góry" in page
    assert 'name="plan"' not in page  # no plan to choose yet
    refused = person.post(f"/services/{service_id}/plan", {"plan": "hosting-biznes", "plan_confirm": "on"},
                          form_page=f"/services/{service_id}")  # fmt: skip
    assert refused.status_code == 409, refused.status_code
    assert "zmianę planu można zamówić, gdy ten okres się zacznie" in refused.text
    assert 'data-plan="hosting-start"' in person.get(f"/services/{service_id}").text
