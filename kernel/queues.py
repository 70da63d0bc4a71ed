"""The queues a service consumes: their type, and the brokers it may connect to.

Every durable queue a service consumes (its RPC request queue `rpc-<service>`,
each event handler's `evt-...` queue) is a quorum queue when
`AMQP_QUEUE_TYPE=quorum` (replicated over the cluster's nodes, so it survives
the loss of one), classic otherwise. Reply queues, and the gateway's live
consumer (exclusive, auto-delete), are not consumed by more than one process nor
kept across a restart, so they stay classic; the services' reply queue is made
transient (`transient_reply_queue`) so that, when its node goes away, the
service can declare it again on another node.

A quorum queue counts how often it handed out a message (`x-delivery-count`) and
drops it after `x-delivery-limit` returns. A message that keeps coming back
(its worker's process dies every time, so the handler's own retries never end)
is set aside in `dead_letters` by the event handler on its last delivery,
without running the handler again: the broker's limit is the second guard, the
handler's bounded retries (`kernel.service.consumes`) the first.

`AMQP_URI` may name several nodes separated by `;`
(`pyamqp://u:p@h1:5672/;pyamqp://u:p@h2:5672/`), as kombu accepts: a process
connects to the first that answers and, when that one goes away, to the next.
"""

from __future__ import annotations

import logging
import os
import types
import urllib.parse
from collections.abc import Callable
from typing import Any

from kombu import Queue
from nameko.events import EventHandler
from nameko.rpc import ReplyListener, RpcConsumer

from kernel import db

log = logging.getLogger(__name__)
QUEUE_TYPES = ("classic", "quorum")
DEFAULT_DELIVERY_LIMIT = 5


def queue_type() -> str:
    """AMQP_QUEUE_TYPE: `classic` (default) or `quorum`; anything else is a configuration error."""
    value = os.environ.get("AMQP_QUEUE_TYPE", "classic").strip().lower() or "classic"
    if value not in QUEUE_TYPES:
        raise ValueError(f"AMQP_QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, not {value!r}")
    return value


def delivery_limit() -> int:
    """AMQP_DELIVERY_LIMIT: how often a quorum queue hands a message back before dropping it."""
    limit = int(os.environ.get("AMQP_DELIVERY_LIMIT", str(DEFAULT_DELIVERY_LIMIT)))
    if limit < 1:
        raise ValueError("AMQP_DELIVERY_LIMIT must be at least 1")
    return limit


def queue_arguments() -> dict[str, Any]:
    """The arguments a service's durable queues are declared with."""
    if queue_type() == "quorum":
        return {"x-queue-type": "quorum", "x-delivery-limit": delivery_limit()}
    return {}


def typed(queue: Queue) -> Queue:
    """`queue` with the configured type, if it is one that may have it (durable, shared, kept)."""
    if queue.durable and not queue.exclusive and not queue.auto_delete:
        queue.queue_arguments = {**(queue.queue_arguments or {}), **queue_arguments()}
    return queue


def delivery_count(message: Any) -> int:
    """How often a quorum queue handed this message out before (0 for a first or classic delivery)."""
    headers = getattr(message, "headers", None) or {}
    try:
        return int(headers.get("x-delivery-count") or 0)
    except (TypeError, ValueError):
        return 0


def type_rpc_queue(consumer: RpcConsumer) -> None:
    """Give the service's RPC request queue `rpc-<service>` the configured type (before it is declared).

    Done from the entrypoint, not by a consumer subclass: a service mixing nameko's own `rpc` with
    ours must still have one consumer on its queue."""
    consumer.setup()  # creates the queue once; again, it changes nothing
    typed(consumer.queue)


class TransientReplyListener(ReplyListener):
    """nameko's reply listener whose queue lives only as long as its node: declarable on another one
    when that node is lost (a durable classic queue whose node is down cannot be declared again)."""

    def setup(self) -> None:
        super().setup()
        self.queue.durable, self.queue.auto_delete = False, True


class GuardedEventHandler(EventHandler):
    """nameko's event handler; its queue of the configured type, and a message delivered for the
    last time the broker allows is given to `set_aside` (kernel.service's: `dead_letters`) instead
    of being handled again."""

    def __init__(self, *args: Any, set_aside: Callable[..., None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.set_aside = set_aside

    def setup(self) -> None:
        super().setup()
        typed(self.queue)

    def handle_message(self, body: Any, message: Any) -> None:
        count = delivery_count(message)
        if self.set_aside and queue_type() == "quorum" and count >= delivery_limit():
            self._set_aside(body, count)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def _set_aside(self, body: Any, count: int) -> None:
        handler = getattr(self.container.service_cls, self.method_name)
        consumer = f"{handler.__module__}.{handler.__name__}"
        error = RuntimeError(f"delivered {count + 1} times without being acknowledged (x-delivery-limit)")
        events = types.SimpleNamespace(service=self.container.service_name)
        self.set_aside(events, consumer, self.source_service, self.event_type, body, error, attempts=count)


event_handler = GuardedEventHandler.decorator


def redelivered(message: Any) -> bool:
    """The broker handed this message out before (its consumer's connection went before the ack)."""
    return bool((getattr(message, "delivery_info", None) or {}).get("redelivered")) or delivery_count(message) > 0


def applied_before(service: str, call_id: str | None) -> bool:
    """Whether a command of the RPC call `call_id` (the request's AMQP correlation id) is in the service's
    event store: a request delivered again after its worker stored events must not run twice (a ticket
    opened twice). Asked only for redelivered requests; a call whose worker stored nothing runs again."""
    if not call_id:
        return False
    try:
        commits = db.database(service)["event_commits"]
    except Exception:  # a service without an event store: nothing to compare with
        return False
    return commits.find_one({"events.meta.call_id": call_id}, {"_id": 1}) is not None


def broker_urls(uri: str) -> list[str]:
    """The nodes named by an AMQP_URI, each as its own URI (`;`-separated, as kombu reads them)."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def with_user(uri: str, user: str, password: str) -> str:
    """`uri` (one node or several) with every node's user and password replaced."""
    nodes = []
    for node in broker_urls(uri):
        parts = urllib.parse.urlsplit(node)
        netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{parts.hostname}"
        nodes.append(parts._replace(netloc=f"{netloc}:{parts.port or 5672}").geturl())
    return ";".join(nodes)
