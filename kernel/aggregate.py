"""Aggregates rebuild their state from events; commands decide new events."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any, TypeVar

from kernel.errors import Conflict
from kernel.events import Event, NewEvent
from kernel.eventstore import ConcurrencyError

log = logging.getLogger(__name__)

A = TypeVar("A", bound="Aggregate")


class Aggregate:
    stream_prefix = ""
    # Snapshots are opt-in: a subclass whose streams grow long sets `snapshot_every`
    # (events between snapshots) and bumps `snapshot_schema` whenever its state or
    # its on_* handlers change, which makes every older snapshot ignored.
    snapshot_every = 0
    snapshot_schema = 1

    def __init__(self, stream_id: str):
        self.stream_id = stream_id
        self.version = 0

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.type}", None)
        if handler:
            handler(event.data, event)
        self.version = event.version

    @classmethod
    def from_events(cls: type[A], stream_id: str, events: list[Event]) -> A:
        aggregate = cls(stream_id)
        for event in events:
            aggregate.apply(event)
        return aggregate

    @classmethod
    def load(cls: type[A], events_api: Any, stream_id: str) -> A:
        """The aggregate's current state: from its snapshot and the events after it
        when the class takes snapshots, else from all its events."""
        if not cls.snapshot_every:
            return cls.from_events(stream_id, events_api.load(stream_id))
        store = getattr(events_api, "store", events_api)
        key = cls._snapshot_key(stream_id)
        snapshot = store.load_snapshot(key)
        aggregate = cls(stream_id)
        if snapshot:
            # Our own derived state, written by this code under this schema key (never user input).
            aggregate.__dict__.update(pickle.loads(snapshot[1]))
        for event in store.load(stream_id, after_version=aggregate.version):
            aggregate.apply(event)
        if aggregate.version - (snapshot[0] if snapshot else 0) >= cls.snapshot_every:
            store.save_snapshot(key, aggregate.version, pickle.dumps(vars(aggregate)))
        return aggregate

    @classmethod
    def _snapshot_key(cls, stream_id: str) -> str:
        return f"{cls.__module__}.{cls.__qualname__}:v{cls.snapshot_schema}:{stream_id}"


def execute(
    events_api: Any,
    aggregate_cls: type[A],
    stream_id: str,
    decide: Callable[[A], list[NewEvent]],
    meta: dict,
    retries: int = 3,
) -> tuple[A, list[Event]]:
    """Load, decide, append; on a concurrent write decide again on fresh state, up to `retries` times,
    then refuse with a 409 `conflict` (nothing was written; the caller may try again)."""
    for attempt in range(retries + 1):
        aggregate = aggregate_cls.load(events_api, stream_id)
        new_events = decide(aggregate)
        try:
            stored = events_api.append(stream_id, aggregate.version, new_events, meta)
        except ConcurrencyError as exc:
            if attempt == retries:
                log.warning("gave up after %d concurrent writes: %s", retries + 1, exc)
                raise Conflict("conflict") from exc
            continue
        for event in stored:
            aggregate.apply(event)
        return aggregate, stored
    raise AssertionError("unreachable")
