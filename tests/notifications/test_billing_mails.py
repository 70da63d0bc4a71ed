"""Billing mails: which events mail whom, the customer's choice honoured (except the
notices that always go), and real mails landing in the SMTP sink of a running stack."""

from __future__ import annotations

import time
import uuid
from unittest import mock

import pytest
import requests
from nameko.testing.services import worker_factory

from kernel import clock
from services.notifications import mailer
from services.notifications.service import NotificationsService
from tests.contract_examples import event_data
from tests.e2e.helpers import bearer, register_verified
from tests.e2e.test_billing_pages import run_billing_cycle, stack_clock  # noqa: F401 - a fixture
from tests.fakes import RecordingDispatch, recording_events_api
from tools.seed import mail_text, wait_for_mail


def _target(preferences: dict[str, bool], language: str = "pl") -> dict:
    return {"account_id": "a1", "email": "a1@example.pl", "first_name": "Łucja", "language": language,
            "notification_preferences": preferences, "contacts": []}  # fmt: skip


def _message(event_type: str, data: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": "customer-a1", "version": 1, "type": event_type,
            "occurred_at": clock.now().isoformat() + "Z", "data": event_data(event_type, account_id="a1", **data),
            "meta": {}}  # fmt: skip


NUMBER = {"invoice_id": "inv-1", "number": "FV/2026/11/0007"}
INVOICE = {**NUMBER, "total_gross": 1845, "due_date": "2026-11-30T10:00:00", "kind": "order"}
SERVICE = {"service_id": "svc-1", "name": "Hosting Start", "plan": "hosting-start", "domain": "firma.pl"}
EVENTS = {
    "on_invoice_issued": ("invoice_issued", INVOICE),
    "on_invoice_paid": ("invoice_paid", {**NUMBER, "lines": [{"gross": 1845}], "paid_at": "2026-11-23T10:00:00"}),
    "on_invoice_overdue_reminder": (
        "invoice_overdue_reminder",
        {**NUMBER, "due_date": "2026-11-30T10:00:00", "amount_due": 1845, "days_overdue": 3, "reminder_no": 2},
    ),  # fmt: skip
    "on_invoice_refunded": ("invoice_refunded", {**NUMBER, "amount": 1845}),
    "on_service_suspended": ("service_suspended", {**SERVICE, "invoice_id": "inv-1"}),
    "on_service_unsuspended": ("service_unsuspended", SERVICE),
    "on_service_terminated": ("service_terminated", SERVICE),
}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, mailer.RenderedMail]]:
    outbox: list[tuple[str, mailer.RenderedMail]] = []
    monkeypatch.setattr(mailer, "send", lambda to, mail, headers=None: outbox.append((to, mail)) or "<id@test>")
    return outbox


def _worker(mongo_alias, preferences: dict[str, bool], language: str = "pl") -> NotificationsService:
    mongo_alias("notifications")
    accounts = mock.Mock()
    accounts.get_notification_target.return_value = _target(preferences, language)
    events = recording_events_api(NotificationsService, RecordingDispatch())
    return worker_factory(NotificationsService, events=events, accounts=accounts)


def test_every_billing_event_mails_the_customer_in_their_language(mongo_alias, sent):
    worker = _worker(mongo_alias, {}, language="en")
    for handler, (event_type, data) in EVENTS.items():
        getattr(worker, handler)(_message(event_type, data))
    subjects = [mail.subject for _, mail in sent]
    assert subjects == ["New invoice FV/2026/11/0007", "Payment received: invoice FV/2026/11/0007",
                        "Payment reminder: invoice FV/2026/11/0007", "Refund for invoice FV/2026/11/0007",
                        "Service suspended: Hosting Start", "Service restored: Hosting Start",
                        "Service terminated: Hosting Start"]  # fmt: skip
    reminder = sent[2][1]
    assert "18,45" in reminder.text and "/invoices/inv-1" in reminder.text and "3 days ago" in reminder.text


def test_switched_off_categories_are_honoured_except_invoices_and_termination(mongo_alias, sent):
    worker = _worker(mongo_alias, {"billing": False, "services": False})
    for handler, (event_type, data) in EVENTS.items():
        getattr(worker, handler)(_message(event_type, data))
    assert [mail.subject for _, mail in sent] == ["Nowa faktura FV/2026/11/0007", "Usługa zlikwidowana: Hosting Start"]


def test_an_event_delivered_twice_mails_once(mongo_alias, sent):
    worker = _worker(mongo_alias, {})
    message = _message("invoice_issued", INVOICE)
    worker.on_invoice_issued(message)
    worker.on_invoice_issued(message)
    assert len(sent) == 1


# --- through the running stack: the mails land in the SMTP sink -----------------------------------
def test_invoice_and_overdue_reminder_mails_arrive(stack, stack_clock):  # noqa: F811 - the imported fixture
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token = register_verified(base, mail_dir)
    since = time.time() - 1
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=15,
                          json={"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    placed = requests.post(f"{base}/api/v1/cart/checkout", headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
                           json={"payment_method": "bank_transfer"}, timeout=30)  # fmt: skip
    assert placed.status_code == 200, placed.text
    invoice_id = placed.json()["invoice_id"]
    issued = mail_text(wait_for_mail(mail_dir, email, "Nowa faktura", since=since))
    assert f"/invoices/{invoice_id}" in issued and "18,45" in issued

    stack_clock(9)  # the invoice is due 7 days after the order: now two days late
    run_billing_cycle(stack)
    reminder = mail_text(wait_for_mail(mail_dir, email, "Przypomnienie o płatności", since=since))
    assert f"/invoices/{invoice_id}" in reminder and "18,45" in reminder
