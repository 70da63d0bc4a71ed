"""A clock the tests can move.

Production reads the system clock. When CLOCK_FILE is set (tests, demos), the
offset in seconds written in that file is added, so every process of the stack
moves together when a test advances time.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


def _offset_seconds() -> float:
    path = os.environ.get("CLOCK_FILE")
    if not path:
        return 0.0
    try:
        return float(Path(path).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0.0


def now() -> dt.datetime:
    """Naive UTC with millisecond precision (what MongoDB stores)."""
    moment = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=_offset_seconds())
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def advance(seconds: float) -> None:
    """Move the shared clock forward (only meaningful with CLOCK_FILE set)."""
    path = os.environ["CLOCK_FILE"]
    Path(path).write_text(str(_offset_seconds() + seconds))
