"""The event envelope every service stores and publishes."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernel import clock

if TYPE_CHECKING:
    from kernel.contracts.base import Contract


@dataclass(frozen=True)
class NewEvent:
    """What a command decides happened; the store gives it id and version. `contract_version` is
    set by EventsApi.append once the data matched its contract (kernel.contracts), and is stamped
    into the event's meta as `v`."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    contract_version: int | None = None

    @classmethod
    def of(cls, payload: Contract) -> NewEvent:
        """The event a typed contract instance describes (kernel.contracts.<service>)."""
        return cls(payload.TYPE, payload.data())


@dataclass(frozen=True)
class Event:
    event_id: str
    stream_id: str
    version: int
    type: str
    occurred_at: dt.datetime
    data: dict[str, Any]
    meta: dict[str, Any]
    # The data parsed by its contract, for a consumer (kernel.service.consumes); None elsewhere.
    payload: Any = field(default=None, compare=False, repr=False)

    def to_message(self) -> dict[str, Any]:
        """JSON-safe form used on the wire."""
        return {
            "event_id": self.event_id,
            "stream_id": self.stream_id,
            "version": self.version,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat() + "Z",
            "data": self.data,
            "meta": self.meta,
        }

    def to_document(self) -> dict[str, Any]:
        return {**self.to_message(), "occurred_at": self.occurred_at}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event:
        occurred = message["occurred_at"]
        if isinstance(occurred, str):
            occurred = dt.datetime.fromisoformat(occurred.rstrip("Z"))
        return cls(
            event_id=message["event_id"],
            stream_id=message["stream_id"],
            version=int(message["version"]),
            type=message["type"],
            occurred_at=occurred,
            data=dict(message.get("data") or {}),
            meta=dict(message.get("meta") or {}),
        )


def new_id() -> str:
    return str(uuid.uuid4())


def stamp(stream_id: str, first_version: int, new_events: list[NewEvent], meta: dict) -> list[Event]:
    moment = clock.now()
    return [
        Event(new_id(), stream_id, first_version + i, e.type, moment, e.data, _versioned(meta, e))
        for i, e in enumerate(new_events)
    ]


def _versioned(meta: dict, new_event: NewEvent) -> dict:
    return meta if new_event.contract_version is None else {**meta, "v": new_event.contract_version}


def command_meta(ctx: dict | None, **extra: Any) -> dict[str, Any]:
    """Event meta from the caller's context: who acted, from where, and why."""
    ctx = ctx or {}
    meta = {
        "correlation_id": ctx.get("correlation_id") or new_id(),
        "causation_id": ctx.get("causation_id"),
        "actor": ctx.get("actor") or {"type": "system"},
        "ip": ctx.get("ip"),
    }
    meta.update(extra)
    return meta
