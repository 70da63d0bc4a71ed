"""Operator commands: `python -m kernel rebuild <service>`."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from kernel import db
from kernel.eventstore import EventStore


def rebuild(service: str) -> int:
    module = importlib.import_module(f"services.{service}.projections")
    db.connect(service)
    store = EventStore(service)
    started = time.perf_counter()
    total = 0
    for projection in module.PROJECTIONS:
        total += projection.rebuild(store)
    elapsed = time.perf_counter() - started
    print(f"rebuilt {service}: {total} events in {elapsed:.2f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel")
    sub = parser.add_subparsers(dest="command", required=True)
    rebuild_cmd = sub.add_parser("rebuild", help="drop and rebuild a service's read models from its events")
    rebuild_cmd.add_argument("service")
    args = parser.parse_args(argv)
    return rebuild(args.service)


if __name__ == "__main__":
    sys.exit(main())
