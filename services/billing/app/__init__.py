"""Billing's application layer: one module per concern, each of plain functions.

A function takes what it needs explicitly (`Deps`: the event store, the remote callers, the clock),
decides through the aggregates in `services.billing.domain`, reads the read models in
`services.billing.projections`, and returns plain data. `services.billing.service` only exposes
them as Nameko entrypoints.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import eventlet
from nameko.exceptions import MethodNotFound, RemoteError, UnknownService

from kernel import clock
from kernel.errors import CommandError, NotFound, Unavailable

log = logging.getLogger(__name__)
RPC_TIMEOUT = float(os.environ.get("BILLING_RPC_TIMEOUT", "5"))
# A customer's own racing commands (parallel payments, checkouts) are decided again this many times, then 409.
CONFLICT_RETRIES = 10
SYSTEM_CTX = {"actor": {"type": "system", "id": "billing"}}


class Remote:
    """Calls to other services through their RPC proxies (`{"accounts": proxy, ...}`); a missing or
    silent owner becomes `Unavailable("<owner>_unavailable")`, its own refusals pass through."""

    def __init__(self, proxies: dict[str, Any], timeout: float = RPC_TIMEOUT):
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


@dataclass(frozen=True)
class Deps:
    """What the application functions work with: `events` (load/append; the service's EventsApi or a
    test's), `remote(owner, method, *args)` and `now()`."""

    events: Any
    remote: Callable[..., Any]
    now: Callable[[], dt.datetime] = clock.now
