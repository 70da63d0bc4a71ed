"""The gateway's view process: `python -m gateway.readmodel` (run), `python -m gateway.readmodel rebuild`.

It consumes every service's events from one durable queue, `gateway-view`, bound to each `<service>.events`
exchange (so events published while it is down wait for it), with manual acks and a few workers:

- an accounts event invalidates the account's cached sessions at once (logout, ended sessions, a new
  password, a disabled account, a changed profile or contact: the next request asks accounts again);
- an event of an account makes the view ask that service again what the account's dashboard shows
  (the answer stored only if no later one is there: asking again is idempotent, so a redelivered or
  doubled event is harmless), then records the command's correlation id as applied;
- a public event (news, the offer) makes it ask the source every account reads (one row: readmodel.PUBLIC).

What becomes true as time passes reaches it the same way: the services' timers tell it as events (billing's
`service_renewal_window_opened`, `offer_started`, `offer_ended`; support's `news_went_live`), so no answer
stored here goes stale with the clock (issue #17).

A service that does not answer leaves the message unacknowledged; it comes back after a pause. Once a
second the process asks every service's health and stores when each last answered (`services_seen`):
pages show sections of a service that is away as "known as of ...".
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import pika
import pika.exceptions

from gateway import clients, live, readmodel, rpc
from gateway.readmodel.refresh import PUBLIC_SOURCES, SERVICE_SOURCES, ask
from kernel import settings

log = logging.getLogger("gateway.readmodel")
QUEUE = "gateway-view"
SELF = "gateway-view"
HEALTHY_SECONDS = 10
WORKERS = int(os.environ.get("GATEWAY_VIEW_WORKERS", "4"))
PREFETCH = 4 * WORKERS
RETRY_PAUSE = 1.0
# accounts events that say nothing new about who is logged in nor what their profile shows
SESSION_NEUTRAL = frozenset({"login_failed", "email_verification_requested", "registration_attempted",
                             "password_reset_requested", "contact_password_reset_requested", "totp_code_used"})  # fmt: skip


def account_of(service: str, message: dict[str, Any]) -> str | None:
    data = message.get("data") or {}
    account_id = data.get("account_id")
    if not account_id and service == "accounts":
        stream = str(message.get("stream_id", ""))
        account_id = stream.removeprefix("account-") if stream.startswith("account-") else None
    return str(account_id) if account_id else None


def is_public(service: str, event_type: str) -> bool:
    route = live.CHANGES.get((service, event_type))
    return route is not None and route[0] is None


def apply(service: str, message: dict[str, Any]) -> bool:
    """Bring the view up to this event; False when a service did not answer (try the event again later)."""
    event_type = str(message.get("type", ""))
    account_id = account_of(service, message)
    correlation = (message.get("meta") or {}).get("correlation_id")
    if service == "accounts" and account_id and event_type not in SESSION_NEUTRAL:
        readmodel.invalidate_sessions(account_id, time.time())
    if account_id:
        return refresh(account_id, SERVICE_SOURCES.get(service, ()), event_type, correlation)
    if is_public(service, event_type):
        return refresh(readmodel.PUBLIC, PUBLIC_SOURCES.get(service, ()), event_type, None)
    return True


def refresh(owner: str, keys: tuple[str, ...], event_type: str, correlation: str | None) -> bool:
    """Ask the sources `keys` of `owner` (an account, or readmodel.PUBLIC) again; False if one did not answer."""
    if not keys:
        if correlation:
            readmodel.mark_applied(owner, correlation)
        return True
    _, failures = ask(owner, keys, correlation)
    if failures:
        log.warning("view: %s of %s not refreshed after %s: %s", keys, owner, event_type, failures)
    return not failures


def check_services() -> None:
    """Every service's health, asked in parallel; those that answered are seen now."""
    pending = {service: clients.start(clients.BY_SERVICE[service].health) for service in settings.SERVICES}
    answers, _ = rpc.gather(pending)
    now = time.time()
    for service in answers:
        readmodel.saw(service, now)


