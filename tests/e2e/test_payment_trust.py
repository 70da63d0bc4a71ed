"""Card payments are decided by our records, not by what a webhook says (issue #13, item 1).

Against the whole stack: a sandbox-card webhook correctly signed with the built-in development
secret (the attacker of the issue knows it) is applied only to a payment session billing stored,
for that session's account, invoices, amount and currency, and only once the provider settled it.
A body that disagrees, a bad signature, a stale or future timestamp, a replay or a success
arriving for a declined session changes nothing: no event in the customer's stream, invoices
unpaid, no credit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pymongo
import pytest
import requests

from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, wait_for

HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
DEV_SECRET = "dev-sandbox-webhook-secret"  # the built-in development value, as published in the code
WEBHOOK = "/payments/sandbox/webhook"


# --- helpers -------------------------------------------------------------------------------------
def _login(base: str, email: str) -> tuple[str, str]:
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["token"], login.json()["account_id"]


def _customer(stack) -> tuple[str, str]:
    email, _ = register_verified(stack.gateway_url, stack.var / "mail")
    return _login(stack.gateway_url, email)


def _order(base: str, token: str, method: str = "card") -> dict:
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=30)
    assert added.status_code == 201, added.text
    placed = requests.post(f"{base}/api/v1/cart/checkout", json={"payment_method": method}, timeout=30,
                           headers={**bearer(token), "Idempotency-Key": f"trust-{uuid.uuid4().hex}"})  # fmt: skip
    assert placed.status_code == 200, placed.text
    return placed.json()


def _invoice(base: str, token: str, invoice_id: str) -> dict:
    found = requests.get(f"{base}/api/v1/invoices/{invoice_id}", headers=bearer(token), timeout=30)
    assert found.status_code == 200, found.text
    return found.json()


def _now(stack) -> int:
    """Unix time as the stack's processes see it (the shared test clock may have been moved)."""
    return int(time.time() + float(stack.clock_file.read_text().strip() or 0))


def _signature(body: str, timestamp: int, secret: str = DEV_SECRET) -> str:
    """The provider's signature header: `t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">` (Stripe's scheme)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _post(stack, message: dict | str, timestamp: int | None = None, secret: str = DEV_SECRET,
          signature: str | None = None) -> requests.Response:  # fmt: skip
    body = message if isinstance(message, str) else json.dumps(message, sort_keys=True)
    if signature is None:
        signature = _signature(body, _now(stack) if timestamp is None else timestamp, secret)
    return requests.post(f"{stack.gateway_url}{WEBHOOK}", data=body.encode(), timeout=30,
                         headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature})  # fmt: skip


def _message(payment_id: str, account_id: str, invoice_ids: list[str], amount: int, currency: str = "PLN",
             kind: str = "payment.succeeded") -> dict:  # fmt: skip
    return {"type": kind, "payment_id": payment_id, "account_id": account_id, "invoice_ids": invoice_ids,
            "amount": amount, "currency": currency, "created": "2026-12-01T10:00:00Z"}  # fmt: skip


def _settle(base: str, payment_id: str, outcome: str) -> None:
    """What the customer does on the sandbox provider's page: pay or decline."""
    browser = requests.Session()
    page = browser.get(f"{base}/sandbox-pay/{payment_id}", timeout=30)
    assert page.status_code == 200, page.text
    decided = browser.post(f"{base}/sandbox-pay/{payment_id}", data={"csrf_token": csrf(page.text), "outcome": outcome},
                           allow_redirects=False, timeout=30)  # fmt: skip
    assert decided.status_code in (200, 302, 303), decided.text


@pytest.fixture(scope="module")
def billing_db(stack):
    client = pymongo.MongoClient(stack.env["MONGO_URI"])
    yield client[f"{stack.db_prefix}billing"]
    client.close()


def _stream(billing_db, account_id: str) -> list[str]:
    """The event types in the account's customer stream, oldest first (the ground truth)."""
    commits = billing_db["event_commits"].find({"stream_id": f"customer-{account_id}"}).sort("version", 1)
    return [event["type"] for commit in commits for event in commit["events"]]


def _credit(billing_db, account_id: str) -> int:
    view = billing_db["customers"].find_one({"_id": account_id}) or {}
    return view.get("credit") or 0


