"""The support service through its RPC methods, on the real MongoDB-compatible
server and a real event store; the broker is replaced by a recording dispatch."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest

from kernel import clock
from kernel.errors import CommandError, NotFound
from services.support import operational as ops
from services.support.projections import TicketEntry, TicketView
from tests.contract_examples import event_data
from tests.fakes import call_as
from tests.support.helpers import EXE, PDF, PNG, attachment, customer, dashboard_news, staff

ALICE, BOB = "acc-alice", "acc-bob"


def open_ticket(support, account_id=ALICE, **overrides):
    args = {"department": "technical", "priority": "medium", "subject": "Site down", "message": "My site is down",
            "related": {"kind": "service", "id": "svc-1", "name": "Hosting Pro"}, "attachments": []}  # fmt: skip
    args.update(overrides)
    return support.worker.open_ticket(account_id, ctx=customer(account_id), **args)


def test_open_with_attachment_stores_file_by_id_and_serves_it_to_the_owner(support):
    ticket = open_ticket(support, attachments=[attachment("screenshot.png", PNG, "image/png")])
    assert re.fullmatch(r"#\d{6}", ticket["number"])
    assert ticket["status"] == "open" and ticket["related"]["id"] == "svc-1"
    [message] = ticket["messages"]
    assert message["by"] == "customer" and message["text"] == "My site is down"
    [meta] = message["attachments"]
    assert meta["filename"] == "screenshot.png" and meta["content_type"] == "image/png" and meta["size"] == len(PNG)
    [stored] = support.stored_files()
    assert stored.name == meta["attachment_id"] and stored.read_bytes() == PNG

    served = support.worker.get_attachment(ALICE, ticket["ticket_id"], meta["attachment_id"])
    assert base64.b64decode(served["data_base64"]) == PNG
    assert (served["filename"], served["content_type"]) == ("screenshot.png", "image/png")

    [opened] = support.dispatch.of("ticket_opened")
    assert opened["data"]["account_id"] == ALICE and opened["data"]["number"] == ticket["number"]
    assert opened["meta"]["actor"] == {"type": "account", "id": ALICE}
    assert opened["data"]["attachments"][0]["attachment_id"] == meta["attachment_id"]


def test_the_whole_conversation_and_its_statuses(support):
    ticket_id = open_ticket(support)["ticket_id"]
    answered = support.worker.staff_reply(ticket_id, "We are looking", [attachment("fix.pdf", PDF)], ctx=staff())
    assert answered["status"] == "answered"
    assert support.worker.get_ticket(ALICE, ticket_id)["status"] == "answered"
    [staff_reply] = support.dispatch.of("ticket_replied")
    assert staff_reply["data"]["by"] == "staff" and staff_reply["data"]["account_id"] == ALICE
    assert staff_reply["meta"]["actor"] == {"type": "staff", "id": "staff-1"}

    assert (
        support.worker.reply(ALICE, ticket_id, "Thanks, still down", ctx=customer(ALICE))["status"] == "customer-reply"
    )
    assert support.worker.close_ticket(ALICE, ticket_id, ctx=customer(ALICE))["status"] == "closed"
    [closed] = support.dispatch.of("ticket_closed")
    assert closed["data"]["by"] == "customer" and closed["data"]["account_id"] == ALICE

    reopened = support.worker.reply(ALICE, ticket_id, "It broke again", ctx=customer(ALICE))
    assert reopened["status"] == "customer-reply"
    assert [m["by"] for m in reopened["messages"]] == ["customer", "staff", "customer", "customer"]
    assert reopened["messages"][1]["attachments"][0]["filename"] == "fix.pdf"
    assert support.dispatch.of("ticket_replied")[-1]["data"]["reopened"] is True


def test_another_accounts_ticket_and_attachment_are_not_found(support):
    ticket = open_ticket(support, attachments=[attachment("a.png", PNG)])
    ticket_id, attachment_id = ticket["ticket_id"], ticket["messages"][0]["attachments"][0]["attachment_id"]
    calls = [
        lambda: support.worker.get_ticket(BOB, ticket_id),
        lambda: support.worker.reply(BOB, ticket_id, "hi", ctx=customer(BOB)),
        lambda: support.worker.close_ticket(BOB, ticket_id, ctx=customer(BOB)),
        lambda: support.worker.get_attachment(BOB, ticket_id, attachment_id),
        lambda: support.worker.get_attachment(None, ticket_id, attachment_id),
        lambda: support.worker.get_attachment(ALICE, ticket_id, "../../etc/passwd"),
        lambda: support.worker.get_ticket(ALICE, "no-such-ticket"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert support.worker.list_tickets(BOB)["total"] == 0
    assert support.worker.get_ticket(ALICE, ticket_id)["status"] == "open"  # Bob changed nothing
    served = call_as(support.worker, "get_attachment", staff(), None, ticket_id, attachment_id)
    assert base64.b64decode(served["data_base64"]) == PNG


def test_an_attachment_of_another_ticket_of_the_same_account_is_not_found(support):
    first = open_ticket(support, attachments=[attachment("a.png", PNG)])
    second = open_ticket(support)
    with pytest.raises(NotFound):
        support.worker.get_attachment(
            ALICE, second["ticket_id"], first["messages"][0]["attachments"][0]["attachment_id"]
        )


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (attachment("page.html", b"<script>alert(1)</script>", "text/html"), "attachment_type_not_allowed"),
        (attachment("cat.png", EXE, "image/png"), "attachment_content_mismatch"),
    ],
)
def test_disallowed_file_refuses_the_ticket_and_stores_nothing(support, upload, code):
    with pytest.raises(CommandError) as err:
        open_ticket(support, attachments=[attachment("ok.png", PNG), upload])
    assert err.value.fields == {"attachments.1": code}
    assert support.stored_files() == []
    assert support.dispatch.messages == []
    assert TicketView.objects.count() == 0 and ops.TicketNumber.objects.count() == 0


def test_disallowed_file_in_a_reply_stores_nothing(support):
    ticket_id = open_ticket(support)["ticket_id"]
    for call in (
        lambda: support.worker.reply(ALICE, ticket_id, "see", [attachment("a.png", PNG), attachment("b.exe", EXE)]),
        lambda: support.worker.staff_reply(ticket_id, "see", [attachment("b.png", EXE)], ctx=staff()),
    ):
        with pytest.raises(CommandError):
            call()
    assert support.stored_files() == []
    assert support.dispatch.types() == ["ticket_opened"]
    assert len(support.worker.get_ticket(ALICE, ticket_id)["messages"]) == 1


def test_files_are_removed_when_the_event_cannot_be_stored(support, monkeypatch):
    def broken_append(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(support.worker.events, "append", broken_append)
    with pytest.raises(RuntimeError):
        open_ticket(support, attachments=[attachment("a.png", PNG)])
    assert support.stored_files() == []
    assert ops.TicketNumber.objects.count() == 0


def test_internal_notes_never_reach_the_customer(support):
    ticket_id = open_ticket(support)["ticket_id"]
    secret = "customer is a known abuser XYZZY"
    desk = support.worker.staff_add_note(ticket_id, secret, ctx=staff("staff-7"))
    assert desk["notes"][0]["text"] == secret and desk["notes"][0]["author"] == {"type": "staff", "id": "staff-7"}
    assert support.dispatch.of("ticket_note_added")[0]["meta"]["actor"]["id"] == "staff-7"
    customer_sees = [
        support.worker.get_ticket(ALICE, ticket_id),
        support.worker.list_tickets(ALICE),
        support.worker.dashboard_summary(ALICE),
    ]
    for view in customer_sees:
        assert "XYZZY" not in json.dumps(view)
    assert "notes" not in customer_sees[0]
    assert TicketEntry.objects(ticket_id=ticket_id, kind="note").count() == 1


def test_a_note_does_not_move_the_customers_last_update(support, monkeypatch):
    ticket = open_ticket(support)
    later = clock.now() + dt.timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    support.worker.staff_add_note(ticket["ticket_id"], "note", ctx=staff())
    assert support.worker.get_ticket(ALICE, ticket["ticket_id"])["updated_at"] == ticket["updated_at"]


def test_ticket_numbers_are_unique_even_when_the_dice_repeat(support, monkeypatch):
    rolls = iter(["#111111", "#111111", "#111111", "#222222"])
    monkeypatch.setattr(ops, "random_number", lambda: next(rolls))
    first = open_ticket(support)
    second = open_ticket(support, account_id=BOB)
    assert (first["number"], second["number"]) == ("#111111", "#222222")


def test_gives_up_when_no_number_is_free(support, monkeypatch):
    monkeypatch.setattr(ops, "random_number", lambda: "#333333")
    open_ticket(support)
    with pytest.raises(CommandError) as err:
        open_ticket(support)
    assert err.value.code == "ticket_number_unavailable"


def test_many_tickets_get_distinct_six_digit_numbers(support):
    numbers = [open_ticket(support)["number"] for _ in range(15)]
    assert len(set(numbers)) == 15 and all(re.fullmatch(r"#[1-9]\d{5}", n) for n in numbers)


def test_open_validates_fields_with_codes(support):
    with pytest.raises(CommandError) as err:
        open_ticket(support, department="legal", priority="", subject="", message="x" * 20001)
    assert err.value.fields == {"department": "invalid_department", "priority": "required", "subject": "required",
                                "message": "too_long"}  # fmt: skip
    assert support.dispatch.messages == []


def test_list_tickets_filters_and_pages(support, monkeypatch):
    ids = [open_ticket(support, subject=f"t{i}")["ticket_id"] for i in range(3)]
    support.worker.close_ticket(ALICE, ids[0], ctx=customer(ALICE))
    open_ticket(support, account_id=BOB)
    everything = support.worker.list_tickets(ALICE)
    assert everything["total"] == 3
    active = support.worker.list_tickets(ALICE, status="active")
    assert active["total"] == 2 and {t["ticket_id"] for t in active["items"]} == set(ids[1:])
    closed = support.worker.list_tickets(ALICE, status="closed")
    assert [t["ticket_id"] for t in closed["items"]] == [ids[0]]
    page = support.worker.list_tickets(ALICE, page=2, per_page=2)
    assert (page["total"], page["pages"], len(page["items"])) == (3, 2, 1)
    with pytest.raises(CommandError):
        support.worker.list_tickets(ALICE, status="deleted")


def test_dashboard_counts_only_tickets_that_are_not_closed(support, monkeypatch):
    start = clock.now()
    ids = []
    for i in range(7):
        monkeypatch.setattr(clock, "now", lambda i=i: start + dt.timedelta(minutes=i))
        ids.append(open_ticket(support, subject=f"t{i}")["ticket_id"])
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=30))
    support.worker.close_ticket(ALICE, ids[0], ctx=customer(ALICE))
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=31))
    support.worker.close_ticket(ALICE, ids[1], ctx=customer(ALICE))
    open_ticket(support, account_id=BOB)
    summary = support.worker.dashboard_summary(ALICE)
    assert summary["tiles"] == {"tickets": 5}
    recent = summary["recent_tickets"]
    assert [t["ticket_id"] for t in recent] == [ids[1], ids[0], ids[6], ids[5], ids[4]]
    assert set(recent[0]) == {"ticket_id", "number", "subject", "status", "updated_at"}
    assert recent[0]["status"] == "closed"


def test_staff_queue_by_department_status_and_urgency(support, monkeypatch):
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    low = open_ticket(support, priority="low")["ticket_id"]
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=1))
    urgent = open_ticket(support, priority="urgent")["ticket_id"]
    bill = open_ticket(support, department="billing", account_id=BOB)["ticket_id"]
    done = open_ticket(support)["ticket_id"]
    support.worker.staff_set_status(done, "closed", ctx=staff())
    queue = support.worker.staff_queue()
    assert [t["ticket_id"] for t in queue["items"]] == [urgent, bill, low]
    assert queue["items"][0]["account_id"] == ALICE
    assert [t["ticket_id"] for t in support.worker.staff_queue(department="billing")["items"]] == [bill]
    assert [t["ticket_id"] for t in support.worker.staff_queue(status="closed")["items"]] == [done]
    assert support.worker.staff_queue(status="all")["total"] == 4
    with pytest.raises(CommandError):
        support.worker.staff_queue(department="legal")


def test_staff_status_and_priority_changes(support):
    ticket_id = open_ticket(support)["ticket_id"]
    assert support.worker.staff_set_status(ticket_id, "in_progress", ctx=staff())["status"] == "in_progress"
    assert support.worker.staff_set_priority(ticket_id, "urgent", ctx=staff())["priority"] == "urgent"
    assert support.worker.staff_set_status(ticket_id, "on_hold", ctx=staff())["status"] == "on_hold"
    changed = support.dispatch.of("ticket_status_changed")
    assert [(e["data"]["previous_status"], e["data"]["status"]) for e in changed] == [
        ("open", "in_progress"), ("in_progress", "on_hold"),
    ]  # fmt: skip
    assert all(e["data"]["account_id"] == ALICE for e in changed)
    with pytest.raises(CommandError) as err:
        support.worker.staff_set_status(ticket_id, "deleted", ctx=staff())
    assert err.value.fields == {"status": "invalid_status"}
    with pytest.raises(NotFound):
        support.worker.staff_set_status("missing", "open", ctx=staff())


def test_staff_commands_need_a_staff_actor(support):
    ticket_id = open_ticket(support)["ticket_id"]
    for call in (
        lambda: call_as(support.worker, "staff_reply", customer(ALICE), ticket_id, "hi"),
        lambda: call_as(support.worker, "staff_add_note", None, ticket_id, "hi"),
        lambda: call_as(support.worker, "publish_news", customer(ALICE), "t", "b", "pl"),
        lambda: call_as(support.worker, "staff_get_ticket", customer(ALICE), ticket_id),
    ):
        with pytest.raises(CommandError) as err:
            call()
        assert err.value.code == "caller_not_allowed"
    assert support.dispatch.types() == ["ticket_opened"]


# --- news -----------------------------------------------------------------------
def publish(support, **overrides):
    args = {"title": "Prace serwisowe", "body": "Dziś **w nocy**", "language": "pl"}
    return support.worker.publish_news(**{**args, **overrides}, ctx=staff())


def test_news_html_is_sanitised(support):
    body = "Hi <script>alert('x')</script> <img src=x onerror=\"alert(1)\"> [click](javascript:alert(2))"
    item = publish(support, body=body, language="en")
    for html in (item["body_html"], support.worker.get_news(item["news_id"])["body_html"]):
        assert "<script" not in html and "alert('x')" not in html
        assert "onerror" not in html and "javascript:" not in html
        assert "Hi" in html and "<img" in html
    assert support.worker.get_news(item["news_id"])["body"] == body
    [event] = support.dispatch.of("news_published")
    assert event["meta"]["actor"] == {"type": "staff", "id": "staff-1"} and event["data"]["language"] == "en"


def test_news_lifecycle_language_and_schedule(support):
    first = publish(support, published_at="2020-01-01T10:00:00Z")
    second = publish(support, published_at="2020-02-01T10:00:00+02:00")
    publish(support, language="en")
    future = publish(support, published_at=(clock.now() + dt.timedelta(days=1)).isoformat())
    listed = support.worker.list_news("pl")
    assert [n["news_id"] for n in listed["items"]] == [second["news_id"], first["news_id"]]
    assert listed["items"][0]["published_at"] == "2020-02-01T08:00:00Z"
    with pytest.raises(NotFound):
        support.worker.get_news(future["news_id"])

    updated = support.worker.update_news(first["news_id"], title="Nowy tytuł", body="<b onclick=x()>ok</b>",
                                         ctx=staff())  # fmt: skip
    assert updated["title"] == "Nowy tytuł" and "onclick" not in updated["body_html"]
    assert support.dispatch.of("news_updated")[0]["data"]["changed"] == ["body", "title"]

    support.worker.withdraw_news(second["news_id"], ctx=staff())
    assert [n["news_id"] for n in support.worker.list_news("pl")["items"]] == [first["news_id"]]
    with pytest.raises(NotFound):
        support.worker.get_news(second["news_id"])
    with pytest.raises(CommandError) as err:
        support.worker.update_news(second["news_id"], title="x", ctx=staff())
    assert err.value.code == "news_withdrawn"
    desk = support.worker.staff_list_news()
    assert desk["total"] == 4 and {n["status"] for n in desk["items"]} == {"published", "withdrawn"}


def test_dashboard_news_in_the_customers_language_and_for_the_plans_they_hold(support):
    general = publish(support, title="Dla wszystkich")
    pro = publish(support, title="Tylko Pro", concerns_plans=["pro"])
    publish(support, title="Tylko Start", concerns_plans=["start"])
    publish(support, title="English", language="en")
    message = {"event_id": "e-1", "stream_id": "service-s1", "version": 1, "type": "service_activated",
               "occurred_at": "2024-01-01T00:00:00Z", "meta": {},
               "data": event_data("service_activated", account_id=ALICE, service_id="s1", name="WWW", plan="pro",
                                  domain="a.pl")}  # fmt: skip
    support.worker.on_service_activated(message)
    titles = {n["news_id"] for n in dashboard_news(support.worker, ALICE, "pl")}
    assert titles == {general["news_id"], pro["news_id"]}
    assert {n["title"] for n in dashboard_news(support.worker, BOB, "pl")} == {"Dla wszystkich"}
    assert [n["title"] for n in dashboard_news(support.worker, BOB, "en")] == ["English"]
    ended = event_data("service_terminated", **{k: message["data"][k] for k in ("account_id", "service_id", "name",
                                                                                "plan", "domain")})  # fmt: skip
    support.worker.on_service_terminated({**message, "event_id": "e-2", "type": "service_terminated", "data": ended})
    assert {n["title"] for n in dashboard_news(support.worker, ALICE, "pl")} == {"Dla wszystkich"}
    assert support.worker.list_news("pl")["total"] == 3


def test_the_news_list_has_every_item_in_the_language_and_marks_those_for_the_customers_plans(support):
    general = publish(support, title="Dla wszystkich", published_at="2021-01-01T00:00:00Z")
    pro = publish(support, title="Tylko Pro", concerns_plans=["pro", "biznes"], published_at="2021-01-02T00:00:00Z")
    start = publish(support, title="Tylko Start", concerns_plans=["start"], published_at="2021-01-03T00:00:00Z")
    publish(support, title="English", language="en")
    withdrawn = publish(support, title="Wycofana")
    support.worker.withdraw_news(withdrawn["news_id"], ctx=staff())
    publish(support, title="Jutro", published_at=(clock.now() + dt.timedelta(days=1)).isoformat())
    message = {"event_id": "e-1", "stream_id": "service-s1", "version": 1, "type": "service_activated",
               "occurred_at": "2024-01-01T00:00:00Z", "meta": {},
               "data": event_data("service_activated", account_id=ALICE, service_id="s1", name="WWW", plan="pro",
                                  domain="a.pl")}  # fmt: skip
    support.worker.on_service_activated(message)

    listed = support.worker.list_news("pl", account_id=ALICE)
    assert [(n["news_id"], n["relevant"]) for n in listed["items"]] == [
        (start["news_id"], False), (pro["news_id"], True), (general["news_id"], False)]  # fmt: skip
    assert (listed["total"], listed["page"], listed["pages"]) == (3, 1, 1)
    assert [n["relevant"] for n in support.worker.list_news("pl", account_id=BOB)["items"]] == [False] * 3
    paged = support.worker.list_news("pl", 2, 2, account_id=ALICE)
    assert [n["news_id"] for n in paged["items"]] == [general["news_id"]] and paged["pages"] == 2
    assert [n["title"] for n in support.worker.list_news("en", account_id=ALICE)["items"]] == ["English"]
    # the dashboard keeps only what concerns the customer
    assert {n["news_id"] for n in dashboard_news(support.worker, ALICE, "pl")} == {
        general["news_id"], pro["news_id"]}  # fmt: skip


def test_dashboard_shows_at_most_five_news(support):
    for i in range(7):
        publish(support, title=f"n{i}", published_at=f"2021-01-0{i + 1}T00:00:00Z")
    assert [n["title"] for n in dashboard_news(support.worker, ALICE, "pl")] == ["n6", "n5", "n4", "n3", "n2"]


def test_dashboard_news_are_the_newest_five_of_everybodys_and_the_customers_plans_once_each(support):
    for i in range(6):
        publish(support, title=f"all{i}", published_at=f"2021-01-0{i + 1}T00:00:00Z")
    publish(support, title="pro+biznes", concerns_plans=["pro", "biznes"], published_at="2021-01-04T12:00:00Z")
    publish(support, title="start", concerns_plans=["start"], published_at="2021-01-09T00:00:00Z")
    latest = support.worker.dashboard_news("pl")
    assert sorted(latest["by_audience"]) == ["*", "biznes", "pro", "start"] and latest["language"] == "pl"
    assert [n["title"] for n in latest["by_audience"]["pro"]] == ["pro+biznes"]
    for plan in ("pro", "biznes"):
        activated = {"event_id": f"e-{plan}", "stream_id": f"service-{plan}", "version": 1, "type": "service_activated",
                     "occurred_at": "2024-01-01T00:00:00Z", "meta": {},
                     "data": event_data("service_activated", account_id=ALICE, service_id=f"s-{plan}", name="WWW",
                                        plan=plan, domain="a.pl")}  # fmt: skip
        support.worker.on_service_activated(activated)
    assert support.worker.dashboard_summary(ALICE)["plans"] == ["biznes", "pro"]
    assert [n["title"] for n in dashboard_news(support.worker, ALICE, "pl")] == [
        "all5", "all4", "pro+biznes", "all3", "all2"]  # fmt: skip
    assert [n["title"] for n in dashboard_news(support.worker, BOB, "pl")] == ["all5", "all4", "all3", "all2", "all1"]
    assert support.worker.dashboard_news("xx")["language"] == "pl"  # an unknown language reads as Polish


def test_dashboard_news_reads_any_odd_language_as_polish(support):
    publish(support, title="Dla wszystkich")
    polish = support.worker.dashboard_news("pl")
    for odd in (["en"], 7, None, "e" * 100_000, "\udcff", "en\x00"):
        assert support.worker.dashboard_news(odd) == polish, odd


def test_projections_rebuild_from_the_events(support):
    ticket_id = open_ticket(support)["ticket_id"]
    support.worker.staff_reply(ticket_id, "answer", ctx=staff())
    support.worker.staff_add_note(ticket_id, "note", ctx=staff())
    news_id = publish(support)["news_id"]
    before = (support.worker.staff_get_ticket(ticket_id), support.worker.get_news(news_id))
    for projection in support.worker.events.projections:
        projection.reset()
    assert TicketView.objects.count() == 0
    for projection in support.worker.events.projections:
        projection.apply_all(support.worker.events.store.all_events())
    assert (support.worker.staff_get_ticket(ticket_id), support.worker.get_news(news_id)) == before


def test_list_tickets_by_department(support):
    billing = open_ticket(support, department="billing")["ticket_id"]
    open_ticket(support, department="technical")
    assert [t["ticket_id"] for t in support.worker.list_tickets(ALICE, department="billing")["items"]] == [billing]
    assert support.worker.list_tickets(ALICE, status="closed", department="billing")["total"] == 0
    with pytest.raises(CommandError) as err:
        support.worker.list_tickets(ALICE, department="kitchen")
    assert err.value.fields == {"department": "invalid_department"}


def test_accounts_with_plans_and_the_staff_view_of_one_news_item(support):
    for n, (account_id, plan) in enumerate(((ALICE, "pro"), (BOB, "start"), (ALICE, "start"))):
        support.worker.on_service_activated({
            "event_id": f"e-{n}", "stream_id": f"service-s{n}", "version": 1, "type": "service_activated",
            "occurred_at": "2024-01-01T00:00:00Z", "meta": {},
            "data": event_data("service_activated", account_id=account_id, service_id=f"s{n}", name="WWW", plan=plan,
                               domain=None)})  # fmt: skip
    assert support.worker.accounts_with_plans(["pro"]) == [ALICE]
    assert support.worker.accounts_with_plans(["start", "pro"]) == sorted([ALICE, BOB])
    with pytest.raises(CommandError):
        support.worker.accounts_with_plans("pro")
    item = publish(support, title="Wycofana")
    support.worker.withdraw_news(item["news_id"], ctx=staff())
    seen = support.worker.staff_get_news(item["news_id"])
    assert (seen["title"], seen["status"]) == ("Wycofana", "withdrawn")
    with pytest.raises(NotFound):
        support.worker.staff_get_news("missing")
