"""Concurrent live streams: STREAMS held at once by ONE live process (gateway/live_asgi.py), the memory each
costs (the worker's resident size before and after, divided), and how fast a change of the account reaches
every stream. The client is asyncio over plain sockets, so the bench holds them all cheaply too."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import requests

from bench.common import Row, median, percentile, progress
from tools.devstack import Stack

STREAMS = 1000
PHONE = "+48 600 900 {:03d}"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _worker_pid(master: int) -> int:
    children = [int(c) for t in Path(f"/proc/{master}/task").iterdir()
                for c in (t / "children").read_text().split()]  # fmt: skip
    return children[0]


async def _open(port: int, cookie: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /live/events HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        writer.close()
        return None
    await asyncio.wait_for(reader.readuntil(b"event: ready"), 30)
    return reader, writer


async def _until_change(reader: asyncio.StreamReader, started: float) -> float:
    await asyncio.wait_for(reader.readuntil(b"profile_updated"), 30)
    return time.monotonic() - started


async def _measure(stack: Stack, cookie: str, token: str, streams: int) -> dict:
    worker = _worker_pid(stack.pid("gateway-live"))
    before = _rss_kib(worker)
    opened = await asyncio.gather(*(_open(stack.live_port, cookie) for _ in range(streams)), return_exceptions=True)
    held = [o for o in opened if isinstance(o, tuple)]
    after = _rss_kib(worker)
    started = time.monotonic()
    changed = await asyncio.to_thread(requests.patch, f"{stack.gateway_url}/api/v1/profile", timeout=30,
                                      headers={"Authorization": f"Bearer {token}"}, json={"phone": PHONE.format(7)})  # fmt: skip
    changed.raise_for_status()
    delays = await asyncio.gather(*(_until_change(r, started) for r, _ in held), return_exceptions=True)
    for _, writer in held:
        writer.close()
    got = [d for d in delays if isinstance(d, float)]
    return {
        "held": len(held),
        "refused": streams - len(held),
        "kib": (after - before) / max(1, len(held)),
        "rss_mib": after / 1024,
        "got": got,
    }


def live_rows(stack: Stack, account, cookie: str, streams: int = STREAMS) -> list[Row]:
    """`cookie`: the account's page session (`panel_session=...`)."""
    progress(f"live: opening {streams} streams on one live process")
    m = asyncio.run(_measure(stack, cookie, account.token, streams))
    within = sum(1 for d in m["got"] if d <= 1.0)
    return [Row(
        "live streams", f"{streams} opened at once on one live process (asyncio worker)",
        f"{m['held']} held, {m['refused']} refused; {len(m['got'])} got the account's change, {within} within 1 s "
        f"(p50/p95/max {median(m['got']) * 1000:.0f}/{percentile(m['got'], 95) * 1000:.0f}/"
        f"{max(m['got'], default=float('nan')) * 1000:.0f} ms)",
        "gthread gateway: LIVE_MAX_STREAMS = 4 per process (half of 8 threads), the rest 204 busy",
        f"memory {m['kib']:.0f} KiB per stream (worker RSS {m['rss_mib']:.0f} MiB with all open)",
    )]  # fmt: skip
