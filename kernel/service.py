"""The base every service's Nameko class extends: one layout everywhere."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import amqp.exceptions
import kombu.exceptions
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer
from nameko.timer import timer

from kernel import clock, db, queues, settings
from kernel.caller import rpc
from kernel.contracts import registry
from kernel.dependencies import EventSourcing
from kernel.events import Event
from kernel.projections import Projection

log = logging.getLogger(__name__)
# What an AMQP call raises when the broker went away under it.
BROKER_LOST = (OSError, kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError)


def survive_broker_restarts() -> None:
    """Keep a service running when RabbitMQ restarts while a worker is finishing.

    Nameko 2.14 kills the whole container (the process exits) when acking a
    consumed message or sending an RPC reply raises because the connection is
    gone. Nothing is gained by dying: the broker redelivers an unacked message
    once it is back (consumers are idempotent) and the RPC caller times out
    (503). So that failure is logged, and the consumers reconnect by themselves.
    """
    if getattr(QueueConsumer.ack_message, "survives_broker_loss", False):
        return
    ack_message, handle_result = QueueConsumer.ack_message, RpcConsumer.handle_result

    def ack_or_leave_for_redelivery(self, message) -> None:
        try:
            ack_message(self, message)
        except BROKER_LOST as exc:
            log.warning("broker lost before an ack (%r); the message will be redelivered", exc)

    def reply_or_let_the_caller_time_out(self, message, result, exc_info):
        try:
            return handle_result(self, message, result, exc_info)
        except BROKER_LOST as exc:
            log.warning("broker lost before an RPC reply (%r); the caller times out", exc)
            # The reply went over a publisher connection to a node that died; the request came on
            # the consumer's own connection, which may be alive: acknowledge it there, or it stays
            # unacknowledged for as long as that connection lasts (found by the node-loss test).
            self.queue_consumer.ack_message(message)
            return result, exc_info

    ack_or_leave_for_redelivery.survives_broker_loss = True
    QueueConsumer.ack_message = ack_or_leave_for_redelivery
    RpcConsumer.handle_result = reply_or_let_the_caller_time_out


survive_broker_restarts()


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

    The handler gets the event with `event.payload`: its data parsed by the
    source's contract (kernel.contracts.<source>; `event.data` stays the raw
    dict). Naming a type the source does not declare is a ContractError at
    import. Transient failures are retried in place a bounded number of times. A
    message that cannot be read as an event or that fails its contract, or that
    still fails after the last attempt, is set aside in the service's `dead_letters`
    collection (raw message, error, consumer) and acknowledged, so it never blocks
    the queue; its processed marker is removed, so replaying it later applies it.
    """
    registry.require(source_service, [event_type], f"@consumes({source_service!r}, {event_type!r})")

    def decorate(fn: Callable) -> Callable:
        consumer = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def handler(self, message: Any) -> None:
            try:
                event = parsed(source_service, event_type, Event.from_message(message))
            except Exception as exc:  # malformed or breaking its contract: no retry can fix it
                set_aside(self.events, consumer, source_service, event_type, message, exc, attempts=0)
                return
            if not self.events.first_time(consumer, event.event_id):
                return
            for attempt in range(1, attempts + 1):
                try:
                    fn(self, event)
                    return
                except Exception as exc:
                    if attempt == attempts:
                        self.events.forget(consumer, event.event_id)
                        set_aside(self.events, consumer, source_service, event_type, message, exc, attempt)
                        return
                    log.warning("%s failed on %s (attempt %d), retrying", consumer, event.event_id, attempt)
                    time.sleep(0.2 * attempt)

        return queues.event_handler(source_service, event_type, set_aside=set_aside)(handler)

    return decorate


def parsed(source_service: str, event_type: str, event: Event) -> Event:
    """The event with its data parsed by the source's contract (unchanged for a source with none)."""
    if not registry.declares(source_service):
        return event
    return dataclasses.replace(event, payload=registry.parse(source_service, event_type, event.data))


def set_aside(events: Any, consumer: str, source_service: str, event_type: str, message: Any, error: Exception,
              attempts: int) -> None:  # fmt: skip
    """Store a message its consumer could not handle in `dead_letters` (one row per consumer and event)."""
    event_id = message.get("event_id") if isinstance(message, dict) else None
    key = f"{consumer}:{event_id}" if isinstance(event_id, str) and event_id else f"{consumer}:{uuid.uuid4()}"
    log.error("%s set aside %s.%s %s after %d attempts: %r", consumer, source_service, event_type, key, attempts, error)
    db.database(events.service)["dead_letters"].replace_one(
        {"_id": key},
        {"_id": key, "consumer": consumer, "source_service": source_service, "event_type": event_type, "event_id": event_id,
         "message": json.dumps(message, default=str), "error": f"{type(error).__name__}: {error}",
         "attempts": attempts, "at": clock.now().isoformat()},
        upsert=True,
    )  # fmt: skip
