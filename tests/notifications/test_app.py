"""Notifications' application functions with fakes for the services they call (kernel.app.Deps)."""

from __future__ import annotations

from unittest import mock

import pytest
from nameko.exceptions import UnknownService
from nameko.testing.services import worker_factory

from kernel import db
from kernel.app import Deps, Remote
from kernel.errors import NotFound, Unavailable
from kernel.events import Event
from services.notifications.app import mails
from services.notifications.service import NotificationsService
from tests.fakes import RecordingDispatch, recording_events_api
from tests.notifications.test_billing_mails import EVENTS, _message, _target, sent  # noqa: F401 - a fixture


def test_the_target_is_asked_of_accounts_for_the_events_account():
    asked = []
    deps = Deps(events=None, remote=lambda owner, method, *args: asked.append((owner, method, *args)) or _target({}))
    event = Event.from_message(_message("invoice_issued", EVENTS["on_invoice_issued"][1]))
    assert mails.target(deps, event)["email"] == "a1@example.pl"
    assert asked == [("accounts", "get_notification_target", "a1")]


def test_an_account_accounts_does_not_know_is_not_found():
    deps = Deps(events=None, remote=lambda *call: None)
    with pytest.raises(NotFound):
        mails.target(deps, Event.from_message(_message("invoice_issued", EVENTS["on_invoice_issued"][1])))


def test_a_silent_accounts_service_sets_the_event_aside_and_mails_nobody(mongo_alias, sent):  # noqa: F811
    mongo_alias("notifications")
    accounts = mock.Mock()
    accounts.get_notification_target.side_effect = UnknownService("accounts")
    with pytest.raises(Unavailable):
        Remote({"accounts": accounts}, timeout=1)("accounts", "get_notification_target", "a1")
    events = recording_events_api(NotificationsService, RecordingDispatch())
    worker = worker_factory(NotificationsService, events=events, accounts=accounts)
    event_type, data = EVENTS["on_invoice_issued"]
    worker.on_invoice_issued(_message(event_type, data))
    assert sent == []
    [aside] = db.database("notifications")["dead_letters"].find()
    assert aside["consumer"] == "services.notifications.service.on_invoice_issued"
    assert aside["error"].startswith("Unavailable: ('accounts_unavailable'") and aside["attempts"] == 3
