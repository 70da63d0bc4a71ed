"""Live dashboard: one RabbitMQ consumer per gateway process, fanned out to SSE streams.

The consumer (a daemon thread, started with the first stream) owns an exclusive,
auto-delete, server-named queue bound to the services' `<service>.events` topic
exchanges, so nothing piles up when the gateway is gone; a message TTL and a
maximum length bound it while the gateway is slow. Each event becomes a small
`Change` (event type and the dashboard sections it touches, never the event's
data) delivered only to the streams of the account it belongs to. After a lost
broker connection it reconnects with backoff and tells every stream to resync,
since events published meanwhile were not seen.

Thread budget: under gunicorn's gthread workers a stream holds one thread while
it lives, so a process serves at most LIVE_MAX_STREAMS streams (default: half of
GUNICORN_THREADS) and each stream ends after LIVE_STREAM_SECONDS; the browser then
reconnects (`retry:`); a stream whose browser went away ends within about a second
(gateway/views/live.py looks at the socket). The rest of the threads stay free for pages.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from gateway import policy
from kernel import contracts, settings
from kernel.queues import broker_urls

log = logging.getLogger(__name__)

MAX_STREAMS = int(os.environ.get("LIVE_MAX_STREAMS", str(max(1, int(os.environ.get("GUNICORN_THREADS", "8")) // 2))))
STREAM_SECONDS = float(os.environ.get("LIVE_STREAM_SECONDS", "300"))
HEARTBEAT_SECONDS = float(os.environ.get("LIVE_HEARTBEAT_SECONDS", "10"))
QUEUE_ARGUMENTS = {"x-message-ttl": 10_000, "x-max-length": 10_000, "x-overflow": "drop-head"}
SUBSCRIBER_BACKLOG = 100

# (source service, event type) -> (the permission a contact needs to see it, dashboard sections it changes),
# from gateway/policy.py (an owner holds every permission). None: public to every logged-in customer (news,
# the offer banner). Not listed means never streamed (e.g. ticket_note_added is staff only).
CHANGES: dict[tuple[str, str], tuple[str | None, tuple[str, ...]]] = policy.live_changes()


@dataclass(frozen=True)
class Change:
    """What a stream tells the browser: which sections to fetch again."""

    kind: str  # "change", or "resync" after the consumer missed events
    event_type: str
    sections: tuple[str, ...]
    event_id: str = ""

    def sse(self) -> str:
        payload = json.dumps({"type": self.event_type, "sections": list(self.sections)})
        lines = [f"event: {self.kind}"] + ([f"id: {self.event_id}"] if self.event_id else [])
        return "\n".join([*lines, f"data: {payload}", "", ""])


class Subscription:
    """One open stream: its account, what it may see, and its mailbox."""

    def __init__(self, account_id: str, permissions: list[str] | None):
        self.account_id = account_id
        self.permissions = None if permissions is None else frozenset(permissions)
        self.inbox: queue.Queue[Change | None] = queue.Queue(maxsize=SUBSCRIBER_BACKLOG)

    def may_see(self, permission: str | None) -> bool:
        return permission is None or self.permissions is None or permission in self.permissions

    def offer(self, change: Change | None) -> None:
        try:
            self.inbox.put_nowait(change)
        except queue.Full:  # a stuck stream loses changes, never blocks the consumer
            log.debug("live stream of %s is full; change dropped", self.account_id)


class Hub:
    """Subscriptions per account, filled by the consumer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[str, set[Subscription]] = {}
        self.stopping = threading.Event()

    def subscribe(self, account_id: str, permissions: list[str] | None = None,
                  kind: type[Subscription] | None = None) -> Subscription | None:  # fmt: skip
        """A new subscription (of `kind`: gateway/live_asgi.py's wakes a coroutine), or None when this process
        already serves MAX_STREAMS."""
        subscription = (kind or Subscription)(account_id, permissions)
        with self._lock:
            if sum(len(subs) for subs in self._by_account.values()) >= MAX_STREAMS:
                return None
            self._by_account.setdefault(account_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._by_account.get(subscription.account_id, set())
            subs.discard(subscription)
            if not subs:
                self._by_account.pop(subscription.account_id, None)

    def _targets(self, account_id: str | None) -> list[Subscription]:
        with self._lock:
            if account_id is None:
                return [s for subs in self._by_account.values() for s in subs]
            return list(self._by_account.get(account_id, ()))

    def deliver(self, account_id: str | None, permission: str | None, change: Change) -> None:
        """To the account's streams (every stream when account_id is None), as far as each may see."""
        for subscription in self._targets(account_id):
            if subscription.may_see(permission):
                subscription.offer(change)

    def resync(self) -> None:
        for subscription in self._targets(None):
            subscription.offer(Change("resync", "resync", visible_sections(subscription)))

    def stop(self) -> None:
        """The worker is stopping: end every stream now."""
        self.stopping.set()
        for subscription in self._targets(None):
            subscription.offer(None)


def visible_sections(subscription: Subscription) -> tuple[str, ...]:
    """Every section a change may touch that this stream's account (or contact) may see."""
    return tuple(
        sorted({s for permission, sections in CHANGES.values() if subscription.may_see(permission) for s in sections})
    )


def change_for(service: str, message: dict[str, Any]) -> tuple[str | None, str | None, Change] | None:
    """(account id or None for public, permission, change) for a published event, or None to ignore it."""
    event_type = message.get("type", "")
    route = CHANGES.get((service, event_type))
    if route is None:
        return None
    permission, sections = route
    change = Change("change", event_type, sections, str(message.get("event_id", "")))
    data = message.get("data") or {}
    account_id = data.get("account_id")
    if permission is None:  # for everyone; an account's own such change (the plans it holds) to it alone
        return (str(account_id) if account_id else None), None, change
    if not account_id and service == contracts.ACCOUNTS:  # account events live on the stream account-<id>
        account_id = str(message.get("stream_id", "")).removeprefix("account-")
    return (str(account_id), permission, change) if account_id else None


def amqp_urls() -> list[str]:
    """pika speaks amqp://; Nameko's URI says pyamqp:// (and may name several nodes, `;`-separated)."""
    urls = []
    for uri in broker_urls(settings.AMQP_URI):
        scheme, sep, rest = uri.partition("://")
        urls.append(f"amqp://{rest}" if sep and scheme in ("pyamqp", "amqp", "librabbitmq") else uri)
    return urls


class Consumer(threading.Thread):
    """The process's one broker consumer; reconnects with backoff until the process ends."""

    def __init__(self, hub: Hub):
        super().__init__(name="live-consumer", daemon=True)
        self.hub = hub
        self.ready = threading.Event()
        self.connections = 0

    def run(self) -> None:
        delay = 0.25
        while not self.hub.stopping.is_set():
            connected_before = self.connections
            try:
                self._consume()
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("live consumer lost the broker: %r", exc)
            except Exception:  # never let the thread die: the dashboard would silently stop updating
                log.exception("live consumer failed")
            self.ready.clear()
            # After a working connection, retry soon; while the broker stays away, wait longer each time.
            delay = 0.5 if self.connections > connected_before else min(delay * 2, 30)
            log.info("live consumer reconnects in %.1fs", delay)
            self.hub.stopping.wait(delay)

    def _consume(self) -> None:
        nodes = [pika.URLParameters(url) for url in amqp_urls()]  # the first that answers
        for params in nodes:
            params.client_properties = {"connection_name": f"panel-gateway-live pid={os.getpid()}"}
            params.heartbeat = 30
        connection = pika.BlockingConnection(nodes)
        try:
            channel = connection.channel()
            declared = channel.queue_declare("", exclusive=True, auto_delete=True, arguments=QUEUE_ARGUMENTS)
            name = declared.method.queue
            for service in sorted({service for service, _ in CHANGES}):
                # Passive: the gateway's broker user may read the services' exchanges, never (re)define them;
                # one not declared yet closes the channel and the reconnect loop tries again.
                channel.exchange_declare(f"{service}.events", exchange_type="topic", durable=True, passive=True)
            for service, event_type in CHANGES:
                channel.queue_bind(name, f"{service}.events", routing_key=event_type)
            channel.basic_consume(name, self._on_message, auto_ack=True)
            self.connections += 1
            if self.connections > 1:
                self.hub.resync()
            self.ready.set()
            log.info("live consumer listening on %s", name)
            channel.start_consuming()
        finally:
            if connection.is_open:
                connection.close()

    def _on_message(self, channel, method, properties, body: bytes) -> None:
        service = method.exchange.removesuffix(".events")
        try:
            message = json.loads(body)
        except ValueError:
            log.warning("live consumer ignored a message that is not JSON on %s", method.exchange)
            return
        found = change_for(service, message)
        if found:
            account_id, permission, change = found
            self.hub.deliver(account_id, permission, change)


_hub = Hub()
_consumer: Consumer | None = None
_start_lock = threading.Lock()


def hub() -> Hub:
    """The process's hub; starts the consumer thread on first use (after gunicorn forked)."""
    global _consumer
    with _start_lock:
        if _consumer is None or not _consumer.is_alive():
            _consumer = Consumer(_hub)
            _consumer.start()
    return _hub


def consumer_ready(timeout: float) -> bool:
    hub()
    return _consumer is not None and _consumer.ready.wait(timeout)


def end_streams_on_exit(worker: Any) -> None:
    """gunicorn post_worker_init: on SIGTERM end open streams at once, so the worker stops without waiting them out."""
    handle_exit = worker.handle_exit

    def stopping(sig, frame) -> None:
        _hub.stop()
        handle_exit(sig, frame)

    signal.signal(signal.SIGTERM, stopping)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn set it: let active requests finish their writes
