"""Read models: plain MongoEngine documents fed by events, rebuildable at will."""

from __future__ import annotations

import contextlib
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
# How many streams' checkpoints a projection remembers (the oldest is forgotten first).
KNOWN_CHECKPOINTS = 10_000


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
        self._known: dict[str, int] = {}  # checkpoint key -> the version this process last read or left there

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
        checkpoint of what was applied before it.

        A commit this process has just appended (`EventStore.appended_recently`) whose stream's checkpoint it
        last left right before the commit is applied without reading the checkpoint first: the checkpoint is
        then moved from that version to the commit's end only if it still holds it (compare and set). If
        it does not, another worker (or a rebuild) moved it meanwhile and may have applied later events that
        this commit's handlers just overwrote: the events from the lower of the two versions to the higher
        are applied again from the store, in order, which idempotent handlers (see `apply`) make right."""
        key = f"{self.name}:{events[0].stream_id}"
        ordered = sorted(events, key=lambda e: e.version)
        first = ordered[0].version
        fresh = getattr(store, "appended_recently", None)
        if fresh is not None and self._known.get(key, 0) == first - 1 and fresh(events[0].stream_id, first):
            self._apply_fresh(key, ordered, store)
            return
        checkpoint = self._checkpoints().find_one({"_id": key})
        applied = checkpoint["version"] if checkpoint else 0
        last = ordered[-1].version
        if applied >= last:
            self._remember(key, applied)
            return
        pending = [e for e in ordered if e.version > applied]
        if store is not None and pending[0].version > applied + 1:
            pending = [e for e in store.load(events[0].stream_id) if applied < e.version <= last]
        done = applied
        try:
            for next_event in pending:
                self._handle(next_event)
                done = next_event.version
        finally:
            if done > applied:
                _racing_insert_safe(functools.partial(self._advance, key, done))
                self._remember(key, done)

    def _apply_fresh(self, key: str, events: list[Event], store: EventStore) -> None:
        before = events[0].version - 1
        done = before
        try:
            for event in events:
                self._handle(event)
                done = event.version
        finally:
            if done > before:
                if self._swap(key, before, done):
                    self._remember(key, done)
                else:
                    self._catch_up(key, before, done, events[0].stream_id, store)

    def _swap(self, key: str, before: int, version: int) -> bool:
        """Move the checkpoint from `before` to `version`; False if it does not hold `before`."""
        if before == 0:
            try:
                self._checkpoints().insert_one({"_id": key, "version": version})
            except DuplicateKeyError:
                return False
            return True
        return self._checkpoints().update_one({"_id": key, "version": {"$eq": before}},
                                              {"$set": {"version": version}}).matched_count == 1  # fmt: skip

    def _catch_up(self, key: str, before: int, done: int, stream_id: str, store: EventStore) -> None:
        checkpoint = self._checkpoints().find_one({"_id": key})
        moved = checkpoint["version"] if checkpoint else 0
        low, high = min(moved, before), max(moved, done)
        log.info("%s moved to v%d while v%d-%d were applied; applying v%d-%d again", key, moved, before + 1, done,
                 low + 1, high)  # fmt: skip
        for event in store.load(stream_id):
            if low < event.version <= high:
                self._handle(event)
        _racing_insert_safe(functools.partial(self._advance, key, high))
        self._remember(key, high)

    def _handle(self, event: Event) -> None:
        handler = self.handlers.get(event.type)
        if handler:
            _racing_insert_safe(functools.partial(handler, event))

    def _advance(self, key: str, version: int) -> None:
        self._checkpoints().update_one({"_id": key}, {"$max": {"version": version}}, upsert=True)

    def _remember(self, key: str, version: int) -> None:
        """The checkpoint this process last read or left for a stream (a belief, checked by `_swap`)."""
        self._known.pop(key, None)
        self._known[key] = version
        if len(self._known) > KNOWN_CHECKPOINTS:
            with contextlib.suppress(StopIteration, RuntimeError, KeyError):  # another thread trimmed it meanwhile
                del self._known[next(iter(self._known))]

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
        # `_known` is kept: a version it remembers is at least the replay's, so an old event offered again
        # is never taken for a fresh one (a lower checkpoint only makes the compare-and-set fail, safely)
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
