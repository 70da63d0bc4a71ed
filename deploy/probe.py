"""Health probe for a Nameko service: `python -m deploy.probe <service>`.

Calls the service's `health` RPC over the broker named by AMQP_URI and exits 0
when it answers {"status": "up"} within the timeout, 1 otherwise. Used by the
Compose health checks and by the Kubernetes liveness/readiness exec probes.

The RPC goes to the service's shared queue, so any replica may answer: the probe
tells whether the service as a whole answers (broker and database reachable),
not which pod did. A hard deadline (SIGALRM) bounds connecting and publishing
too, so a probe never outlives its own timeout.

The probe runs in the service's own pod with the service's own broker user, which
may declare only that service's queues: so its reply queue is named like the
service's own (`rpc.reply-<service>-<uuid>`), and the call is signed as the system
(RPC_SIGNING_KEYS) like every RPC.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import warnings
from typing import Any

SERVICES = ("accounts", "billing", "domains", "support", "notifications", "hosting")
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"


class ProbeTimeoutError(Exception):
    """The whole probe took longer than its deadline."""


def _expire(signum: int, frame: Any) -> None:
    raise ProbeTimeoutError


def call_health(service: str, amqp_uri: str, timeout: float) -> Any:
    """Return what `<service>.health()` answers; raises on any failure."""
    with probe_proxy(service, amqp_uri, timeout) as proxy:
        return getattr(proxy, service).health()


def probe_proxy(service: str, amqp_uri: str, timeout: float) -> Any:
    """A signed standalone RPC proxy whose reply queue is `rpc.reply-<service>-<uuid>`."""
    with warnings.catch_warnings():  # eventlet's deprecation notice would drown the probe's one line
        warnings.simplefilter("ignore")
        from kernel.caller import SignedClusterRpcProxy, system_ctx

    class ProbeProxy(SignedClusterRpcProxy):
        class ServiceContainer(SignedClusterRpcProxy.ServiceContainer):
            service_name = service

    config = {"AMQP_URI": amqp_uri, "serializer": "json"}
    return ProbeProxy(config, lambda: system_ctx(f"probe-{service}"), timeout)


def check(service: str, amqp_uri: str, timeout: float) -> tuple[bool, str]:
    """(healthy, message) for one service; never raises."""
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, timeout + 1.0)
    try:
        answer = call_health(service, amqp_uri, timeout)
    except ProbeTimeoutError:
        return False, f"{service}: no answer within {timeout:g}s"
    except Exception as exc:  # any failure (broker down, unknown service, remote error) means unhealthy
        return False, f"{service}: {type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if isinstance(answer, dict) and answer.get("status") == "up":
        return True, json.dumps(answer, sort_keys=True)
    return False, f"{service}: unexpected answer {answer!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.probe", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("PROBE_TIMEOUT", "5")),
        help="seconds to wait for the answer (default: $PROBE_TIMEOUT or 5)",
    )
    args = parser.parse_args(argv)
    healthy, message = check(args.service, os.environ.get("AMQP_URI", DEFAULT_AMQP_URI), args.timeout)
    print(message, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
