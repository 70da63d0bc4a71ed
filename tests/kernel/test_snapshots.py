"""Aggregate snapshots (opt-in) and loading a stream after a version, on the real database."""

from __future__ import annotations

import base64
import pickle

import pytest

from kernel.aggregate import Aggregate, execute
from kernel.events import NewEvent
from kernel.eventstore import EventStore

META = {"actor": {"type": "system"}}


class Tally(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.total = 0
        self.seen: list[int] = []

    def on_added(self, data, event) -> None:
        self.total += data["n"]
        self.seen.append(event.version)


class SnappedTally(Tally):
    snapshot_every = 5


class SnappedTallyV2(SnappedTally):
    snapshot_schema = 2


@pytest.fixture
def store(mongo_alias):
    mongo_alias("snaptest")
    store = EventStore("snaptest")
    store.ensure_indexes()
    return store


def _add(store: EventStore, cls: type[Tally], stream: str, n: int) -> Tally:
    aggregate, _ = execute(store, cls, stream, lambda a: [NewEvent("added", {"n": n})], META)
    return aggregate


def _snapshots(store: EventStore):
    return store.Commit._get_db()["snapshots"]


def test_load_after_a_version_returns_only_later_events_even_inside_a_commit(store):
    store.append("s", 0, [NewEvent("added", {"n": 1}), NewEvent("added", {"n": 2})], META)
    store.append("s", 2, [NewEvent("added", {"n": 3}), NewEvent("added", {"n": 4}), NewEvent("added", {"n": 5})], META)
    assert [e.version for e in store.load("s", after_version=3)] == [4, 5]
    assert [e.version for e in store.load("s", after_version=0)] == [1, 2, 3, 4, 5]
    assert store.load("s", after_version=5) == []


def test_snapshotted_aggregate_has_the_same_state_as_a_full_replay(store):
    for n in range(1, 13):
        _add(store, SnappedTally, "t-1", n)
    loaded = SnappedTally.load(store, "t-1")
    replayed = Tally.from_events("t-1", store.load("t-1"))
    assert (loaded.version, loaded.total, loaded.seen) == (replayed.version, replayed.total, replayed.seen)
    assert (loaded.version, loaded.total) == (12, 78)
    snapshot = _snapshots(store).find_one({"_id": "tests.kernel.test_snapshots.SnappedTally:v1:t-1"})
    assert snapshot is not None and snapshot["version"] >= 10


def test_loading_starts_from_the_snapshot_not_from_the_first_event(store):
    for n in range(1, 7):
        _add(store, SnappedTally, "t-2", n)
    key = SnappedTally._snapshot_key("t-2")
    version, _ = store.load_snapshot(key)
    marked = {"stream_id": "t-2", "version": version, "total": 1000, "seen": ["from-snapshot"]}
    _snapshots(store).update_one({"_id": key}, {"$set": {"state": base64.b64encode(pickle.dumps(marked)).decode()}})
    _add(store, SnappedTally, "t-2", 10)
    loaded = SnappedTally.load(store, "t-2")
    assert version == 5  # taken while loading for the sixth command
    assert loaded.total == 1000 + 6 + 10 and loaded.seen == ["from-snapshot", 6, 7]


def test_a_new_snapshot_schema_ignores_older_snapshots(store):
    for n in range(1, 7):
        _add(store, SnappedTally, "t-3", n)
    key = SnappedTally._snapshot_key("t-3")
    _snapshots(store).update_one(
        {"_id": key}, {"$set": {"state": base64.b64encode(pickle.dumps({"total": -1})).decode()}}
    )
    assert SnappedTallyV2.load(store, "t-3").total == 21


def test_aggregates_without_snapshot_every_write_no_snapshots(store):
    for n in range(1, 8):
        _add(store, Tally, "t-4", n)
    assert Tally.load(store, "t-4").total == 28
    assert _snapshots(store).count_documents({}) == 0
