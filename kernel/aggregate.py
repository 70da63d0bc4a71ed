"""Aggregates rebuild their state from events; commands decide new events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kernel.events import Event, NewEvent
from kernel.eventstore import ConcurrencyError

A = TypeVar("A", bound="Aggregate")


class Aggregate:
    stream_prefix = ""

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


def execute(
    events_api: Any,
    aggregate_cls: type[A],
    stream_id: str,
    decide: Callable[[A], list[NewEvent]],
    meta: dict,
    retries: int = 3,
) -> tuple[A, list[Event]]:
    """Load, decide, append; on a concurrent write decide again on fresh state."""
    for attempt in range(retries + 1):
        aggregate = aggregate_cls.from_events(stream_id, events_api.load(stream_id))
        new_events = decide(aggregate)
        try:
            stored = events_api.append(stream_id, aggregate.version, new_events, meta)
        except ConcurrencyError:
            if attempt == retries:
                raise
            continue
        for event in stored:
            aggregate.apply(event)
        return aggregate, stored
    raise AssertionError("unreachable")
