"""Dashboard under load: the heavy account's page served by the stack under gunicorn, measured with wrk.

The page comes from the gateway's dashboard view (gateway/readmodel) once the view process has applied
every event of the seeding. Baseline: the same gunicorn config and gateway app rendering the same template
from one document read from the same database (bench/template_app.py); and, as before, a pre-rendered page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pymongo
import requests

from bench import heavy
from bench.common import GUEST, RABBIT_API, Row, free_port, progress, start_nx, vhost
from bench.live import live_rows
from tools.devstack import ROOT, Stack, port_open, wait_until

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LEVELS = (1, 10, 50)
# What a dashboard section shows when its service did not answer in time (counted as an error).
UNAVAILABLE = 'class="empty warn" role="status"'


def ensure_wrk() -> str:
    if not shutil.which("wrk") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                       "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is needed for the dashboard benchmark: apt-get install -y wrk")
    return wrk


def wrk(url: str, connections: int, seconds: int, cookie: str | None = None) -> dict[str, float]:
    argv = [ensure_wrk(), "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", "10s", "-s", str(ROOT / "bench" / "wrk_report.lua"), url]  # fmt: skip
    if cookie:
        argv[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    n, duration, connect, read, write, status, timeout, p50, p95, p99, degraded = (int(x) for x in line.split()[1:])
    return {"rps": n / (duration / 1e6), "p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000,
            "errors": connect + read + write + status + timeout + degraded, "requests": n}  # fmt: skip


def login_cookie(base: str, email: str, password: str) -> tuple[str, str]:
    """Log in through the page form; returns the session cookie and the dashboard HTML."""
    http = requests.Session()
    token = CSRF_RE.search(http.get(f"{base}/login", timeout=30).text).group(1)
    http.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token}, timeout=30)
    page = http.get(f"{base}/", timeout=30, allow_redirects=False)
    if page.status_code != 200:
        raise RuntimeError(f"dashboard page answered {page.status_code}")
    return f"panel_session={http.cookies['panel_session']}", page.text


@contextmanager
def heavy_stack():
    """The whole stack on free ports with its own nx-27017, vhost and var, and the heavy account in it."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, vhost() as name:
        mongo_port = free_port()
        stack = Stack(var=Path(tmp), gateway_port=free_port(), smtp_port=free_port(), mongo_port=mongo_port)
        stack.env = {"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{name}", "LOG_LEVEL": "WARNING",
                     "MONGO_URI": f"mongodb://127.0.0.1:{mongo_port}/", "DB_PREFIX": "bench_",
                     "SECRET_KEY": uuid.uuid4().hex,
                     # not the local web server for hosting accounts: nothing here measures it
                     "HOSTING_AGENT_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
        try:
            start_nx(stack, mongo_port)
            stack.up(seed_demo=False)
            yield stack, heavy.seed(stack)
        finally:
            stack.stop_process("baseline-static_app")
            stack.stop_process("baseline-template_app")
            stack.stop_process("gateway-fanout")
            stack.down()


def wait_for_view(stack: Stack, account) -> None:
    """Until the view process has applied every event so far and the heavy account's dashboard comes from it."""
    vhost_name = stack.env["AMQP_URI"].rsplit("/", 1)[1]
    queue_url = f"{RABBIT_API}/queues/{vhost_name}/gateway-view"

    def drained() -> bool:
        queue = requests.get(queue_url, auth=GUEST, timeout=10).json()
        d = requests.get(f"{stack.gateway_url}/api/v1/dashboard", headers={"Authorization": f"Bearer {account.token}"},
                         timeout=30).json()  # fmt: skip
        return queue.get("messages", 1) == 0 and d.get("served_from") == "view"

    wait_until(drained, 600, "the gateway's view to apply the seeding's events", interval=1)


def start_baseline(stack: Stack, account, module: str) -> int:
    """The same gunicorn config serving `module`'s app; returns its port."""
    port = free_port()
    gunicorn = str(Path(os.sys.executable).parent / "gunicorn")
    stack.start_process(f"baseline-{module}", [gunicorn, "-c", str(ROOT / "gateway" / "gunicorn.conf.py"),
                                               "--bind", f"127.0.0.1:{port}", f"bench.{module}:app"])  # fmt: skip
    wait_until(lambda: port_open("127.0.0.1", port), 30, f"the baseline gunicorn ({module})")
    return port


def start_fanout_gateway(stack: Stack) -> int:
    """A second gateway like the first but with DASHBOARD_VIEW=off: every page asks the four services (before)."""
    port = free_port()
    gunicorn = str(Path(os.sys.executable).parent / "gunicorn")
    env = {**stack._broker_env(stack.broker_uris, "gateway"), "DASHBOARD_VIEW": "off"}
    stack.start_process("gateway-fanout", env=env, argv=[gunicorn, "-c", str(ROOT / "gateway" / "gunicorn.conf.py"),
                                                         "--bind", f"127.0.0.1:{port}", "gateway.wsgi:app"])  # fmt: skip
    wait_until(lambda: port_open("127.0.0.1", port), 30, "the fan-out gateway")
    return port


def store_baseline_document(stack: Stack, account) -> None:
    """The page's `d` (as the API gives it) and the account (as the session view holds it), in one document."""
    client = pymongo.MongoClient(stack.env["MONGO_URI"])
    d = requests.get(f"{stack.gateway_url}/api/v1/dashboard", headers={"Authorization": f"Bearer {account.token}"},
                     timeout=30).json()  # fmt: skip
    session = client[f"{stack.env['DB_PREFIX']}gateway"]["sessions"].find_one({"account_id": account.account_id})
    doc = {"_id": "page", "d": d, "account": session["account"]}
    client[f"{stack.env['DB_PREFIX']}bench"]["bench_baseline"].replace_one({"_id": "page"}, doc, upsert=True)
    stack.env["BENCH_BASELINE_DB"] = f"{stack.env['DB_PREFIX']}bench"


def run(seconds: int = 10, levels: tuple[int, ...] = LEVELS) -> list[Row]:
    ensure_wrk()
    with heavy_stack() as (stack, account):
        progress("dashboard: waiting for the gateway's view to catch up with the seeding")
        wait_for_view(stack, account)
        cookie, html = login_cookie(stack.gateway_url, account.email, heavy.PASSWORD)
        if UNAVAILABLE in html:
            raise RuntimeError("the dashboard rendered with a section unavailable before any load")
        page = stack.var / "dashboard.html"
        page.write_bytes(html.encode())
        stack.env["BENCH_PAGE"] = str(page)
        store_baseline_document(stack, account)
        static_port = start_baseline(stack, account, "static_app")
        template_port = start_baseline(stack, account, "template_app")
        fanout_port = start_fanout_gateway(stack)
        seeded = ", ".join(f"{v} {k}" for k, v in account.counts.items())
        rows = []
        for connections in levels:
            progress(
                f"dashboard: {connections} clients, {seconds} s each: the view, the fan-out, one document + template, static"
            )
            dash = wrk(f"{stack.gateway_url}/", connections, seconds, cookie)
            before = wrk(f"http://127.0.0.1:{fanout_port}/", connections, seconds, cookie)
            base = wrk(f"http://127.0.0.1:{template_port}/bench-baseline", connections, seconds, cookie)
            static = wrk(f"http://127.0.0.1:{static_port}/", connections, seconds)
            rows.append(Row(
                "dashboard", f"{connections} clients, {seconds} s (page {len(html) // 1024} KiB)", _figure(dash),
                f"one document + template: {_figure(base)}; pre-rendered: {static['rps']:.0f} req/s",
                (seeded + "; " if connections == levels[0] else "") + f"{dash['rps'] / base['rps']:.0%} of the baseline "
                f"rate; before (the RPC fan-out, same run): {_figure(before)}",
            ))  # fmt: skip
        rows += live_rows(stack, account, cookie)
        return rows


def _figure(result: dict[str, float]) -> str:
    return (f"{result['rps']:.0f} req/s, p50/p95/p99 {result['p50']:.1f}/{result['p95']:.1f}/{result['p99']:.1f} ms, "
            f"{result['errors']} errors")  # fmt: skip
