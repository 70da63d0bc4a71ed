"""Fakes shared by the service tests that run workers on the real database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kernel.dependencies import EventsApi, prepare_storage

# Threads racing on the database need the real server (the fast tier's mongomock is not thread-safe).
RACING = pytest.mark.integration


class RecordingDispatch:
    """Stands in for nameko's EventDispatcher: remembers (event type, message) pairs, and hands the
    types in `forward` to their consumer at once (another service's handler, as the broker would)."""

    def __init__(self, forward: dict[str, Callable[[dict[str, Any]], Any]] | None = None) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.forward = forward or {}
        self._lock = threading.Lock()  # race tests publish from several threads

    def __call__(self, event_type: str, message: dict[str, Any]) -> None:
        with self._lock:
            self.messages.append((event_type, message))
        if event_type in self.forward:
            self.forward[event_type](message)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if t == event_type]

    def types(self) -> list[str]:
        return [t for t, _ in self.messages]


def recording_events_api(service_cls: type, dispatch: RecordingDispatch) -> EventsApi:
    """A real EventsApi for `service_cls` (connect its alias first) that records instead of publishing."""
    store, projections = prepare_storage(service_cls.name, service_cls)
    return EventsApi(service_cls.name, store, projections, dispatch)


def call_as(worker: Any, method: str, ctx: dict[str, Any] | None, *args: Any, **kwargs: Any) -> Any:
    """Call `worker.method` the way its RPC entrypoint does: the kernel admits the (verified) caller
    `ctx` first (actor rules, own account, argument types), then the method runs with that ctx."""
    from kernel.caller import admit

    return getattr(worker, method)(**admit(type(worker), method, ctx or {}, list(args), kwargs))
