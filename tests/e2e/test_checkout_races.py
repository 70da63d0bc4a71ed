"""Races on money against the whole stack (issue #13, items 3 and 5).

* Ten checkouts of one cart sent at once, each with its own idempotency key: exactly one order
  and one invoice; every other answer is that same order or a clear 409 (`cart_empty`).
* Several invoices paid from credit in parallel: every answer 2xx, 402 (not enough credit) or
  409 `conflict`, never a 5xx; the credit never goes below zero and no invoice is paid twice.
"""

from __future__ import annotations

import uuid

import pymongo
import pytest
import requests

from gateway.errors import status_of
from kernel.caller import rpc_proxy
from kernel.errors import CommandError
from tests.billing.test_service import run_in_threads
from tests.e2e.helpers import PASSWORD, bearer, register_verified, wait_for

HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
GROSS = 1845  # hosting-start, monthly, with VAT
INVOICES = 10


def _customer(stack) -> tuple[str, str]:
    email, _ = register_verified(stack.gateway_url, stack.var / "mail")
    login = requests.post(f"{stack.gateway_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                          timeout=30)  # fmt: skip
    assert login.status_code == 200, login.text
    return login.json()["token"], login.json()["account_id"]


def _add_to_cart(base: str, token: str) -> None:
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=30)
    assert added.status_code == 201, added.text


def _checkout(base: str, token: str, key: str, method: str = "bank_transfer") -> requests.Response:
    return requests.post(f"{base}/api/v1/cart/checkout", json={"payment_method": method}, timeout=60,
                         headers={**bearer(token), "Idempotency-Key": key})  # fmt: skip


def _invoices(stack, token: str, count: int) -> list[str]:
    """`count` unpaid, numbered invoices of one hosting order each."""
    base, ids = stack.gateway_url, []
    for _ in range(count):
        _add_to_cart(base, token)
        placed = _checkout(base, token, f"credit-{uuid.uuid4().hex}")
        assert placed.status_code == 200, placed.text
        ids.append(placed.json()["invoice_id"])
    for invoice_id in ids:
        wait_for(lambda i=invoice_id: requests.get(f"{base}/api/v1/invoices/{i}", headers=bearer(token),
                                                   timeout=30).json().get("number"), what="the invoice numbered")  # fmt: skip
    return ids


@pytest.fixture(scope="module")
def billing_db(stack):
    client = pymongo.MongoClient(stack.env["MONGO_URI"])
    yield client[f"{stack.db_prefix}billing"]
    client.close()


def _events(billing_db, account_id: str, kind: str) -> list[dict]:
    commits = billing_db["event_commits"].find({"stream_id": f"customer-{account_id}"})
    return [event["data"] for commit in commits for event in commit["events"] if event["type"] == kind]


