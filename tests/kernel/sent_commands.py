"""The database commands a step sends, seen by one pymongo command listener (registered once for the
test session; it records only while `sent` runs). Clients made after this module is imported are seen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pymongo import monitoring

from tests.conftest import UNIT_TIER

counted = pytest.mark.skipif(UNIT_TIER, reason="counts the commands sent to a real server")


class _Recorder(monitoring.CommandListener):
    names: list[str] | None = None  # None: not recording

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if _Recorder.names is not None:
            _Recorder.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


monitoring.register(_Recorder())


def sent(step: Callable[[], object]) -> list[str]:
    """The names of the commands `step` sends, in order."""
    _Recorder.names = []
    try:
        step()
        return list(_Recorder.names)
    finally:
        _Recorder.names = None
