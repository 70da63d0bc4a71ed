"""Read models: plain MongoEngine documents fed by events, rebuildable at will."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import mongoengine as me

from kernel.events import Event
from kernel.eventstore import EventStore

log = logging.getLogger(__name__)
Handler = Callable[[Event], None]


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
        key = f"{self.name}:{event.stream_id}"
        checkpoint = self._checkpoints().find_one({"_id": key})
        applied = checkpoint["version"] if checkpoint else 0
        if applied >= event.version:
            return
        pending = [event]
        if store is not None and event.version > applied + 1:
            pending = [e for e in store.load(event.stream_id) if applied < e.version <= event.version]
        for next_event in pending:
            handler = self.handlers.get(next_event.type)
            if handler:
                handler(next_event)
            self._checkpoints().update_one({"_id": key}, {"$set": {"version": next_event.version}}, upsert=True)

    def apply_all(self, events: Iterable[Event], store: EventStore | None = None) -> int:
        count = 0
        for event in events:
            self.apply(event, store)
            count += 1
        return count

    def reset(self) -> None:
        for document in self.documents:
            document.drop_collection()
        self._checkpoints().delete_many({"_id": {"$regex": f"^{self.name}:"}})
        for document in self.documents:
            document.ensure_indexes()
