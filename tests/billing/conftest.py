"""Billing fixtures: a fresh database, a worker with a real event store, a movable clock."""

from __future__ import annotations

import pytest

from tests.billing.helpers import billing_worker
from tests.fakes import RecordingDispatch


@pytest.fixture(autouse=True)
def no_webhook_delivery(monkeypatch):
    """Unit tests hand the sandbox webhook to handle_webhook themselves; nothing is posted."""
    monkeypatch.setenv("SANDBOX_WEBHOOK_URL", "")


@pytest.fixture
def published() -> RecordingDispatch:
    return RecordingDispatch()


@pytest.fixture
def billing(mongo_alias, published):
    mongo_alias("billing")
    service = billing_worker(published)
    service.seed_demo_catalog()
    return service


STAFF = {"actor": {"type": "staff", "id": "staff-1"}, "ip": "127.0.0.1"}


def customer(account_id: str) -> dict:
    return {"actor": {"type": "customer", "id": account_id}, "ip": "127.0.0.1"}
