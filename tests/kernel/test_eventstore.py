"""The event store against the real MongoDB wire-protocol server."""

from __future__ import annotations

import threading

import pytest

from kernel.events import NewEvent
from kernel.eventstore import ConcurrencyError, EventStore
from tests.fakes import RACING


@pytest.fixture
def store(mongo_alias):
    mongo_alias("kerneltest")
    store = EventStore("kerneltest")
    store.ensure_indexes()
    return store


META = {"actor": {"type": "system"}}


def test_append_then_load_gives_events_in_version_order(store):
    store.append("s-1", 0, [NewEvent("a", {"n": 1}), NewEvent("b", {"n": 2})], META)
    store.append("s-1", 2, [NewEvent("c", {"n": 3})], META)
    events = store.load("s-1")
    assert [(e.version, e.type, e.data["n"]) for e in events] == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]
    assert store.current_version("s-1") == 3


def test_stale_expected_version_is_refused_and_writes_nothing(store):
    store.append("s-2", 0, [NewEvent("a"), NewEvent("b")], META)
    for stale in (0, 1, 3):
        with pytest.raises(ConcurrencyError):
            store.append("s-2", stale, [NewEvent("x")], META)
    assert [e.type for e in store.load("s-2")] == ["a", "b"]


@RACING
def test_two_concurrent_appends_exactly_one_wins(store):
    """Both writers read version 1 and race; the unique index decides."""
    store.append("s-3", 0, [NewEvent("opened")], META)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def writer(i: int) -> None:
        barrier.wait()
        try:
            store.append("s-3", 1, [NewEvent("raced", {"writer": i}), NewEvent("second", {"writer": i})], META)
            outcomes.append("won")
        except ConcurrencyError:
            outcomes.append("lost")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    events = store.load("s-3")
    assert [e.version for e in events] == [1, 2, 3]
    # the winner's two events are both there, from the same writer: no interleaving
    assert events[1].data["writer"] == events[2].data["writer"]


def test_all_events_follow_storage_order_across_streams(store):
    store.append("a-1", 0, [NewEvent("first")], META)
    store.append("b-1", 0, [NewEvent("second")], META)
    store.append("a-1", 1, [NewEvent("third")], META)
    assert [e.type for e in store.all_events()] == ["first", "second", "third"]


def test_unpublished_commits_are_claimed_once(store):
    import datetime as dt

    from kernel import clock

    events = store.append("o-1", 0, [NewEvent("stored_not_published")], META)
    later = clock.now() + dt.timedelta(seconds=5)
    first = store.claim_unpublished(older_than=later)
    second = store.claim_unpublished(older_than=later)  # lease held by the first claimer
    assert [[e.event_id for e in c] for c in first] == [[events[0].event_id]]
    assert second == []
    store.mark_published(first[0])
    assert store.claim_unpublished(older_than=later + dt.timedelta(minutes=5)) == []
