"""No mail goes out to an address with a NUL, a line break or another control character in it
(nor to two addresses at once), and the new account mails (already registered, password changed)
render in both languages: through a real SMTP server on a socket of its own."""

from __future__ import annotations

import socket
import uuid
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from nameko.testing.services import worker_factory

from kernel import clock, settings
from services.notifications import mailer
from services.notifications.service import NotificationsService
from tests.contract_examples import event_data
from tests.fakes import RecordingDispatch, recording_events_api

UNSAFE = ["a\x00b@example.pl", "a@example.pl\nBcc: ofiara@example.pl", "a@example.pl\r\nX: y", "a@example.pl,b@example.pl",
          "a@example.pl b@example.pl", "a\u2028@example.pl", "a\x7f@example.pl", "a\ud800@example.pl", "", "x" * 300]  # fmt: skip


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(settings, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setattr(settings, "SMTP_PORT", port)
    yield inbox
    controller.stop()


def _mail() -> mailer.RenderedMail:
    return mailer.render("password_changed", "pl", {"first_name": "Jan"})


@pytest.mark.parametrize("address", UNSAFE)
def test_an_unsafe_recipient_address_is_refused_before_anything_is_sent(smtp, address):
    with pytest.raises(mailer.UnsafeAddress):
        mailer.send(address, _mail())
    mailer.send("jan@example.pl", _mail())  # the server works: only the good one arrived
    assert [rcpt for rcpt, _ in smtp.messages] == [["jan@example.pl"]]


class _Accounts:
    """accounts.get_notification_target as the accounts service answers it (its own tests cover it)."""

    def __init__(self, target: dict) -> None:
        self.target = target

    def get_notification_target(self, account_id: str) -> dict:
        return self.target


def _event(event_type: str, data: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": "account-a1", "version": 1, "type": event_type,
            "occurred_at": clock.now().isoformat() + "Z", "data": event_data(event_type, **data), "meta": {}}  # fmt: skip


def test_the_service_skips_an_unsafe_address_and_still_mails_the_others(smtp, mongo_alias):
    mongo_alias("notifications")
    target = {"account_id": "a1", "email": "owner@example.pl", "first_name": "Jan", "language": "pl",
              "notification_preferences": {}, "contacts": [
                  {"contact_id": "c1", "email": "zly\x00@example.pl", "first_name": "Zły", "language": "pl",
                   "categories": ["billing"]},
                  {"contact_id": "c2", "email": "ewa@example.pl", "first_name": "Ewa", "language": "en",
                   "categories": ["billing"]}]}  # fmt: skip
    dispatch = RecordingDispatch()
    worker = worker_factory(NotificationsService, events=recording_events_api(NotificationsService, dispatch),
                            accounts=_Accounts(target))  # fmt: skip
    invoice = {"account_id": "a1", "invoice_id": "i1", "number": "FV/1", "total_gross": 100,
               "due_date": "2026-11-30T10:00:00", "kind": "order"}  # fmt: skip
    worker.on_invoice_issued(_event("invoice_issued", invoice))
    assert sorted(rcpt[0] for rcpt, _ in smtp.messages) == ["ewa@example.pl", "owner@example.pl"]
    worker.on_registration_attempted(_event("registration_attempted", {"email": "x\n@example.pl", "language": "pl"}))
    assert len(smtp.messages) == 2
    assert sorted(m["data"]["to"] for m in dispatch.of("mail_sent")) == ["ewa@example.pl", "owner@example.pl"]


@pytest.mark.parametrize(("language", "subject"), [("pl", "Masz już konto w Panelu Klienta"),
                                                   ("en", "You already have a Panel Klienta account")])  # fmt: skip
def test_a_known_address_registering_again_is_told_in_its_language(smtp, mongo_alias, language, subject):
    mongo_alias("notifications")
    target = {"account_id": "a1", "email": "owner@example.pl", "first_name": "Jan", "language": "pl",
              "notification_preferences": {}, "contacts": []}  # fmt: skip
    worker = worker_factory(NotificationsService, accounts=_Accounts(target),
                            events=recording_events_api(NotificationsService, RecordingDispatch()))  # fmt: skip
    worker.on_registration_attempted(_event("registration_attempted", {"email": "owner@example.pl",
                                                                        "language": language}))  # fmt: skip
    worker.on_password_changed(_event("password_changed", {}))
    [(_, told), (_, changed)] = smtp.messages
    assert told["Subject"] == subject and "/password-reset" in told.get_body(("plain",)).get_content()
    assert changed["Subject"] == "Zmieniono hasło do Panelu Klienta"  # the owner's own language
