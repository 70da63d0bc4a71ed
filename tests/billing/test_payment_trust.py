"""Payments decided by our records, one order per cart, and racing writers ending in 409 (issue #13):
billing in-process on the real database (webhook delivery off, so each webhook is handed over here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from gateway.errors import status_of
from kernel import clock
from kernel.errors import CommandError
from kernel.eventstore import ConcurrencyError
from services.billing import payments
from services.billing.app import checkout as checkout_app
from services.billing.domain import Customer
from tests.billing.conftest import STAFF, customer
from tests.billing.test_service import order_plan, run_in_threads
from tests.fakes import RACING
from tools.devstack import ROOT, nameko_command


def _settled(billing, account_id: str, key: str) -> tuple[dict, str]:
    """An order paid on the sandbox page: the provider settled it; its webhook not yet delivered."""
    result = order_plan(billing, account_id, key)
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "success")["webhook"]
    return result, webhook["body"]


def test_the_signature_header_carries_its_time_and_is_checked_against_ours(billing, clock_file):
    body = '{"type": "payment.succeeded"}'
    header = payments.sign(body)
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(stamp - time.time()) < 5 and payments.verify(body, header)
    assert not payments.verify(body + " ", header) and not payments.verify(body, header.replace("t=", "t=1"))
    assert not payments.verify(body, header.split(",")[1])  # a bare HMAC (no time) is not accepted
    clock.advance(payments.WEBHOOK_TOLERANCE_SECONDS - 5)
    assert payments.verify(body, header)
    clock.advance(10)
    with pytest.raises(CommandError) as stale:
        payments.check_signature(body, header)
    assert (stale.value.code, status_of(stale.value)) == ("stale_webhook", 400)


def test_a_stale_webhook_changes_nothing_and_the_fresh_one_pays(billing, published):
    result, body = _settled(billing, "a1", "stale-key-1")
    old = payments.sign(body, int(time.time()) - payments.WEBHOOK_TOLERANCE_SECONDS - 1)
    with pytest.raises(CommandError) as stale:
        billing.handle_webhook(body, old)
    assert stale.value.code == "stale_webhook"
    assert billing.get_invoice("a1", result["invoice_id"])["status"] == "unpaid" and not published.of(
        "payment_received"
    )
    assert billing.handle_webhook(body, payments.sign(body))["status"] == "applied"
    assert billing.get_invoice("a1", result["invoice_id"])["status"] == "paid"


def test_the_sessions_figures_are_applied_never_the_bodys(billing, published):
    result, body = _settled(billing, "a1", "figures-key-1")
    other = order_plan(billing, "a1", "figures-key-2", method="bank_transfer")
    message = json.loads(body)
    for name, value in (("amount", message["amount"] + 1), ("amount", float(message["amount"])),
                        ("amount", str(message["amount"])), ("currency", "EUR"), ("account_id", "a2"),
                        ("invoice_ids", [*message["invoice_ids"], other["invoice_id"]]), ("invoice_ids", [])):  # fmt: skip
        forged = json.dumps({**message, name: value})
        with pytest.raises(CommandError) as refused:
            billing.handle_webhook(forged, payments.sign(forged))
        assert (refused.value.code, status_of(refused.value), refused.value.fields) == (
            "payment_mismatch", 422, {name: "mismatch"}), (name, value)  # fmt: skip
    missing = json.dumps({k: v for k, v in message.items() if k != "currency"})
    with pytest.raises(CommandError) as refused:
        billing.handle_webhook(missing, payments.sign(missing))
    assert refused.value.fields == {"currency": "required"}
    for bad in ("[]", "not json", json.dumps({**message, "payment_id": {"$ne": None}}),
                json.dumps({**message, "type": "payment.refunded"})):  # fmt: skip
        with pytest.raises(CommandError) as refused:
            billing.handle_webhook(bad, payments.sign(bad))
        assert refused.value.code == "invalid_payload", bad
    assert not published.of("payment_received")
    assert billing.handle_webhook(body, payments.sign(body))["status"] == "applied"
    assert [e["data"]["amount"] for e in published.of("payment_received")] == [message["amount"]]
    assert billing.get_invoice("a1", other["invoice_id"])["status"] == "unpaid"
    assert billing.get_credit("a1")["credit"] == 0


def test_an_expired_session_cannot_be_paid_and_a_late_success_for_it_does_nothing(billing, clock_file, published):
    result = order_plan(billing, "a1", "expiry-key-1")
    payment_id = result["payment"]["payment_id"]
    clock.advance(payments.SESSION_SECONDS + 1)
    assert billing.sandbox_get_payment(payment_id)["status"] == "expired"
    with pytest.raises(CommandError) as expired:
        billing.sandbox_complete(payment_id, "success")
    assert (expired.value.code, status_of(expired.value)) == ("payment_expired", 409)
    intent = payments.PaymentIntent.objects(id=payment_id).first()
    body = json.dumps({"type": "payment.succeeded", "payment_id": payment_id, "account_id": "a1",
                       "invoice_ids": list(intent.invoice_ids), "amount": intent.amount, "currency": "PLN"})  # fmt: skip
    with pytest.raises(CommandError) as late:
        billing.handle_webhook(body, payments.sign(body))
    assert (late.value.code, status_of(late.value)) == ("payment_not_succeeded", 409)
    assert billing.get_invoice("a1", result["invoice_id"])["status"] == "unpaid" and not published.of(
        "payment_received"
    )
    # a new session for the same invoice can still be paid
    again = billing.pay_invoice("a1", result["invoice_id"], "card", None, customer("a1"))
    assert again["payment_id"] != payment_id and again["status"] == "redirect"


@RACING
def test_ten_checkouts_of_one_cart_at_once_place_one_order(billing, published):
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a1"))

    def checkout(index: int):
        return billing.checkout("a1", "bank_transfer", f"race-key-{index}-{uuid.uuid4().hex}", customer("a1"))

    results = run_in_threads(10, checkout)
    placed = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if not isinstance(r, dict)]
    assert placed and all(
        isinstance(r, CommandError) and (r.code, status_of(r)) == ("cart_empty", 409) for r in refused
    )
    assert {(r["order_id"], r["invoice_id"]) for r in placed} == {(placed[0]["order_id"], placed[0]["invoice_id"])}
    assert len(published.of("order_placed")) == 1 and len(published.of("invoice_issued")) == 1
    assert billing.get_cart("a1")["items"] == []


def test_one_cart_version_becomes_one_order_in_the_aggregate():
    customer_ = Customer("customer-a1")
    order = {"order_id": "o1", "invoice_id": None, "reused_invoice_ids": ["i1"], "cart_key": "cart-v3", "items": []}
    customer_.invoices["i1"] = {"status": "unpaid"}
    [event] = customer_.place_order(order)
    from kernel.events import Event

    customer_.apply(Event("e1", "customer-a1", 1, event.type, clock.now(), event.data, {}))
    assert customer_.place_order({**order, "order_id": "o2"}) == []  # same cart version, another key
    assert customer_.placed_order("o2", "cart-v3")["order_id"] == "o1"
    assert customer_.placed_order("o2", "cart-v4") is None


def test_a_checkout_that_stopped_after_placing_leaves_no_second_order(billing, published, monkeypatch):
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a1"))
    monkeypatch.setattr(checkout_app, "consume_cart", lambda *_: None)  # crashed there
    first = billing.checkout("a1", "bank_transfer", "stopped-key-1", customer("a1"))
    monkeypatch.undo()
    second = billing.checkout("a1", "bank_transfer", "stopped-key-2", customer("a1"))
    assert second["order_id"] == first["order_id"] and len(published.of("order_placed")) == 1
    assert billing.get_cart("a1")["items"] == []


def test_racing_writers_past_the_retries_get_409_conflict_not_an_error(billing, monkeypatch):
    order = order_plan(billing, "a1", "conflict-key-1", method="bank_transfer")
    billing.add_credit("a1", 5000, STAFF)

    def always_behind(stream_id, expected, new_events, meta):
        raise ConcurrencyError(stream_id, expected, expected + 1)

    monkeypatch.setattr(billing.events, "append", always_behind)
    with pytest.raises(CommandError) as conflict:
        billing.pay_invoice("a1", order["invoice_id"], "credit", None, customer("a1"))
    assert (conflict.value.code, status_of(conflict.value)) == ("conflict", 409)


@pytest.mark.parametrize(("env", "secret", "refused"), [
    ("development", None, False), ("production", None, True), ("production", payments.DEV_WEBHOOK_SECRET, True),
    ("production", " ", True), ("staging", None, True), ("production", "a-secret-of-our-own", False),
])  # fmt: skip
def test_outside_development_the_builtin_webhook_secret_is_refused(monkeypatch, env, secret, refused):
    monkeypatch.setenv("PANEL_ENV", env)
    if secret is None:
        monkeypatch.delenv("SANDBOX_WEBHOOK_SECRET", raising=False)
    else:
        monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", secret)
    assert bool(payments.sandbox_refusal()) is refused
    if refused:
        with pytest.raises(RuntimeError, match="SANDBOX_WEBHOOK_SECRET"):
            payments.SandboxGuard().setup()
    else:
        payments.SandboxGuard().setup()


def test_billing_does_not_start_in_production_with_the_builtin_secret():
    """`nameko run` as every deployment runs it; the broker and database named are unreachable, so
    a billing that wrongly started could take no message from anyone."""
    env = {**os.environ, "PANEL_ENV": "production", "SANDBOX_WEBHOOK_SECRET": payments.DEV_WEBHOOK_SECRET,
           "RPC_SIGNING_KEYS": os.environ.get("RPC_SIGNING_KEYS", "k"), "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1/",
           "MONGO_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"}  # fmt: skip
    started = subprocess.run([sys.executable, *nameko_command("billing")], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert started.returncode != 0
    assert "RuntimeError: PANEL_ENV=production: set SANDBOX_WEBHOOK_SECRET" in started.stderr, started.stderr[-2000:]


def test_the_gateways_sandbox_pages_refuse_in_production_with_the_builtin_secret(monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("PANEL_ENV", "production")
    monkeypatch.delenv("SANDBOX_WEBHOOK_SECRET", raising=False)
    client = create_app().test_client()
    assert client.get("/sandbox-pay/some-payment").status_code == 404
    assert client.post(payments.WEBHOOK_PATH, data="{}").status_code == 404
