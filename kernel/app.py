"""What every service's application layer (`services/<name>/app/`) is given: `Deps`, the event store,
the calls to other services and the clock, and `Remote`, those calls with a timeout and one error
mapping. Application functions take a `Deps`; a service's entrypoints build it, a test passes fakes."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import eventlet
from nameko.exceptions import MethodNotFound, RemoteError, UnknownService

from kernel import clock
from kernel.errors import CommandError, NotFound, Unavailable

log = logging.getLogger(__name__)


def clock_now() -> dt.datetime:
    """kernel.clock's time, looked up at each call (so a test's or the clock offset's change applies)."""
    return clock.now()


class Remote:
    """Calls to other services through their RPC proxies (`{"accounts": proxy, ...}`); a missing or
    silent owner becomes `Unavailable("<owner>_unavailable")`, its own refusals pass through."""

    def __init__(self, proxies: dict[str, Any], timeout: float):
        self.proxies, self.timeout = proxies, timeout

    def __call__(self, owner: str, method: str, *args: Any) -> Any:
        try:
            with eventlet.Timeout(self.timeout):
                return getattr(self.proxies[owner], method)(*args)
        except (CommandError, NotFound):
            raise
        except (UnknownService, MethodNotFound, RemoteError, eventlet.Timeout, OSError) as exc:
            log.warning("%s.%s failed: %r", owner, method, exc)
            raise Unavailable(f"{owner}_unavailable") from None


def no_remote(owner: str, method: str, *args: Any) -> Any:
    """The `remote` of a service that calls nobody."""
    raise Unavailable(f"{owner}_unavailable")


@dataclass(frozen=True)
class Deps:
    """What the application functions work with: `events` (load/append; the service's EventsApi or a
    test's), `remote(owner, method, *args)` and `now()`."""

    events: Any
    remote: Callable[..., Any] = no_remote
    now: Callable[[], dt.datetime] = clock_now
