"""The Ticket and News aggregates alone: no database, no broker, no files."""

from __future__ import annotations

import pytest

from kernel.errors import CommandError, NotFound
from kernel.events import NewEvent, stamp
from services.support.domain import News, Ticket, news_stream, ticket_stream

ATTACHMENT = {"attachment_id": "a" * 32, "filename": "shot.png", "content_type": "image/png", "size": 10, "sha256": "x"}


def record(aggregate, new_events: list[NewEvent]):
    for event in stamp(aggregate.stream_id, aggregate.version + 1, new_events, {}):
        aggregate.apply(event)
    return new_events


def opened(**overrides) -> Ticket:
    ticket = Ticket(ticket_stream("t1"))
    args = {"account_id": "acc-1", "number": "#123456", "department": "technical", "priority": "high",
            "subject": " Site down ", "message": "Help", "related": {"kind": "domain", "id": "d1", "name": "a.pl"},
            "attachments": [ATTACHMENT]}  # fmt: skip
    args.update(overrides)
    record(ticket, ticket.open(**args))
    return ticket


def test_open_records_everything_a_consumer_needs():
    ticket = Ticket(ticket_stream("t1"))
    [event] = ticket.open("acc-1", "#123456", "billing", "low", " Invoice ", "Where is it?", None, [ATTACHMENT])
    assert event.type == "ticket_opened"
    d = event.data
    assert (d["account_id"], d["ticket_id"], d["number"], d["subject"]) == ("acc-1", "t1", "#123456", "Invoice")
    assert d["status"] == "open" and d["attachments"] == [ATTACHMENT] and d["message_id"]


@pytest.mark.parametrize(
    ("field", "args", "code"),
    [
        ("department", {"department": "legal"}, "invalid_department"),
        ("priority", {"priority": "critical"}, "invalid_priority"),
        ("subject", {"subject": "   "}, "required"),
        ("subject", {"subject": "x" * 201}, "too_long"),
        ("message", {"message": ""}, "required"),
        ("message", {"message": "x" * 20001}, "too_long"),
        ("related", {"related": {"kind": "invoice", "id": "1"}}, "invalid_related_kind"),
    ],
)
def test_open_refuses_bad_fields(field, args, code):
    ticket = Ticket(ticket_stream("t1"))
    base = {"account_id": "acc-1", "number": "#123456", "department": "technical", "priority": "low",
            "subject": "s", "message": "m"}  # fmt: skip
    with pytest.raises(CommandError) as err:
        ticket.open(**{**base, **args})
    assert err.value.fields == {field: code}


def test_subject_and_message_at_their_limits_are_accepted():
    ticket = opened(subject="s" * 200, message="m" * 20000)
    assert ticket.status == "open"


def test_cannot_open_twice():
    ticket = opened()
    with pytest.raises(CommandError) as err:
        ticket.open("acc-1", "#1", "technical", "low", "s", "m")
    assert err.value.code == "ticket_exists"


def test_status_follows_the_conversation():
    ticket = opened()
    [reply] = record(ticket, ticket.staff_reply("We are on it"))
    assert (reply.data["by"], reply.data["status"], ticket.status) == ("staff", "answered", "answered")
    record(ticket, ticket.customer_reply("Still down"))
    assert ticket.status == "customer-reply"
    [closed] = record(ticket, ticket.close("customer"))
    assert closed.type == "ticket_closed" and ticket.status == "closed"
    assert ticket.close("customer") == []
    [reopen] = record(ticket, ticket.customer_reply("Broken again"))
    assert reopen.data["reopened"] is True and reopen.data["previous_status"] == "closed"
    assert ticket.status == "customer-reply"


