"""Dates as the services exchange them: naive UTC datetimes written in ISO 8601."""

from __future__ import annotations

import datetime as dt


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def parse(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value.rstrip("Z"))