def test_concurrent_checkouts_of_one_cart_place_exactly_one_order(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    _add_to_cart(base, token)
    answers = run_in_threads(10, lambda i: _checkout(base, token, f"race-{i}-{uuid.uuid4().hex}"))

    assert all(isinstance(a, requests.Response) for a in answers), answers
    statuses = sorted(a.status_code for a in answers)
    assert all(s in (200, 409) for s in statuses), [(a.status_code, a.text) for a in answers]
    placed = [a.json() for a in answers if a.status_code == 200]
    assert placed, statuses
    assert {(p["order_id"], p["invoice_id"]) for p in placed} == {(placed[0]["order_id"], placed[0]["invoice_id"])}
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"]["code"] in ("cart_empty", "cart_changed"), refused.text

    orders = _events(billing_db, account, "order_placed")
    assert [o["order_id"] for o in orders] == [placed[0]["order_id"]], orders
    invoices = wait_for(lambda: requests.get(f"{base}/api/v1/invoices", headers=bearer(token), timeout=30).json()
                        ["items"], what="the invoice listed")  # fmt: skip
    assert [i["invoice_id"] for i in invoices] == [placed[0]["invoice_id"]]
    cart = requests.get(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=30).json()
    assert cart["items"] == []
    # the same key again still names the one order; a new key finds the cart consumed
    again = _checkout(base, token, f"race-after-{uuid.uuid4().hex}")
    assert again.status_code == 409 and again.json()["error"]["code"] == "cart_empty", again.text
    assert len(_events(billing_db, account, "order_placed")) == 1


def test_parallel_payments_from_credit_never_fail_with_5xx_nor_spend_twice(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    invoice_ids = _invoices(stack, token, INVOICES)
    credit = (INVOICES - 2) * GROSS + GROSS // 2  # enough for all but two of the invoices
    with rpc_proxy(stack.env["AMQP_URI"], actor={"type": "staff", "id": "test-staff"}, timeout=30) as cluster:
        assert cluster.billing.add_credit(account, credit)["credit"] == credit

    def pay(index: int) -> requests.Response:
        return requests.post(f"{base}/api/v1/invoices/{invoice_ids[index % INVOICES]}/pay", headers=bearer(token),
                             json={"payment_method": "credit"}, timeout=60)  # fmt: skip

    answers = run_in_threads(2 * INVOICES, pay)  # each invoice twice
    assert all(isinstance(a, requests.Response) for a in answers), answers
    report = [(a.status_code, a.text[:200]) for a in answers]
    assert all(a.status_code < 500 for a in answers), report
    assert all(a.status_code in (200, 402, 409) for a in answers), report
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "conflict", answer.text

    used = _events(billing_db, account, "credit_used")
    paid_ids = [u["invoice_id"] for u in used]
    assert len(paid_ids) == len(set(paid_ids)), "an invoice was paid from credit twice"
    assert len(paid_ids) <= INVOICES - 2 and sum(u["amount"] for u in used) <= credit
    assert all(u["balance"] >= 0 for u in used)
    statuses = {i: requests.get(f"{base}/api/v1/invoices/{i}", headers=bearer(token), timeout=30).json()["status"]
                for i in invoice_ids}  # fmt: skip
    assert {i for i, s in statuses.items() if s == "paid"} == set(paid_ids)
    view = wait_for(lambda: (v := billing_db["customers"].find_one({"_id": account})) and
                    v.get("credit") == credit - GROSS * len(paid_ids) and v, what="the credit projected")  # fmt: skip
    assert view["credit"] >= 0


def test_parallel_payments_from_credit_over_the_broker_end_in_a_result_or_a_clear_refusal(stack, billing_db):
    """Billing's own answer, with more callers at once than the gateway's threads allow: every call
    pays or is refused with a CommandError (402, 409 `conflict`), never a ConcurrencyError."""
    token, account = _customer(stack)
    invoice_ids = _invoices(stack, token, INVOICES)
    credit = (INVOICES - 2) * GROSS + GROSS // 2  # enough for all but two of the invoices
    customer = {"type": "customer", "id": account}
    with rpc_proxy(stack.env["AMQP_URI"], actor={"type": "staff", "id": "test-staff"}, timeout=30) as cluster:
        cluster.billing.add_credit(account, credit)
    with rpc_proxy(stack.env["AMQP_URI"], actor=customer, timeout=60) as cluster:
        calls = [cluster.billing.pay_invoice.call_async(account, invoice_ids[i % INVOICES], "credit")
                 for i in range(2 * INVOICES)]  # fmt: skip
        outcomes = []
        for call in calls:
            try:
                outcomes.append(call.result()["status"])
            except CommandError as exc:
                outcomes.append(f"{status_of(exc)} {exc.code}")
            except Exception as exc:  # noqa: BLE001 - what the assertion reports
                outcomes.append(f"{type(exc).__name__}: {exc}")
    assert set(outcomes) <= {"paid", "402 insufficient_credit", "409 conflict"}, outcomes
    used = _events(billing_db, account, "credit_used")
    paid_ids = [u["invoice_id"] for u in used]
    assert len(paid_ids) == len(set(paid_ids)) and len(paid_ids) <= INVOICES - 2
    assert sum(u["amount"] for u in used) <= credit and all(u["balance"] >= 0 for u in used)
