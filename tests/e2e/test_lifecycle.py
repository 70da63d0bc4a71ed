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
    back = prorated_gross("hosting-biznes", "hosting-start", terms["days_left"], terms["days_in_period"])
    assert (start["direction"], start["gross"]) == ("downgrade", back)

    bad = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token), json={}, timeout=30)
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["plan"]["code"] == "required"
    credit_before = requests.get(f"{base}/api/v1/billing/ledger", headers=bearer(token), timeout=30).json()["credit"]
    down = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token),
                         json={"plan": "hosting-start"}, timeout=30)  # fmt: skip
    assert down.status_code == 200 and down.json()["plan"] == "hosting-start" and down.json()["invoice"] is None
    wait_for(lambda: requests.get(f"{base}/api/v1/billing/ledger", headers=bearer(token), timeout=30).json()
             ["credit"] == credit_before + back, what="the downgrade credited")  # fmt: skip

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
