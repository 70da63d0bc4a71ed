"""Nameko RPC from the gateway: one standalone proxy per thread, parallel fan-out.

A standalone ClusterRpcProxy is not thread-safe, so each gunicorn thread keeps
its own. A proxy whose connection broke is thrown away and rebuilt on next use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from amqp.exceptions import ConnectionError as AmqpConnectionError
from nameko.exceptions import MethodNotFound, RemoteError, RpcTimeout, UnknownService

from gateway.caller import request_ctx
from gateway.permissions import check_call
from kernel import settings
from kernel.caller import SignedClusterRpcProxy

log = logging.getLogger(__name__)
RPC_TIMEOUT = float(os.environ.get("RPC_TIMEOUT", "5"))
_local = threading.local()
# pymongo errors a service raises while its database server is down or unreachable
DATABASE_DOWN = frozenset({"ServerSelectionTimeoutError", "AutoReconnect", "NetworkTimeout", "ConnectionFailure"})


class ServiceUnavailable(Exception):
    """The service did not answer in time or is not running."""


def _runner() -> SignedClusterRpcProxy:
    """The thread's proxy: every call signed with the caller's context, expiring with its deadline."""
    if getattr(_local, "proxy", None) is not None and not _reply_connection_alive(_local.runner):
        _discard()
    if getattr(_local, "proxy", None) is None:
        runner = SignedClusterRpcProxy({"AMQP_URI": settings.AMQP_URI, "serializer": "json"}, request_ctx,
                                       timeout=RPC_TIMEOUT)  # fmt: skip
        _local.runner, _local.proxy = runner, runner.start()
    return _local.runner


def _reply_connection_alive(runner: SignedClusterRpcProxy) -> bool:
    """Whether the proxy's reply connection still has its broker node. A node that died (kill -9,
    a lost host) leaves the socket open on our side until something reads it, and a call sent
    then would be answered on a queue nobody reads: peek at the socket, taking nothing from it."""
    try:
        sock = runner._reply_listener.queue_consumer.connection.connection.sock
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:  # nothing to read: the connection is up
        return True
    except (OSError, AttributeError):  # reset, or the proxy has no connection any more
        return False


def _discard() -> None:
    runner = getattr(_local, "runner", None)
    _local.proxy = _local.runner = None
    if runner is not None:
        try:
            runner.stop()
        except Exception:  # already broken; nothing to close cleanly
            log.debug("closing a broken RPC proxy failed", exc_info=True)


def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call `service.method`; CommandError/NotFound from the service pass through."""
    return start(service, method, *args, **kwargs).result()


@dataclass
class PendingCall:
    service: str
    method: str
    reply: Any = None
    failure: Exception | None = None
    sent_at: float = field(default_factory=time.monotonic)  # time.monotonic() when the call went out

    def result(self, deadline: float | None = None) -> Any:
        """The answer, waiting at most until `deadline` (time.monotonic(); default: RPC_TIMEOUT after
        the call was sent). A call not answered by then is abandoned: ServiceUnavailable."""
        if self.failure:
            raise self.failure
        try:
            if not _wait_for_reply(self.reply, self.sent_at + RPC_TIMEOUT if deadline is None else deadline):
                _abandon(self.reply)
                self.failure = ServiceUnavailable(f"{self.service}: no answer within {RPC_TIMEOUT:g}s")
                raise self.failure
            return self.reply.result()
        except (RpcTimeout, UnknownService) as exc:
            raise ServiceUnavailable(f"{self.service}: {type(exc).__name__}") from exc
        except (OSError, RuntimeError) as exc:  # broken connection: rebuild next time
            _discard()
            raise ServiceUnavailable(f"{self.service}: {exc}") from exc
        except RemoteError as exc:  # the service is up but cannot reach its database
            if exc.exc_type in DATABASE_DOWN:
                raise ServiceUnavailable(f"{self.service}: {exc.exc_type}") from exc
            raise


# nameko's standalone PollingQueueConsumer turns its timeout into a socket read timeout per
# read, so every reply arriving for another call restarts the wait and N slow services cost
# N timeouts. We read the reply queue ourselves until a deadline instead; the reply itself is
# still taken (and decoded) by nameko, which by then finds it already received.
def _wait_for_reply(reply: Any, deadline: float) -> bool:
    """Read the thread's reply queue until `reply` has arrived (True) or `deadline` passed (False)."""
    event = reply.reply_event
    consumer = event.queue_consumer
    if reply.resp_body is not None or event.exception or consumer.stopped or not consumer.connection.connected:
        return True  # answered already, or broken: nameko reports which
    try:
        while event.correlation_id not in consumer.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(socket.timeout):
                consumer.consumer.connection.drain_events(timeout=remaining)
    except (OSError, AmqpConnectionError) as exc:
        raise RuntimeError(f"reply connection lost: {exc}") from exc
    finally:
        _drop_stale_replies(consumer)
    return True


def _abandon(reply: Any) -> None:
    """Forget a call we stopped waiting for: its late reply, if any comes, is then stale."""
    event = reply.reply_event
    event.queue_consumer.provider._reply_events.pop(event.correlation_id, None)


def _drop_stale_replies(consumer: Any) -> None:
    """Acknowledge and drop received replies whose call nobody waits for any more (abandoned
    after its deadline), so they neither pile up nor stay unacknowledged. Replies are matched
    to calls by correlation id only, so a stale one can never answer a later call."""
    waiting = consumer.provider._reply_events
    for correlation_id in [cid for cid in consumer.replies if cid not in waiting]:
        _, message = consumer.replies.pop(correlation_id)
        log.info("dropping a late RPC reply (correlation id %s)", correlation_id)
        with contextlib.suppress(Exception):  # its channel may be gone: then the broker dropped it too
            message.ack()


def start(service: str, method: str, *args: Any, **kwargs: Any) -> PendingCall:
    """Send a call without waiting, so several can run in parallel. A call the contact being
    served may not make raises permissions.Forbidden here and is never sent (checks on arguments
    read the keyword arguments: gateway/clients.py sends nothing else)."""
    ctx = kwargs.pop("ctx", None) or request_ctx()
    check_call(service, method, kwargs)
    pending = PendingCall(service, method)
    for attempt in range(2):
        try:
            pending.reply = _runner().call_async(service, method, ctx, *args, **kwargs)
            return pending
        except UnknownService as exc:
            pending.failure = ServiceUnavailable(f"{service} is not running")
            pending.failure.__cause__ = exc
            return pending
        except Exception as exc:  # broker restarted under us: one fresh proxy, then give up
            _discard()
            if attempt == 1:
                pending.failure = ServiceUnavailable(f"broker: {exc}")
    return pending


def gather(calls: dict[str, PendingCall]) -> tuple[dict[str, Any], dict[str, str]]:
    """Wait for every call, all together at most RPC_TIMEOUT after they were sent; returns
    (results, failures) where failures says why each one failed: "unavailable" (down, or no
    answer by the deadline) or "not_built" (the service lacks the method yet)."""
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    # one deadline for the whole fan-out: RPC_TIMEOUT after the first call went out
    deadline = min((pending.sent_at for pending in calls.values()), default=time.monotonic()) + RPC_TIMEOUT
    for key, pending in calls.items():
        try:
            results[key] = pending.result(deadline)
        except ServiceUnavailable:
            failures[key] = "unavailable"
        except MethodNotFound:  # nameko rebuilds this one as an instance
            failures[key] = "not_built"
        except RemoteError as exc:
            failures[key] = "unavailable"
            log.error("%s.%s failed: %s", pending.service, pending.method, exc)
    return results, failures