def _refused(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


# --- tests ---------------------------------------------------------------------------------------
def test_a_webhook_that_disagrees_with_the_stored_session_is_refused_and_changes_nothing(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    first = _order(base, token)
    second = _order(base, token, method="bank_transfer")
    other_token, other_account = _customer(stack)
    theirs = _order(base, other_token, method="bank_transfer")
    payment, invoice = first["payment"], first["invoice_id"]
    amount = payment["amount"]
    assert payment["status"] == "redirect" and amount > 0
    wait_for(lambda: _invoice(base, token, second["invoice_id"])["number"], what="the second invoice numbered")
    mine_before, theirs_before = _stream(billing_db, account), _stream(billing_db, other_account)

    forged = {
        "amount": _message(payment["payment_id"], account, [invoice], amount + 100_000),
        "currency": _message(payment["payment_id"], account, [invoice], amount, currency="EUR"),
        "invoice_ids": _message(payment["payment_id"], account, [invoice, second["invoice_id"]], 2 * amount),
        "account_id": _message(payment["payment_id"], other_account, [theirs["invoice_id"]], amount),
    }
    for field, message in forged.items():
        error = _refused(_post(stack, message), 422, "payment_mismatch")
        assert field in error["fields"], (field, error)
    # a session we never stored, naming the attacker's own account and invoice
    _refused(_post(stack, _message(str(uuid.uuid4()), account, [invoice], amount)), 404, "unknown_payment")
    # every detail right, but the provider never settled this session (the customer did not pay)
    _refused(_post(stack, _message(payment["payment_id"], account, [invoice], amount)), 409, "payment_not_succeeded")

    assert _stream(billing_db, account) == mine_before and _stream(billing_db, other_account) == theirs_before
    assert _invoice(base, token, invoice)["status"] == "unpaid"
    assert _invoice(base, token, second["invoice_id"])["status"] == "unpaid"
    assert _invoice(base, other_token, theirs["invoice_id"])["status"] == "unpaid"
    assert _credit(billing_db, account) == 0 and _credit(billing_db, other_account) == 0

    # the customer really pays on the provider's page: the provider's own webhook is applied
    _settle(base, payment["payment_id"], "success")
    wait_for(lambda: _invoice(base, token, invoice)["status"] == "paid", timeout=60, what="the paid invoice")
    # the same signer, the session's own details: accepted (so the refusals above were about content)
    genuine = _post(stack, _message(payment["payment_id"], account, [invoice], amount))
    assert genuine.status_code == 200 and genuine.json()["status"] == "duplicate", genuine.text
    _refused(_post(stack, forged["amount"]), 422, "payment_mismatch")
    assert _stream(billing_db, account).count("payment_received") == 1
    assert _invoice(base, token, second["invoice_id"])["status"] == "unpaid"
    assert _credit(billing_db, account) == 0


def test_bad_signature_and_stale_or_future_timestamps_are_refused(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    placed = _order(base, token)
    payment, invoice = placed["payment"], placed["invoice_id"]
    message = _message(payment["payment_id"], account, [invoice], payment["amount"])
    before = _stream(billing_db, account)

    _refused(_post(stack, message, secret="not-the-secret"), 400, "invalid_signature")
    _refused(_post(stack, message, signature=""), 400, "invalid_signature")
    body = json.dumps(message, sort_keys=True)
    unsigned_time = hmac.new(DEV_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    _refused(_post(stack, body, signature=f"sha256={unsigned_time}"), 400, "invalid_signature")  # no timestamp
    _refused(_post(stack, message, timestamp=_now(stack) - 600), 400, "stale_webhook")
    _refused(_post(stack, message, timestamp=_now(stack) + 600), 400, "stale_webhook")
    assert _stream(billing_db, account) == before
    assert _invoice(base, token, invoice)["status"] == "unpaid"

    _settle(base, payment["payment_id"], "success")
    wait_for(lambda: _invoice(base, token, invoice)["status"] == "paid", timeout=60, what="the paid invoice")
    # settled now, yet a stale copy is still refused before anything is looked at
    _refused(_post(stack, message, timestamp=_now(stack) - 301), 400, "stale_webhook")
    assert _post(stack, message, timestamp=_now(stack) - 60).json()["status"] == "duplicate"


def test_a_replayed_webhook_is_applied_once(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    placed = _order(base, token)
    payment, invoice = placed["payment"], placed["invoice_id"]
    _settle(base, payment["payment_id"], "success")
    wait_for(lambda: _invoice(base, token, invoice)["status"] == "paid", timeout=60, what="the paid invoice")
    message = _message(payment["payment_id"], account, [invoice], payment["amount"])
    for _ in range(3):
        again = _post(stack, message)
        assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text
    # the same payment id "again" with more money is not a replay but a forgery
    _refused(_post(stack, {**message, "amount": payment["amount"] * 3}), 422, "payment_mismatch")
    events = _stream(billing_db, account)
    assert events.count("payment_received") == 1 and events.count("invoice_paid") == 1
    assert events.count("service_activated") == 1 and "credit_added" not in events
    assert _credit(billing_db, account) == 0


def test_reordered_and_late_webhooks_change_nothing(stack, billing_db):
    base = stack.gateway_url
    token, account = _customer(stack)
    paid = _order(base, token)
    _settle(base, paid["payment"]["payment_id"], "success")
    wait_for(lambda: _invoice(base, token, paid["invoice_id"])["status"] == "paid", timeout=60, what="paid")
    after_success = _stream(billing_db, account)
    # a "failed" arriving after "succeeded" does not undo the payment
    failed = _post(stack, _message(paid["payment"]["payment_id"], account, [paid["invoice_id"]],
                                   paid["payment"]["amount"], kind="payment.failed"))  # fmt: skip
    assert failed.status_code == 200 and failed.json()["status"] == "ignored", failed.text
    assert _invoice(base, token, paid["invoice_id"])["status"] == "paid"
    assert _stream(billing_db, account) == after_success

    # the customer declined on the provider's page; a "succeeded" for that session arrives later
    declined = _order(base, token)
    _settle(base, declined["payment"]["payment_id"], "failure")
    wait_for(lambda: requests.get(f"{base}/api/v1/invoices/{declined['invoice_id']}", headers=bearer(token),
                                  timeout=30).status_code == 200, what="the declined order's invoice")  # fmt: skip
    before = _stream(billing_db, account)
    late = _post(stack, _message(declined["payment"]["payment_id"], account, [declined["invoice_id"]],
                                 declined["payment"]["amount"]))  # fmt: skip
    _refused(late, 409, "payment_not_succeeded")
    assert _stream(billing_db, account) == before
    assert _invoice(base, token, declined["invoice_id"])["status"] == "unpaid"
    assert _credit(billing_db, account) == 0