def test_every_ticket_event_carries_the_account_and_number():
    ticket = opened()
    events = [
        *record(ticket, ticket.staff_reply("a")),
        *record(ticket, ticket.set_status("on_hold")),
        *record(ticket, ticket.set_priority("urgent")),
        *record(ticket, ticket.add_note("internal")),
        *record(ticket, ticket.set_status("closed")),
    ]
    assert [e.type for e in events] == [
        "ticket_replied", "ticket_status_changed", "ticket_priority_changed", "ticket_note_added", "ticket_closed",
    ]  # fmt: skip
    for event in events:
        assert {k: event.data[k] for k in ("account_id", "ticket_id", "number", "subject")} == {
            "account_id": "acc-1", "ticket_id": "t1", "number": "#123456", "subject": "Site down",
        }  # fmt: skip
    assert events[-1].data["by"] == "staff"
    assert ticket.priority == "urgent"


def test_staff_status_and_priority_are_validated_and_idempotent():
    ticket = opened()
    with pytest.raises(CommandError) as err:
        ticket.set_status("deleted")
    assert err.value.fields == {"status": "invalid_status"}
    with pytest.raises(CommandError):
        ticket.set_priority("whenever")
    assert ticket.set_status("open") == []
    assert ticket.set_priority("high") == []


def test_attachments_of_every_message_are_remembered():
    ticket = opened()
    second = {**ATTACHMENT, "attachment_id": "b" * 32}
    record(ticket, ticket.staff_reply("see file", [second]))
    assert set(ticket.attachments) == {"a" * 32, "b" * 32}


def test_decisions_on_a_missing_ticket_are_not_found():
    ticket = Ticket(ticket_stream("nope"))
    for decide in (lambda: ticket.customer_reply("x"), lambda: ticket.close("customer"), lambda: ticket.add_note("x")):
        with pytest.raises(NotFound):
            decide()


def test_note_needs_text():
    ticket = opened()
    with pytest.raises(CommandError) as err:
        ticket.add_note(" ")
    assert err.value.fields == {"text": "required"}


# --- news ---------------------------------------------------------------------
def published(**overrides) -> News:
    news = News(news_stream("n1"))
    args = {"title": "Maintenance", "body": "**Tonight** 22:00", "language": "pl", "concerns_plans": ["pro"]}
    record(news, news.publish(**{**args, **overrides}))
    return news


def test_publish_renders_safe_html_from_markdown():
    news = News(news_stream("n1"))
    body = "Hello **all** <script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))"
    [event] = news.publish("T", body, "en", None, "2030-01-02T03:04:05Z")
    html = event.data["body_html"]
    assert "<strong>all</strong>" in html
    assert "<script" not in html and "alert(1)" not in html
    assert "onerror" not in html and "javascript:" not in html
    assert event.data["body"] == body
    assert event.data["published_at"] == "2030-01-02T03:04:05Z"
    assert event.data["concerns_plans"] == []


def test_publish_validates():
    news = News(news_stream("n1"))
    with pytest.raises(CommandError) as err:
        news.publish("", "b", "de", ["ok", 5], "yesterday")
    assert err.value.fields == {
        "title": "required", "language": "invalid_language", "concerns_plans": "invalid_plans",
        "published_at": "invalid_datetime",
    }  # fmt: skip


def test_update_carries_the_whole_new_version_and_only_when_something_changed():
    news = published()
    assert news.update({"title": "Maintenance", "body": None}) == []
    [event] = record(news, news.update({"body": "<b onclick=x()>now</b>"}))
    assert event.data["changed"] == ["body"]
    assert event.data["title"] == "Maintenance" and event.data["concerns_plans"] == ["pro"]
    assert "onclick" not in event.data["body_html"] and "now" in event.data["body_html"]


def test_withdrawn_news_cannot_change():
    news = published()
    [event] = record(news, news.withdraw())
    assert event.type == "news_withdrawn" and event.data["language"] == "pl"
    assert news.withdraw() == []
    with pytest.raises(CommandError) as err:
        news.update({"title": "again"})
    assert err.value.code == "news_withdrawn"


def test_missing_news_is_not_found():
    with pytest.raises(NotFound):
        News(news_stream("x")).update({"title": "t"})
