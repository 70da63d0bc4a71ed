"""Idempotent consumers and rebuildable projections, on the real database."""

from __future__ import annotations

import mongoengine as me
import pytest

from kernel.dependencies import EventsApi
from kernel.events import NewEvent
from kernel.eventstore import EventStore
from kernel.projections import Projection
from tests.kernel.sent_commands import counted, sent

ALIAS = "projtest"


class Counter(me.Document):
    id = me.StringField(primary_key=True)
    total = me.IntField(default=0)
    meta = {"db_alias": ALIAS, "collection": "counters_view"}


counting = Projection("counting", ALIAS, [Counter])


@counting.on("added")
def _added(event):
    Counter.objects(id=event.stream_id).update_one(inc__total=event.data["n"], upsert=True)


@pytest.fixture
def api(mongo_alias):
    mongo_alias(ALIAS)
    store = EventStore(ALIAS)
    store.ensure_indexes()
    published: list[tuple[str, dict]] = []
    return EventsApi(ALIAS, store, [counting], lambda kind, message: published.append((kind, message))), published


def test_append_projects_and_publishes(api):
    events_api, published = api
    events_api.append("c-1", 0, [NewEvent("added", {"n": 2}), NewEvent("added", {"n": 3})], {})
    assert Counter.objects.get(id="c-1").total == 5
    assert [kind for kind, _ in published] == ["added", "added"]
    assert events_api.store.claim_unpublished(older_than=__import__("kernel.clock").clock.now()) == []


def test_projection_applies_each_event_once_even_when_offered_again(api):
    events_api, _ = api
    stored = events_api.append("c-2", 0, [NewEvent("added", {"n": 7})], {})
    counting.apply_all(stored)  # e.g. the outbox sweep offering it again
    counting.apply_all(stored)
    assert Counter.objects.get(id="c-2").total == 7


def test_rebuild_gives_the_same_read_model(api):
    events_api, _ = api
    for i in range(1, 6):
        events_api.append(
            f"c-{i % 2}", events_api.store.current_version(f"c-{i % 2}"), [NewEvent("added", {"n": i})], {}
        )
    live = {c.id: c.total for c in Counter.objects}
    counting.reset()
    assert Counter.objects.count() == 0
    counting.apply_all(events_api.store.all_events())
    assert {c.id: c.total for c in Counter.objects} == live == {"c-0": 6, "c-1": 9}


def test_first_time_is_true_once_per_consumer_and_event(api):
    events_api, _ = api
    assert events_api.first_time("mailer", "event-1") is True
    assert events_api.first_time("mailer", "event-1") is False
    assert events_api.first_time("other-consumer", "event-1") is True
    events_api.forget("mailer", "event-1")
    assert events_api.first_time("mailer", "event-1") is True


def test_failed_publish_leaves_the_commit_in_the_outbox(api):
    events_api, _ = api

    def broker_down(kind, message):
        raise ConnectionError("broker down")

    failing = EventsApi(ALIAS, events_api.store, [counting], broker_down)
    stored = failing.append("c-9", 0, [NewEvent("added", {"n": 1})], {})
    import datetime as dt

    from kernel import clock

    pending = events_api.store.claim_unpublished(older_than=clock.now() + dt.timedelta(seconds=1))
    assert [[e.event_id for e in c] for c in pending] == [[stored[0].event_id]]


def test_out_of_order_projection_fills_the_gap_from_the_store(api):
    """Two workers: the one holding v2 projects before the one holding v1."""
    events_api, _ = api
    first = events_api.store.append("c-7", 0, [NewEvent("added", {"n": 1})], {})
    second = events_api.store.append("c-7", 1, [NewEvent("added", {"n": 10})], {})
    counting.apply(second[0], events_api.store)
    counting.apply(first[0], events_api.store)
    assert Counter.objects.get(id="c-7").total == 11


class Note(me.Document):
    id = me.StringField(primary_key=True)
    text = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "notes_view"}


noting = Projection("noting", ALIAS, [Note])
races_lost: list[str] = []


@noting.on("noted")
def _noted(event):
    exists = Note.objects(id=event.stream_id).count() > 0
    if event.event_id not in races_lost:  # another worker inserts the row between our read and our insert
        races_lost.append(event.event_id)
        Note(id=event.stream_id, text="inserted by the other worker").save(force_insert=True)
    Note(id=event.stream_id, text=event.data["text"]).save(force_insert=not exists)


