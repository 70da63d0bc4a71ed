"""Read models: plain MongoEngine documents fed by events, rebuildable at will."""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterable

import mongoengine as me
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from kernel.events import Event
from kernel.eventstore import EventStore

log = logging.getLogger(__name__)
Handler = Callable[[Event], None]
# Events a rebuild applies between two checkpoint round trips (one read, one bulk write).
REBUILD_BATCH = 1000


class Projection:
    """Routes events to handlers and applies each stream's events once, in order.

    A checkpoint per (projection, stream) records the last applied version, so
    the live path, the outbox sweep and a rebuild may all offer the same event
    and it is applied exactly once.
    """

    def __init__(self, name: str, alias: str, documents: Iterable[type[me.Document]]):
        self.name = name
        self.alias = alias
        self.documents = list(documents)
        self.handlers: dict[str, Handler] = {}

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = fn
            return fn

        return register

    def _checkpoints(self):
        return me.connection.get_db(self.alias)["projection_checkpoints"]

    def apply(self, event: Event, store: EventStore | None = None) -> None:
        """Apply `event` after any earlier event of its stream not yet applied.

        Two workers may project one stream out of order (v6 before v5); with
        the store at hand the gap is filled from the stream first, so nothing
        is skipped. Handlers must be idempotent (set values, do not increment):
        two workers may offer the same event at the same moment.
        """
        self._apply_commit([event], store)

    def _apply_commit(self, events: list[Event], store: EventStore | None) -> None:
        """One stream's consecutive events (one command's commit): the checkpoint read once before and
        written once after (`$max`), instead of around every event; a failing handler still leaves the
        checkpoint of what was applied before it."""
        key = f"{self.name}:{events[0].stream_id}"
        checkpoint = self._checkpoints().find_one({"_id": key})
        applied = checkpoint["version"] if checkpoint else 0
        last = max(e.version for e in events)
        if applied >= last:
            return
        pending = sorted((e for e in events if e.version > applied), key=lambda e: e.version)
        if store is not None and pending[0].version > applied + 1:
            pending = [e for e in store.load(events[0].stream_id) if applied < e.version <= last]
        done = applied
        try:
            for next_event in pending:
                handler = self.handlers.get(next_event.type)
                if handler:
                    _racing_insert_safe(functools.partial(handler, next_event))
                done = next_event.version
        finally:
            if done > applied:
                _racing_insert_safe(functools.partial(self._advance, key, done))

    def _advance(self, key: str, version: int) -> None:
        self._checkpoints().update_one({"_id": key}, {"$max": {"version": version}}, upsert=True)

    def apply_all(self, events: Iterable[Event], store: EventStore | None = None) -> int:
        """Apply events in order; each run of one stream's consecutive events (a commit) at once."""
        count = 0
        for _, run in itertools.groupby(events, key=lambda e: e.stream_id):
            batch = list(run)
            self._apply_commit(batch, store)
            count += len(batch)
        return count

    def replay(self, events: Iterable[Event]) -> int:
        """The rebuild path: `apply_all` (no store) with the checkpoints read and
        written once per batch of events instead of around every event.

        Events come in store order, so each stream's versions ascend. Per batch, one
        query reads the checkpoints of the streams in it (a live worker may have got
        further meanwhile: its events are skipped, as `apply` would); the handlers
        run; one bulk write raises each stream's checkpoint (`$max`, never lowering a
        live worker's). Read models and checkpoints end as the live path leaves them.
        """
        count = 0
        events = iter(events)
        while batch := list(itertools.islice(events, REBUILD_BATCH)):
            keys = {f"{self.name}:{e.stream_id}" for e in batch}
            applied = {d["_id"]: d["version"] for d in self._checkpoints().find({"_id": {"$in": list(keys)}})}
            advanced: dict[str, int] = {}
            try:
                for event in batch:
                    key = f"{self.name}:{event.stream_id}"
                    if applied.get(key, 0) >= event.version:
                        continue
                    handler = self.handlers.get(event.type)
                    if handler:
                        _racing_insert_safe(functools.partial(handler, event))
                    applied[key] = advanced[key] = event.version
            finally:  # a failing handler leaves the checkpoints of what was applied, as `apply` would
                if advanced:
                    writes = [UpdateOne({"_id": k}, {"$max": {"version": v}}, upsert=True) for k, v in advanced.items()]
                    self._checkpoints().bulk_write(writes, ordered=False)
            count += len(batch)
        return count

    def rebuild(self, store: EventStore) -> int:
        """Drop the read models and checkpoints, then replay every stored event."""
        self.reset()
        return self.replay(store.all_events())

    def reset(self) -> None:
        for document in self.documents:
            document.drop_collection()
        self._checkpoints().delete_many({"_id": {"$regex": f"^{self.name}:"}})
        for document in self.documents:
            document.ensure_indexes()


def _racing_insert_safe(step: Callable[[], None], attempts: int = 3) -> None:
    """Run an idempotent projection step, again if it lost an insert race.

    Two workers projecting one stream may both find a read-model row (or a
    checkpoint) missing and both insert it; the loser gets DuplicateKeyError.
    The row now exists, so running the idempotent step again updates it.
    """
    for attempt in range(1, attempts + 1):
        try:
            step()
            return
        except (DuplicateKeyError, me.NotUniqueError):
            if attempt == attempts:
                raise
