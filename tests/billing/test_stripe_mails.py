"""The mails of automatic renewal charges (issue #15): a refused charge mails the pay link and when the
next try comes (or that none will), and a card expiring before a renewal gets its notice, in the
customer's language; both honour the "billing" category."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from nameko.testing.services import worker_factory

from kernel import clock
from services.notifications import mailer
from services.notifications.service import NotificationsService
from tests.contract_examples import event_data
from tests.fakes import RecordingDispatch, recording_events_api

FAILED = {"invoice_id": "inv-1", "number": "FV/2026/12/0003", "amount": 1845, "attempt": 1, "code": "card_declined",
          "next_retry_at": "2026-12-03T08:00:00"}  # fmt: skip
EXPIRING = {"payment_method_id": "pm_1", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2026,
            "renews_on": "2027-01-02T08:00:00"}  # fmt: skip


def _message(event_type: str, data: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": "customer-a1", "version": 1, "type": event_type,
            "occurred_at": clock.now().isoformat() + "Z", "data": event_data(event_type, account_id="a1", **data),
            "meta": {}}  # fmt: skip


@pytest.fixture
def sent(monkeypatch) -> list:
    outbox: list = []
    monkeypatch.setattr(mailer, "send", lambda to, mail, headers=None: outbox.append((to, mail)) or "<id@test>")
    return outbox


def _worker(mongo_alias, preferences: dict[str, bool], language: str) -> NotificationsService:
    mongo_alias("notifications")
    accounts = mock.Mock()
    accounts.get_notification_target.return_value = {
        "account_id": "a1", "email": "a1@example.pl", "first_name": "Łucja", "language": language,
        "notification_preferences": preferences, "contacts": []}  # fmt: skip
    return worker_factory(NotificationsService, events=recording_events_api(NotificationsService, RecordingDispatch()),
                          accounts=accounts)  # fmt: skip


def test_a_refused_charge_and_an_expiring_card_are_mailed(mongo_alias, sent):
    worker = _worker(mongo_alias, {}, "pl")
    worker.on_auto_charge_failed(_message("auto_charge_failed", FAILED))
    worker.on_auto_charge_failed(_message("auto_charge_failed", {**FAILED, "attempt": 4, "next_retry_at": None}))
    worker.on_card_expiring(_message("card_expiring", EXPIRING))
    [(to, first), (_, last), (_, notice)] = sent
    assert to == "a1@example.pl" and first.subject == "Nie udało się pobrać płatności za fakturę FV/2026/12/0003"
    assert "18,45" in first.text and "karta odrzucona" in first.text and "2026-12-03" in first.text
    assert "/invoices/inv-1" in first.text and "/billing/cards" in first.text
    assert "Nie będziemy już próbować" in last.text
    assert "VISA •••• 4242" in notice.subject and "12/2026" in notice.text and "2027-01-02" in notice.text


def test_in_english(mongo_alias, sent):
    worker = _worker(mongo_alias, {}, "en")
    worker.on_auto_charge_failed(_message("auto_charge_failed", FAILED))
    assert sent[0][1].subject == "We could not take the payment for invoice FV/2026/12/0003"
    assert "the card was declined" in sent[0][1].text and "2026-12-03" in sent[0][1].text


def test_not_when_billing_mails_are_switched_off(mongo_alias, sent):
    quiet = _worker(mongo_alias, {"billing": False}, "pl")
    quiet.on_auto_charge_failed(_message("auto_charge_failed", FAILED))
    quiet.on_card_expiring(_message("card_expiring", EXPIRING))
    assert not sent
