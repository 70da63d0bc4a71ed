"""Event store: loading a 10,000-event aggregate (with and without snapshots) and a 100,000-event rebuild."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
import time
import uuid
from pathlib import Path

import mongoengine as me
from pymongo import monitoring

from bench.common import Row, dropped_afterwards, free_port, prefix, progress, start_nx
from kernel import db
from kernel.aggregate import Aggregate
from kernel.dependencies import EventsApi
from kernel.events import Event, NewEvent
from kernel.eventstore import EventStore
from kernel.projections import Projection
from tools.devstack import Stack

ALIAS = "benchstore"


class CommandCounter(monitoring.CommandListener):
    """Counts the database commands (round trips) this process sends."""

    count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        CommandCounter.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


monitoring.register(CommandCounter())  # every client made after this, kernel.db's included


class Ledger(Aggregate):
    """Shaped like a real aggregate: a running total and a dict of lines."""

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.total = 0
        self.lines: dict[str, int] = {}

    def on_line_added(self, data, event) -> None:
        self.total += data["amount"]
        self.lines[data["line_id"]] = data["amount"]


class SnappedLedger(Ledger):
    snapshot_every = 100


class LedgerView(me.Document):
    id = me.StringField(primary_key=True)
    total = me.IntField(default=0)
    last_line = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "ledger_view"}


ledger_view = Projection("ledger_view", ALIAS, [LedgerView])


@ledger_view.on("line_added")
def _line_added(event: Event) -> None:
    LedgerView.objects(id=event.stream_id).update_one(
        set__total=event.data["running_total"], set__last_line=event.data["line_id"], upsert=True
    )


def _commit(stream_id: str, version: int, position: int, now: dt.datetime) -> dict:
    """One command's commit holding one event, as EventStore.append writes it."""
    event = {
        "event_id": str(uuid.uuid4()), "stream_id": stream_id, "version": version, "type": "line_added",
        "occurred_at": now, "meta": {"correlation_id": str(uuid.uuid4()), "actor": {"type": "account", "id": "a-1"},
                                     "ip": "127.0.0.1"},
        "data": {"line_id": f"l-{version}", "amount": 12300, "running_total": 12300 * version, "currency": "PLN",
                 "description": "Hosting Standard, 12 miesięcy", "vat_rate": 23},
    }  # fmt: skip
    return {"_id": str(uuid.uuid4()), "stream_id": stream_id, "version": version, "last_version": version,
            "position": position, "events": [event], "recorded_at": now, "published_at": now}  # fmt: skip


