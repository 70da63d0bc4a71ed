"""Fixtures for the support service tests: a fresh database and attachment
directory per test, the service as a nameko worker over a real event store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from nameko.testing.services import worker_factory

from services.support.service import SupportService
from tests.fakes import RecordingDispatch
from tests.support.helpers import make_events


@dataclass
class Support:
    worker: SupportService
    dispatch: RecordingDispatch
    files: Path

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.files.rglob("*") if p.is_file()) if self.files.exists() else []


@pytest.fixture
def support(mongo_alias, tmp_path, monkeypatch) -> Support:
    mongo_alias("support")
    files = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENTS_DIR", str(files))
    monkeypatch.delenv("ATTACHMENT_MAX_BYTES", raising=False)
    events, dispatch = make_events()
    return Support(worker_factory(SupportService, events=events), dispatch, files)
