"""One RabbitMQ user per service and one for the gateway, each with only the rights its code needs.

The rights are derived from the services' Nameko classes (the events they consume, the services they call),
so they follow the code. `make up` and the test stacks create these users through the management API
(`tools.devstack`); the Kubernetes and Compose files declare the same table (checked by tests/test_deploy.py).

Nameko's names on the broker: the RPC exchange `nameko-rpc` (topic), a service's RPC queue `rpc-<svc>` bound
with `<svc>.*`, its reply queues `rpc.reply-<svc>-<uuid>` bound with the uuid (replies are published to
`nameko-rpc` with the caller's uuid as routing key), its events exchange `<svc>.events` (topic), its
event-handler queues `evt-<source>-<event_type>--<svc>.<method>`. The gateway's standalone proxies reply to
`rpc.reply-standalone_rpc_proxy-<uuid>`; its live consumer uses server-named `amq.gen-...` queues and
declares the events exchanges passively (which needs no right).
"""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Any

from kernel.settings import SERVICES

USERS = (*SERVICES, "gateway")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def service_class(service: str) -> type:
    """The Nameko class `nameko run` starts for `service`."""
    module = importlib.import_module(f"services.{service}.service")
    return getattr(module, f"{service.title()}Service")


@functools.cache
def service_wiring() -> dict[str, dict[str, list[str]]]:
    """Per service: the sources whose events it consumes, the services it calls, its handler queues."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nameko.events import EventHandler
        from nameko.rpc import RpcProxy

    out = {}
    for service in SERVICES:
        sources, calls, queues = set(), set(), set()
        for attribute, value in _attributes(service_class(service)):
            if isinstance(value, RpcProxy):
                calls.add(value.target_service)
            for entrypoint in getattr(value, "nameko_entrypoints", ()):
                if isinstance(entrypoint, EventHandler):
                    sources.add(entrypoint.source_service)
                    queues.add(f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{service}.{attribute}")
        out[service] = {"sources": sorted(sources), "calls": sorted(calls), "handler_queues": sorted(queues)}
    return out


def _attributes(cls: type) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        seen.update(vars(klass))
    return list(seen.items())


def _alternatives(*names: str) -> str:
    return "^(" + "|".join(names) + ")$"


def permissions(user: str) -> dict[str, Any]:
    """The vhost rights (configure/write/read regexes) and the topic rights on `nameko-rpc` of `user`."""
    if user == "gateway":
        own = ["nameko-rpc", r"rpc\.reply-standalone_rpc_proxy-.*", r"amq\.gen-.*", "gateway-view"]
        return {
            "configure": _alternatives(*own),
            "write": _alternatives(*own),
            "read": _alternatives(*own, *(rf"{s}\.events" for s in SERVICES)),
            "topic": {"exchange": "nameko-rpc", "write": _alternatives(*(rf"{s}\..*" for s in SERVICES)),
                      "read": _alternatives(UUID)},
        }  # fmt: skip
    wiring = service_wiring()[user]
    own = ["nameko-rpc", f"rpc-{user}", rf"rpc\.reply-{user}-.*"]
    handlers = rf"evt-.*--{user}\..*"
    others = [rf"{source}\.events" for source in wiring["sources"] if source != user]
    mine = [rf"{user}\.events"] if user in wiring["sources"] else []
    return {
        "configure": _alternatives(*own, rf"{user}\.events", handlers, *others),
        "write": _alternatives(*own, rf"{user}\.events", handlers),
        "read": _alternatives(*own, handlers, *mine, *others),
        # Requests only to the services it calls, plus its own health (deploy.probe runs in its pods
        # with its user); replies to a reply queue's uuid. Binds: its RPC queue (`<svc>.*`), its replies.
        "topic": {
            "exchange": "nameko-rpc",
            "write": _alternatives(UUID, *(rf"{callee}\..*" for callee in wiring["calls"]), rf"{user}\.health"),
            "read": _alternatives(rf"{user}\..*", UUID),
        },
    }
