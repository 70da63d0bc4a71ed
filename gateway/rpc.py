"""Nameko RPC from the gateway: one standalone proxy per thread, parallel fan-out.

A standalone ClusterRpcProxy is not thread-safe, so each gunicorn thread keeps
its own. A proxy whose connection broke is thrown away and rebuilt on next use.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from nameko.exceptions import MethodNotFound, RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from kernel import settings

log = logging.getLogger(__name__)
RPC_TIMEOUT = float(os.environ.get("RPC_TIMEOUT", "5"))
_local = threading.local()
# pymongo errors a service raises while its database server is down or unreachable
DATABASE_DOWN = frozenset({"ServerSelectionTimeoutError", "AutoReconnect", "NetworkTimeout", "ConnectionFailure"})


class ServiceUnavailable(Exception):
    """The service did not answer in time or is not running."""


def _proxy():
    proxy = getattr(_local, "proxy", None)
    if proxy is None:
        runner = ClusterRpcProxy({"AMQP_URI": settings.AMQP_URI, "serializer": "json"}, timeout=RPC_TIMEOUT)
        _local.runner, _local.proxy = runner, runner.start()
    return _local.proxy


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

    def result(self) -> Any:
        if self.failure:
            raise self.failure
        try:
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


def start(service: str, method: str, *args: Any, **kwargs: Any) -> PendingCall:
    """Send a call without waiting, so several can run in parallel."""
    pending = PendingCall(service, method)
    for attempt in range(2):
        try:
            pending.reply = getattr(getattr(_proxy(), service), method).call_async(*args, **kwargs)
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
    """Wait for every call; returns (results, failures) where failures says why each one failed:
    "unavailable" (down or slow) or "not_built" (the service lacks the method yet)."""
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for key, pending in calls.items():
        try:
            results[key] = pending.result()
        except ServiceUnavailable:
            failures[key] = "unavailable"
        except MethodNotFound:  # nameko rebuilds this one as an instance
            failures[key] = "not_built"
        except RemoteError as exc:
            failures[key] = "unavailable"
            log.error("%s.%s failed: %s", pending.service, pending.method, exc)
    return results, failures
