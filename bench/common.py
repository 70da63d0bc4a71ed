"""What every benchmark shares: result rows, the table, throwaway databases and vhosts."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymongo
import requests

from tools.devstack import port_open, wait_until

MONGO_URI = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
RABBIT_API = os.environ.get("RABBIT_MANAGEMENT_URL", "http://127.0.0.1:15672/api")
GUEST = ("guest", "guest")


@dataclass
class Row:
    section: str
    measure: str
    figure: str
    baseline: str = ""
    note: str = ""


def table(rows: list[Row]) -> str:
    header = ("section", "measure", "figure", "baseline (same run)", "note")
    cells = [header, *[(r.section, r.measure, r.figure, r.baseline, r.note) for r in rows]]
    lines = ["| " + " | ".join(c) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(lines)


def progress(text: str) -> None:
    """A line on stderr while the benchmark seeds and measures (the table comes on stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefix() -> str:
    return f"bench{uuid.uuid4().hex[:6]}_"


@contextlib.contextmanager
def dropped_afterwards(db_prefix: str, mongo_uri: str = MONGO_URI) -> Iterator[None]:
    """Every database named with `db_prefix` is dropped when the block ends."""
    try:
        yield
    finally:
        client = pymongo.MongoClient(mongo_uri)
        for name in client.list_database_names():
            if name.startswith(db_prefix):
                client.drop_database(name)


@contextlib.contextmanager
def vhost() -> Iterator[str]:
    """A RabbitMQ vhost of the benchmark's own (management API), deleted afterwards."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    requests.put(f"{RABBIT_API}/vhosts/{name}", auth=GUEST, timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{name}/guest", auth=GUEST, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    try:
        yield name
    finally:
        requests.delete(f"{RABBIT_API}/vhosts/{name}", auth=GUEST, timeout=10)


def start_nx(stack, port: int) -> None:
    """An nx-27017 of the caller's own on `port` (data in the stack's var), started by `stack`."""
    nx = str(Path(sys.executable).parent / "nx-27017")
    data = stack.var / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    stack.start_process(
        "mongo",
        [
            nx,
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--pid-file",
            str(stack.var / "nx.pid"),
            "--log-file",
            str(stack.var / "nx.log"),
        ],
    )
    wait_until(lambda: port_open("127.0.0.1", port), 30, f"nx-27017 on :{port}")
