"""Dashboard under load: the heavy account's page served by the stack under gunicorn, measured with wrk.

Baseline: the same gunicorn config serving a pre-rendered page of the same size.
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

import requests

from bench import heavy
from bench.common import Row, free_port, start_nx, vhost
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
                     "SECRET_KEY": uuid.uuid4().hex}  # fmt: skip
        try:
            start_nx(stack, mongo_port)
            stack.up(seed_demo=False)
            yield stack, heavy.seed(stack)
        finally:
            stack.stop_process("baseline")
            stack.down()


def run(seconds: int = 10, levels: tuple[int, ...] = LEVELS) -> list[Row]:
    ensure_wrk()
    with heavy_stack() as (stack, account):
        cookie, html = login_cookie(stack.gateway_url, account.email, heavy.PASSWORD)
        if UNAVAILABLE in html:
            raise RuntimeError("the dashboard rendered with a section unavailable before any load")
        page = stack.var / "dashboard.html"
        page.write_bytes(html.encode())
        baseline_port = free_port()
        stack.env["BENCH_PAGE"] = str(page)
        gunicorn = str(Path(os.sys.executable).parent / "gunicorn")
        stack.start_process("baseline", [gunicorn, "-c", str(ROOT / "gateway" / "gunicorn.conf.py"),
                                         "--bind", f"127.0.0.1:{baseline_port}", "bench.static_app:app"])  # fmt: skip
        wait_until(lambda: port_open("127.0.0.1", baseline_port), 30, "the baseline gunicorn")
        seeded = ", ".join(f"{v} {k}" for k, v in account.counts.items())
        rows = []
        for connections in levels:
            dash = wrk(f"{stack.gateway_url}/", connections, seconds, cookie)
            base = wrk(f"http://127.0.0.1:{baseline_port}/", connections, seconds)
            rows.append(Row(
                "dashboard", f"{connections} clients, {seconds} s (page {len(html) // 1024} KiB)",
                f"{dash['rps']:.0f} req/s, p50/p95/p99 {dash['p50']:.0f}/{dash['p95']:.0f}/{dash['p99']:.0f} ms, "
                f"{dash['errors']} errors",
                f"{base['rps']:.0f} req/s, p50/p95/p99 {base['p50']:.1f}/{base['p95']:.1f}/{base['p99']:.1f} ms, "
                f"{base['errors']} errors",
                seeded if connections == levels[0] else "",
            ))  # fmt: skip
        return rows
