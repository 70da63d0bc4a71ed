"""Refunds (staff only, paid invoice -> credit, once), the return page's payment view, and the
sandbox provider's webhook delivery over HTTP with retries."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kernel.errors import CommandError, NotFound
from services.billing import payments
from services.billing.catalog import DemoCatalog, Plan
from tests.billing.conftest import STAFF, customer
from tests.billing.test_service import order_plan, pay_by_card
from tests.fakes import call_as


def test_staff_refund_returns_the_paid_amount_to_credit_once(billing, published):
    result = order_plan(billing, "a1", "refund-key-1")
    with pytest.raises(CommandError) as unpaid:
        billing.refund_invoice(result["invoice_id"], STAFF)
    assert unpaid.value.code == "invoice_not_refundable"
    pay_by_card(billing, result)
    for ctx in (customer("a1"), {"actor": {"type": "system", "id": "billing-cycle"}}, None):
        with pytest.raises(CommandError) as refused:
            call_as(billing, "refund_invoice", ctx, result["invoice_id"])
        assert refused.value.code == "caller_not_allowed"
    refunded = billing.refund_invoice(result["invoice_id"], STAFF)
    assert refunded["status"] == "refunded"
    assert billing.get_credit("a1")["credit"] == 1845
    assert billing.list_invoices("a1", "refunded")["total"] == 1
    with pytest.raises(CommandError):
        billing.refund_invoice(result["invoice_id"], STAFF)
    assert billing.get_credit("a1")["credit"] == 1845
    event = published.of("invoice_refunded")[0]["data"]
    assert (event["amount"], event["account_id"]) == (1845, "a1") and event["number"].startswith("FV/")
    assert [m["data"]["reason"] for m in published.of("credit_added")] == ["refund"]
    with pytest.raises(NotFound):
        billing.refund_invoice("no-such-invoice", STAFF)


def test_get_payment_is_scoped_and_reports_paid_invoices(billing):
    result = order_plan(billing, "a1", "payment-view-1")
    payment_id = result["payment"]["payment_id"]
    before = billing.get_payment("a1", payment_id)
    assert before["status"] == "created" and not before["all_paid"]
    assert [i["status"] for i in before["invoices"]] == ["unpaid"]
    with pytest.raises(NotFound):
        billing.get_payment("someone-else", payment_id)
    pay_by_card(billing, result)
    after = billing.get_payment("a1", payment_id)
    assert after["status"] == "succeeded" and after["all_paid"]


def test_checkout_redirects_to_the_sandbox_page(billing):
    result = order_plan(billing, "a1", "redirect-key-1")
    assert result["payment"]["redirect_url"].endswith(f"/sandbox-pay/{result['payment']['payment_id']}")


class _Receiver(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("X-Sandbox-Signature", "")))
        self.send_response(self.statuses.pop(0) if self.statuses else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.statuses, _Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/payments/sandbox/webhook"
    server.shutdown()


def test_webhook_delivery_retries_until_accepted_and_is_signed(receiver):
    _Receiver.statuses = [503, 500]
    webhook = {"body": '{"type": "payment.succeeded"}', "signature": payments.sign('{"type": "payment.succeeded"}')}
    assert payments.deliver_webhook(webhook, receiver, delays=(0, 0, 0, 0))
    assert len(_Receiver.received) == 3
    body, signature = _Receiver.received[-1]
    assert payments.verify(body.decode(), signature)


def test_webhook_delivery_stops_when_refused(receiver):
    _Receiver.statuses = [400]
    webhook = {"body": "{}", "signature": "bad"}
    assert not payments.deliver_webhook(webhook, receiver, delays=(0, 0, 0))
    assert len(_Receiver.received) == 1


def test_delivery_url_follows_the_public_url_and_can_be_switched_off(monkeypatch):
    monkeypatch.delenv("SANDBOX_WEBHOOK_URL")
    assert payments.webhook_url().endswith("/payments/sandbox/webhook")
    monkeypatch.setenv("SANDBOX_WEBHOOK_URL", "")
    assert payments.webhook_url() == ""


def test_the_demo_catalogue_is_seeded_at_start_unless_switched_off(mongo_alias, monkeypatch):
    mongo_alias("billing")
    monkeypatch.setenv("DEMO_CATALOG", "no")
    DemoCatalog().start()
    assert Plan.objects.count() == 0
    monkeypatch.delenv("DEMO_CATALOG")
    DemoCatalog().start()
    DemoCatalog().start()  # a second instance starting finds it seeded
    assert sorted(p.id for p in Plan.objects) == ["hosting-biznes", "hosting-pro", "hosting-start"]
