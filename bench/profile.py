"""Where a dashboard request spends its time: `python -m bench.profile`.

Starts the heavy stack (as `make bench` does), times each RPC the dashboard
fans out to, then profiles with pyinstrument the gateway rendering the page
in-process and billing's dashboard_summary in-process, on the same data.
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import time

from pyinstrument import Profiler

from bench import dashboard, heavy
from kernel import settings
from kernel.caller import SignedClusterRpcProxy


def _time(fn, repeat: int = 20) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rpc_times(stack, account: heavy.Heavy) -> dict[str, float]:
    config = {"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}
    with SignedClusterRpcProxy(config, timeout=30) as rpc:
        calls = {
            "accounts.authenticate": lambda: rpc.accounts.authenticate(account.token),
            "accounts.list_contacts": lambda: rpc.accounts.list_contacts(account.account_id),
            "billing.dashboard_summary": lambda: rpc.billing.dashboard_summary(account.account_id),
            "support.dashboard_summary": lambda: rpc.support.dashboard_summary(account.account_id),
            "domains.dashboard_summary": lambda: rpc.domains.dashboard_summary(account.account_id),
            "accounts.health (an empty RPC)": lambda: rpc.accounts.health(),
        }
        times = {}
        for name, call in calls.items():
            try:
                times[name] = _time(call)
            except Exception as exc:  # e.g. a service without that method yet
                print(f"{name}: {type(exc).__name__}")
        return times


def profile_gateway(stack, cookie: str, repeat: int = 20) -> str:
    os.environ.update(stack.environment())
    importlib.reload(settings)  # read from the environment at import, before the stack's was set
    from gateway.app import create_app

    client = create_app().test_client()
    client.set_cookie("panel_session", cookie.split("=", 1)[1])
    assert client.get("/").status_code == 200
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(repeat):
            client.get("/")
    return profiler.output_text(unicode=True, color=False, show_all=False)


def profile_billing_summary(stack, account: heavy.Heavy, repeat: int = 20) -> str:
    from nameko.testing.services import worker_factory

    from kernel import db
    from services.billing.service import BillingService

    db.connect("billing", stack.env["MONGO_URI"], f"{stack.env['DB_PREFIX']}billing")
    billing = worker_factory(BillingService)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(repeat):
            billing.dashboard_summary(account.account_id)
    return profiler.output_text(unicode=True, color=False, show_all=False)


def main() -> int:
    with dashboard.heavy_stack() as (stack, account):
        cookie, _ = dashboard.login_cookie(stack.gateway_url, account.email, heavy.PASSWORD)
        print("median time of each call (ms), over RPC from outside:")
        for name, ms in rpc_times(stack, account).items():
            print(f"  {name:35} {ms:8.1f}")
        print("\n=== gateway: GET / in-process (pyinstrument) ===")
        print(profile_gateway(stack, cookie))
        print("\n=== billing.dashboard_summary in-process (pyinstrument) ===")
        print(profile_billing_summary(stack, account))
    return 0


if __name__ == "__main__":
    sys.exit(main())
