"""Support mails (services/notifications/app/support_mails.py) through a notifications worker on the
real database: who is mailed for which support event, the customer's choice honoured, news only
to opted-in customers in its language (and plans), each mail once."""

from __future__ import annotations

import datetime as dt
import uuid
from unittest import mock

import pytest
from nameko.testing.services import worker_factory

from kernel import clock, settings
from services.notifications import mailer
from services.notifications.projections import SentMail
from services.notifications.service import NotificationsService
from tests.contract_examples import event_data
from tests.fakes import RecordingDispatch, recording_events_api

TICKET = {"account_id": "a1", "ticket_id": "t1", "number": "#482913", "subject": "Strona nie działa",
          "message": "Sprawdziliśmy serwer.", "attachments": [{"filename": "log.txt"}]}  # fmt: skip


def _target(preferences: dict[str, bool]) -> dict:
    return {"account_id": "a1", "email": "a1@example.pl", "first_name": "Łucja", "language": "pl",
            "notification_preferences": preferences, "contacts": []}  # fmt: skip


def _person(account_id: str, language: str) -> dict:
    return {"account_id": account_id, "email": f"{account_id}@example.pl", "first_name": account_id,
            "language": language, "unsubscribe_token": f"tok-{account_id}"}  # fmt: skip


def _message(event_type: str, data: dict, stream_id: str = "ticket-t1") -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": stream_id, "version": 2, "type": event_type,
            "occurred_at": clock.now().isoformat() + "Z", "data": event_data(event_type, **data), "meta": {}}  # fmt: skip


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, mailer.RenderedMail]]:
    outbox: list[tuple[str, mailer.RenderedMail]] = []
    monkeypatch.setattr(mailer, "send", lambda to, mail, headers=None: outbox.append((to, mail)) or "<id@test>")
    return outbox


def _worker(mongo_alias, preferences: dict[str, bool] | None = None, people: list[dict] | None = None,
            holders: list[str] | None = None) -> NotificationsService:  # fmt: skip
    mongo_alias("notifications")
    accounts, support = mock.Mock(), mock.Mock()
    accounts.get_notification_target.return_value = _target(preferences or {})
    accounts.mailing_list_recipients.return_value = people or []
    support.accounts_with_plans.return_value = holders or []
    events = recording_events_api(NotificationsService, RecordingDispatch())
    return worker_factory(NotificationsService, events=events, accounts=accounts, support=support)


def test_a_staff_reply_mails_the_customer_with_the_answer(mongo_alias, sent):
    worker = _worker(mongo_alias)
    worker.on_ticket_replied(_message("ticket_replied", {**TICKET, "by": "staff", "status": "answered"}))
    [(to, mail)] = sent
    assert to == "a1@example.pl" and mail.subject == "Odpowiedź w zgłoszeniu #482913: Strona nie działa"
    assert "Sprawdziliśmy serwer." in mail.text and "log.txt" in mail.text and "/tickets/t1" in mail.text
    assert [m.template for m in SentMail.objects(account_id="a1")] == ["ticket_replied"]


def test_a_customer_who_switched_support_mail_off_gets_none(mongo_alias, sent):
    worker = _worker(mongo_alias, {"support": False})
    worker.on_ticket_replied(_message("ticket_replied", {**TICKET, "by": "staff", "status": "answered"}))
    assert sent == []


def test_new_tickets_and_customer_replies_go_to_the_staff_address_only(mongo_alias, sent):
    worker = _worker(mongo_alias)
    worker.on_ticket_opened(_message("ticket_opened", {**TICKET, "department": "technical", "priority": "high"}))
    worker.on_ticket_replied(_message("ticket_replied", {**TICKET, "by": "customer", "reopened": True}))
    assert [to for to, _ in sent] == [settings.SUPPORT_STAFF_EMAIL] * 2
    assert [m.subject for _, m in sent] == ["Nowe zgłoszenie #482913: Strona nie działa",
                                           "Odpowiedź klienta w #482913: Strona nie działa"]  # fmt: skip
    assert "otwarte ponownie" in sent[1][1].text and "/staff/tickets/t1" in sent[1][1].text
    assert SentMail.objects(account_id="a1").count() == 0  # not part of the customer's e-mail history


def _news(**changes) -> dict:
    data = {"news_id": "n1", "title": "Przerwa techniczna", "body": "W nocy **prace**.", "language": "pl",
            "concerns_plans": [], "published_at": clock.now().isoformat() + "Z"}  # fmt: skip
    return _message("news_published", {**data, **changes}, stream_id="news-n1")


def test_news_goes_to_opted_in_customers_in_its_language_once(mongo_alias, sent):
    people = [_person("pl1", "pl"), _person("en1", "en"), _person("pl2", "pl")]
    worker = _worker(mongo_alias, people=people)
    message = _news()
    worker.on_news_published(message)
    worker.on_news_published(message)  # delivered twice: mailed once
    assert sorted(to for to, _ in sent) == ["pl1@example.pl", "pl2@example.pl"]
    assert sent[0][1].subject == "Przerwa techniczna" and "/unsubscribe/tok-pl" in sent[0][1].text


def test_news_for_plans_goes_only_to_their_holders_and_scheduled_news_waits(mongo_alias, sent):
    worker = _worker(mongo_alias, people=[_person("pl1", "pl"), _person("pl2", "pl")], holders=["pl2"])
    worker.on_news_published(_news(concerns_plans=["hosting-pro"]))
    assert [to for to, _ in sent] == ["pl2@example.pl"]
    worker.support.accounts_with_plans.assert_called_once_with(["hosting-pro"])
    later = (clock.now() + dt.timedelta(days=3)).isoformat() + "Z"
    worker.on_news_published(_news(news_id="n2", published_at=later))
    assert len(sent) == 1
