"""`make bench` / `python -m bench`: every figure with its baseline, measured in the same run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

from bench import common


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    mem = next((int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal")), 0)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem / 1024 / 1024:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average at the end: {load}")  # fmt: skip


def _shown(rows: list[common.Row]) -> list[common.Row]:
    """Print a section's rows as soon as it is measured (the whole table comes at the end)."""
    print(common.table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=("dashboard", "pipeline", "eventstore"), action="append")
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per concurrency level")
    parser.add_argument("--events", type=int, default=2000, help="commands through the event pipeline")
    parser.add_argument("--pipeline-rate", type=float, default=100, help="commands a second in the paced pipeline run")
    parser.add_argument("--aggregate-events", type=int, default=10_000)
    parser.add_argument("--rebuild-events", type=int, default=100_000)
    args = parser.parse_args(argv)
    chosen = args.only or ["dashboard", "pipeline", "eventstore"]
    started = time.monotonic()
    rows: list[common.Row] = []
    if "dashboard" in chosen:
        from bench import dashboard

        rows += _shown(dashboard.run(args.seconds))
    if "pipeline" in chosen:
        from bench import pipeline

        rows += _shown(pipeline.run(args.events, rate=args.pipeline_rate))
    if "eventstore" in chosen:
        from bench import eventstore

        rows += _shown(eventstore.run(args.aggregate_events, args.rebuild_events))
    print(f"\n{common.table(rows)}\n")
    print(f"Machine: {machine()}")
    print(f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