def watch_services(stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            readmodel.saw(SELF, time.time())  # the process's own heartbeat (`python -m gateway.readmodel health`)
            check_services()
        except Exception:  # never let the watcher die: pages would take every service as away
            log.exception("health check failed")


class ViewConsumer:
    """One pika connection; messages handled by a small pool, acknowledged from the connection's thread."""

    def __init__(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="view")
        self.stop = threading.Event()

    def run(self) -> None:
        threading.Thread(target=watch_services, args=(self.stop,), daemon=True, name="view-health").start()
        delay = 0.5
        while not self.stop.is_set():
            try:
                self._consume()
                delay = 0.5
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("view consumer lost the broker: %r", exc)
            self.stop.wait(delay)
            delay = min(delay * 2, 15)

    def _consume(self) -> None:
        nodes = [pika.URLParameters(url) for url in live.amqp_urls()]
        for params in nodes:
            params.client_properties = {"connection_name": f"panel-gateway-view pid={os.getpid()}"}
            params.heartbeat = 30
        self.connection = pika.BlockingConnection(nodes)
        try:
            channel = self.connection.channel()
            channel.queue_declare(QUEUE, durable=True)
            for service in settings.SERVICES:
                channel.exchange_declare(f"{service}.events", exchange_type="topic", durable=True, passive=True)
                channel.queue_bind(QUEUE, f"{service}.events", routing_key="#")
            channel.basic_qos(prefetch_count=PREFETCH)
            channel.basic_consume(QUEUE, self._on_message)
            log.info("gateway view consuming %s", QUEUE)
            while not self.stop.is_set():
                self.connection.process_data_events(time_limit=0.5)
        finally:
            if self.connection.is_open:
                self.connection.close()

    def _on_message(self, channel, method, properties, body: bytes) -> None:
        service = method.exchange.removesuffix(".events")
        self.pool.submit(self._handle, channel, method.delivery_tag, service, body)

    def _handle(self, channel, tag: int, service: str, body: bytes) -> None:
        try:
            done = apply(service, json.loads(body))
        except ValueError:
            log.warning("view ignored a message that is not JSON from %s", service)
            done = True
        except Exception:
            log.exception("view failed on an event of %s", service)
            done = False
        if not done:
            time.sleep(RETRY_PAUSE)  # the service is away: the event comes back once it may answer
        settle = functools.partial(channel.basic_ack, tag) if done else functools.partial(channel.basic_nack, tag)
        try:
            self.connection.add_callback_threadsafe(settle)
        except Exception:  # the connection is gone: the broker hands the message out again
            log.info("view could not settle a message; it is redelivered")


def rebuild() -> int:
    """Drop the view and ask the services again for every account it knew, and the public sources."""
    started = time.perf_counter()
    known = sorted({*readmodel.account_ids(), *readmodel.session_account_ids()})
    readmodel.drop()
    failed = 1 if ask(readmodel.PUBLIC, public_keys())[1] else 0
    failed += sum(1 for account_id in known if ask(account_id, ask_keys())[1])
    print(f"rebuilt gateway: {len(known)} accounts in {time.perf_counter() - started:.2f}s, {failed} incomplete")
    return 1 if failed else 0


def health() -> int:
    """0 while the view process beat within HEALTHY_SECONDS (a container's health check), else 1."""
    seen = readmodel.database()["services_seen"].find_one({"_id": SELF}) or {}
    return 0 if time.time() - seen.get("ok_at", 0) < HEALTHY_SECONDS else 1


def ask_keys() -> tuple[str, ...]:
    return tuple(key for keys in SERVICE_SOURCES.values() for key in keys)


def public_keys() -> tuple[str, ...]:
    return tuple(key for keys in PUBLIC_SOURCES.values() for key in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.readmodel")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "rebuild", "health"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    readmodel.ensure_indexes()
    if args.command == "rebuild":
        return rebuild()
    if args.command == "health":
        return health()
    consumer = ViewConsumer()
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop.set())
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
