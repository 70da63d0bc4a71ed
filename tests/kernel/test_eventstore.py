"""The event store against the real MongoDB wire-protocol server."""

from __future__ import annotations

import threading

import pytest

from kernel.events import NewEvent
from kernel.eventstore import ConcurrencyError, EventStore
from tests.fakes import RACING
from tests.kernel.sent_commands import counted, sent


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


def _unpublished(store: EventStore) -> set[str]:
    return {c["stream_id"] for c in store._commits().find({"published_at": None}, {"stream_id": 1})}


@counted
def test_batched_marks_note_published_commits_and_mark_them_in_one_write(store):
    store.batch_marks()
    appended = [store.append(f"m-{i}", 0, [NewEvent("published")], META) for i in range(5)]
    assert [sent(lambda events=events: store.mark_published(events)) for events in appended] == [[]] * 5
    assert {f"m-{i}" for i in range(5)} <= _unpublished(store)  # noted, not written yet
    flushed: list[int] = []
    assert sent(lambda: flushed.append(store.flush_marks())) == ["update"] and flushed == [5]
    assert not {f"m-{i}" for i in range(5)} & _unpublished(store)
    assert sent(store.flush_marks) == []  # nothing noted: nothing sent


def test_marks_that_failed_to_be_written_stay_noted_for_the_next_flush(store, monkeypatch):
    store.batch_marks()
    events = store.append("m-fail", 0, [NewEvent("published")], META)
    store.mark_published(events)

    class Away:
        def update_many(self, *args, **kwargs):
            raise ConnectionError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(store, "_commits", Away)
        with pytest.raises(ConnectionError):
            store.flush_marks()
    assert "m-fail" in _unpublished(store)
    assert store.flush_marks() == 1 and "m-fail" not in _unpublished(store)


def test_a_commit_this_store_did_not_write_is_marked_at_once_even_when_batching(store):
    other = EventStore("kerneltest")
    events = other.append("m-other", 0, [NewEvent("published")], META)
    store.batch_marks()
    store.mark_published(events)  # not one of its own: no id to note, marked by stream and version
    assert "m-other" not in _unpublished(store)


@counted
def test_an_expectation_read_from_the_stream_is_appended_without_a_head_check(store):
    store.append("h-1", 0, [NewEvent("a"), NewEvent("b")], META)
    other = EventStore("kerneltest")  # a fresh process: knows nothing of the stream
    other.ensure_indexes()
    assert sent(lambda: other.append("h-1", 2, [NewEvent("c")], META)) == ["find", "findAndModify", "insert"]
    assert [e.version for e in other.load("h-1")] == [1, 2, 3]  # the head it read: 3
    assert sent(lambda: other.append("h-1", 3, [NewEvent("d")], META)) == ["findAndModify", "insert"]
    assert sent(lambda: other.append("h-2", 0, [NewEvent("new")], META)) == ["findAndModify", "insert"]


def test_a_stale_expectation_known_to_end_a_commit_is_refused_by_the_index(store):
    """This store read the head (2); another writer moved the stream on; the append from 2 writes nothing."""
    store.append("h-3", 0, [NewEvent("a"), NewEvent("b")], META)
    assert len(store.load("h-3")) == 2
    elsewhere = EventStore("kerneltest")
    elsewhere.ensure_indexes()
    elsewhere.append("h-3", 2, [NewEvent("elsewhere"), NewEvent("elsewhere")], META)
    with pytest.raises(ConcurrencyError) as refused:
        store.append("h-3", 2, [NewEvent("stale")], META)
    assert refused.value.actual == 4
    assert [e.type for e in store.load("h-3")] == ["a", "b", "elsewhere", "elsewhere"]
    with pytest.raises(ConcurrencyError):  # a stream that exists, expected empty: the index refuses it too
        store.append("h-3", 0, [NewEvent("stale")], META)
    assert store.current_version("h-3") == 4


def test_an_expectation_inside_a_commit_or_past_the_head_is_still_checked(store):
    store.append("h-4", 0, [NewEvent("a"), NewEvent("b"), NewEvent("c")], META)
    store.load("h-4")  # known end: 3
    for wrong in (1, 2, 4, 7):  # inside the commit (the index would not notice: no commit starts at 2 or 3), past it
        with pytest.raises(ConcurrencyError):
            store.append("h-4", wrong, [NewEvent("x")], META)
    assert [e.version for e in store.load("h-4")] == [1, 2, 3]


def test_a_store_without_its_unique_index_checks_every_head(mongo_alias):
    mongo_alias("kerneltest")
    guarded = EventStore("kerneltest")
    guarded.ensure_indexes()
    guarded.append("h-5", 0, [NewEvent("a")], META)
    unguarded = EventStore("kerneltest")  # never ensured its indexes: no skipping on its word
    with pytest.raises(ConcurrencyError):
        unguarded.append("h-5", 0, [NewEvent("again")], META)
    assert [e.type for e in guarded.load("h-5")] == ["a"]