def seed(store: EventStore, streams: int, per_stream: int) -> None:
    """Bulk-insert commits (seeding is not what is measured)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    collection, batch, position = store.Commit._get_collection(), [], 0
    for version in range(1, per_stream + 1):
        for s in range(streams):
            position += 1
            batch.append(_commit(f"ledger-{s}", version, position, now))
            if len(batch) == 2000:
                collection.insert_many(batch)
                batch = []
    if batch:
        collection.insert_many(batch)


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _mongoengine_load(store: EventStore, stream_id: str) -> list[Event]:
    """How EventStore.load read a stream before this benchmark: through MongoEngine documents."""
    commits = store.Commit.objects(stream_id=stream_id).order_by("version")
    return [Event.from_message(e) for c in commits for e in c.events]


def run(events: int = 10_000, rebuild_events: int = 100_000) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        stack = Stack(var=Path(tmp), mongo_port=free_port())
        try:
            start_nx(stack, stack.mongo_port)
            return _run(f"mongodb://127.0.0.1:{stack.mongo_port}/", events, rebuild_events)
        finally:
            stack.stop_process("mongo")


def _run(mongo_uri: str, events: int, rebuild_events: int) -> list[Row]:
    rows: list[Row] = []
    db_prefix = prefix()
    with dropped_afterwards(db_prefix, mongo_uri):
        db.connect(ALIAS, mongo_uri, f"{db_prefix}store")
        store = EventStore(ALIAS)
        store.ensure_indexes()
        ledger_view.reset()
        progress("event store: loading and rebuilding (round trips per event: the pipeline section)")
        seed(store, 1, events)
        stream = "ledger-0"
        raw, _ = _timed(
            lambda: list(store.Commit._get_collection().find({"stream_id": {"$eq": stream}}).sort("version", 1))
        )
        old, _ = _timed(lambda: Ledger.from_events(stream, _mongoengine_load(store, stream)))
        full, agg = _timed(lambda: Ledger.load(store, stream))
        SnappedLedger.load(store, stream)  # the first load writes the snapshot
        snapped, snap_agg = _timed(lambda: SnappedLedger.load(store, stream))
        assert agg.version == snap_agg.version == events and agg.total == snap_agg.total
        ids = [
            c["_id"] for c in store.Commit._get_collection().find({"stream_id": {"$eq": stream}}, {"_id": 1}).limit(500)
        ]
        commits = store.Commit._get_collection()
        trip, _ = _timed(lambda: [commits.find_one({"_id": i}, {"_id": 1}) for i in ids], repeat=1)
        rows.append(Row("database", "nx-27017 round trip: find_one by _id, one client", f"{len(ids) / trip:,.0f} queries/s",
                        f"{trip / len(ids) * 1000:.1f} ms each", "every figure here is bound by this server"))  # fmt: skip
        base = f"raw pymongo read of the commits: {raw * 1000:.0f} ms"
        rows += [
            Row("event store", f"load {events:,} events, MongoEngine documents (before)", f"{old * 1000:.0f} ms", base),
            Row("event store", f"load {events:,} events, pymongo (now)", f"{full * 1000:.0f} ms", base),
            Row("event store", f"load {events:,} events, snapshot every 100", f"{snapped * 1000:.1f} ms", base,
                "snapshot + 0 newer events"),
        ]  # fmt: skip
        store.Commit._get_collection().drop()
        store.ensure_indexes()
        streams = max(1, min(1000, rebuild_events // 100))
        seed(store, streams, rebuild_events // streams)
        read, count = _timed(lambda: sum(1 for _ in store.all_events()), repeat=1)
        baseline = f"reading them only: {count / read:,.0f} events/s"
        # before: checkpoint read and write around every event (on a tenth of them: it is slow)
        sample = rebuild_events // 10
        ledger_view.reset()
        started = time.perf_counter()
        per_event = ledger_view.apply_all(itertools.islice(store.all_events(), sample))
        per_event_s = time.perf_counter() - started
        # now: `python -m kernel rebuild`'s path, checkpoints read and written once per batch
        started = time.perf_counter()
        applied = ledger_view.rebuild(store)
        rebuild = time.perf_counter() - started
        assert per_event == sample and applied == count == rebuild_events and LedgerView.objects.count() == streams
        rows += [
            Row("event store", f"projection rebuild, per-event checkpoints (before), first {sample:,} events",
                f"{per_event / per_event_s:,.0f} events/s", baseline),
            Row("event store", f"projection rebuild (now), {rebuild_events:,} events in {streams} streams",
                f"{applied / rebuild:,.0f} events/s ({rebuild:.0f} s)", baseline),
        ]  # fmt: skip
        db.disconnect(ALIAS)
    return rows


def _counted(step) -> int:
    before = CommandCounter.count
    step()
    return CommandCounter.count - before


MARKS_PER_FLUSH = 10  # commits marked by one write: what a service publishing 200 a second writes every 50 ms


def round_trips(store: EventStore, events: int = 200, per_commit: int = 5) -> list[Row]:
    """Database round trips per event on the kernel's paths: stored (EventStore.append), projected
    (one projection whose handler writes once), published (mark_published), consumed (the consumer's
    processed marker, EventsApi.first_time); with one event a commit, and with `per_commit` events a commit
    projected event by event (before) and as one commit (now: Projection.apply_all)."""
    api = EventsApi(ALIAS, store, [ledger_view], dispatch=None)
    store.batch_marks()  # as in a service (EventSourcing): marks noted, written every OUTBOX_MARK_MS
    rows = []
    for size, batched in ((1, True), (per_commit, False), (per_commit, True)):
        stored = projected = published = consumed = 0
        for i in range(events // size):
            if i % MARKS_PER_FLUSH == 0:
                published += _counted(store.flush_marks)
            new = [NewEvent("line_added", {"line_id": f"l{i}.{j}", "amount": 1, "running_total": j})
                   for j in range(size)]  # fmt: skip
            appended: list[Event] = []
            stream = f"trips-{size}-{batched}-{i}"
            stored += _counted(lambda: appended.extend(store.append(stream, 0, new, {})))  # noqa: B023
            if batched:
                projected += _counted(lambda: ledger_view.apply_all(appended, store))  # noqa: B023
            else:
                projected += _counted(lambda: [ledger_view.apply(e, store) for e in appended])  # noqa: B023
            published += _counted(lambda: store.mark_published(appended))  # noqa: B023
            consumed += _counted(lambda: [api.first_time("bench.consumer", e.event_id) for e in appended])  # noqa: B023
        published += _counted(store.flush_marks)
        n = events // size * size
        total = (stored + projected + published + consumed) / n
        how = "one event a commit" if size == 1 else f"{size} events a commit, " + (
            "projected as one commit (now)" if batched else "projected event by event (before)")  # fmt: skip
        rows.append(Row("event pipeline", f"database round trips per event, {how}",
                        f"{total:.1f}: stored {stored / n:.1f}, projected {projected / n:.1f}, "
                        f"published {published / n:.1f}, consumed {consumed / n:.1f}",
                        "", "pymongo command listener; the projection's handler writes once per event; "
                        f"published marks written once per {MARKS_PER_FLUSH} commits"))  # fmt: skip
    return rows