def test_a_projection_step_that_loses_an_insert_race_is_applied_again(mongo_alias):
    mongo_alias(ALIAS)
    store = EventStore(ALIAS)
    store.ensure_indexes()
    published: list[str] = []
    events_api = EventsApi(ALIAS, store, [noting], lambda kind, message: published.append(kind))

    events_api.append("n-1", 0, [NewEvent("noted", {"text": "hello"})], {})

    assert Note.objects.get(id="n-1").text == "hello"
    assert published == ["noted"]


def test_a_failed_projection_does_not_fail_the_stored_command(api):
    """The command is stored, so it happened: the sweep projects and publishes it later."""
    import datetime as dt

    from kernel import clock

    events_api, published = api
    broken = Projection("broken", ALIAS, [])

    @broken.on("added")
    def _explode(event):
        raise RuntimeError("read model unavailable")

    events_api.projections = [counting, broken]
    stored = events_api.append("c-8", 0, [NewEvent("added", {"n": 1})], {})  # must not raise

    assert [e.version for e in stored] == [1]
    assert published == []
    pending = events_api.store.claim_unpublished(older_than=clock.now() + dt.timedelta(seconds=1))
    assert [[e.event_id for e in c] for c in pending] == [[stored[0].event_id]]


@counted
def test_a_commit_just_appended_is_projected_without_reading_its_checkpoint(api):
    events_api, _ = api
    store = events_api.store
    first = store.append("f-1", 0, [NewEvent("added", {"n": 2})], {})
    assert sent(lambda: counting.apply_all(first, store)) == ["update", "insert"]  # handler, new checkpoint
    second = store.append("f-1", 1, [NewEvent("added", {"n": 3}), NewEvent("added", {"n": 4})], {})
    assert sent(lambda: counting.apply_all(second, store)) == ["update", "update", "update"]  # 2 handlers, swap
    # offered again (the outbox sweep, a redelivery): the checkpoint is read and nothing applied twice
    assert sent(lambda: counting.apply_all(second, store)) == ["find"]
    counting.apply_all(first, store)
    assert Counter.objects.get(id="f-1").total == 9
    assert _checkpoint("counting:f-1") == 3


class Latest(me.Document):
    id = me.StringField(primary_key=True)
    n = me.IntField()
    meta = {"db_alias": ALIAS, "collection": "latest_view"}


def _set_latest(event):
    if event.data.get("fail"):
        raise RuntimeError("handler failed")
    Latest.objects(id=event.stream_id).update_one(set__n=event.data["n"], upsert=True)


latest = Projection("latest", ALIAS, [Latest])
elsewhere = Projection("latest", ALIAS, [Latest])  # the same projection in another process
for _projection in (latest, elsewhere):
    _projection.on("added")(_set_latest)


def _checkpoint(key: str) -> int:
    return me.connection.get_db(ALIAS)["projection_checkpoints"].find_one({"_id": key})["version"]


def test_a_checkpoint_another_worker_moved_meanwhile_is_caught_up_from_the_store(api):
    """Another process projects v1 and v2 (its v2 made it fill the gap) before this one applies its fresh v1:
    the compare-and-set finds the checkpoint moved, so v1-v2 are applied again and v2's value stays."""
    events_api, _ = api
    store = events_api.store
    first = store.append("f-2", 0, [NewEvent("added", {"n": 1})], {})
    second = store.append("f-2", 1, [NewEvent("added", {"n": 10})], {})
    elsewhere.apply(second[0], store)
    assert Latest.objects.get(id="f-2").n == 10
    latest.apply_all(first, store)  # fresh, never projected here: applied without reading the checkpoint
    assert Latest.objects.get(id="f-2").n == 10
    assert _checkpoint("latest:f-2") == 2


def test_a_fresh_commit_whose_handler_fails_keeps_the_checkpoint_of_what_was_applied(api):
    events_api, _ = api
    store = events_api.store
    store.append("f-3", 0, [NewEvent("added", {"n": 1})], {})
    latest.apply_all(store.load("f-3"), store)
    failing = store.append("f-3", 1, [NewEvent("added", {"n": 2}), NewEvent("added", {"n": 3, "fail": True})], {})
    with pytest.raises(RuntimeError):
        latest.apply_all(failing, store)
    assert (Latest.objects.get(id="f-3").n, _checkpoint("latest:f-3")) == (2, 2)
