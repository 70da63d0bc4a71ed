"""The base every service's Nameko class extends: one layout everywhere."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from nameko.events import event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from kernel import db, settings
from kernel.dependencies import EventSourcing
from kernel.events import Event
from kernel.projections import Projection

log = logging.getLogger(__name__)


class EventSourcedService:
    name = "base"
    projections: list[Projection] = []
    # Operational (non-projection) documents whose indexes the service owns.
    documents: list = []

    events = EventSourcing()

    @rpc
    def health(self) -> dict[str, Any]:
        db.database(self.name).command("ping")
        return {"service": self.name, "status": "up"}

    @timer(interval=settings.OUTBOX_SWEEP_SECONDS)
    def sweep_outbox(self) -> None:
        published = self.events.publish_pending()
        if published:
            log.warning("outbox sweep published %d stored-but-unpublished events", published)


def consumes(source_service: str, event_type: str, attempts: int = 3) -> Callable:
    """A Nameko event handler that applies each event once per consumer.

    Transient failures are retried in place a bounded number of times; the
    processed marker is removed on failure so a redelivery can try again.
    """

    def decorate(fn: Callable) -> Callable:
        consumer = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def handler(self, message: dict) -> None:
            event = Event.from_message(message)
            if not self.events.first_time(consumer, event.event_id):
                return
            for attempt in range(1, attempts + 1):
                try:
                    fn(self, event)
                    return
                except Exception:
                    if attempt == attempts:
                        self.events.forget(consumer, event.event_id)
                        raise
                    log.warning("%s failed on %s (attempt %d), retrying", consumer, event.event_id, attempt)
                    time.sleep(0.2 * attempt)

        return event_handler(source_service, event_type)(handler)

    return decorate
