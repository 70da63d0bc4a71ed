"""A real EventsApi on the support event store, with a dispatch that records
what would have gone to RabbitMQ instead of sending it."""

from __future__ import annotations

import base64
from typing import Any

from kernel.dependencies import EventsApi
from services.support.service import SupportService
from tests.fakes import RecordingDispatch, recording_events_api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(64)


def make_events() -> tuple[EventsApi, RecordingDispatch]:
    """EventsApi over the `support` alias (connect it first), indexes ensured."""
    dispatch = RecordingDispatch()
    return recording_events_api(SupportService, dispatch), dispatch


def attachment(filename: str, data: bytes, content_type: str = "application/octet-stream") -> dict[str, str]:
    """What the gateway passes for one uploaded file."""
    return {"filename": filename, "content_type": content_type, "data_base64": base64.b64encode(data).decode()}


def customer(account_id: str) -> dict[str, Any]:
    return {"actor": {"type": "account", "id": account_id}, "ip": "198.51.100.7", "correlation_id": "c-1"}


def staff(staff_id: str = "staff-1") -> dict[str, Any]:
    return {"actor": {"type": "staff", "id": staff_id}, "ip": "10.0.0.5", "correlation_id": "c-2"}


def dashboard_news(worker: Any, account_id: str, language: str = "pl") -> list[dict[str, Any]]:
    """The news a customer's dashboard shows: support's latest of each audience, picked by the gateway for
    the plans support says the customer holds."""
    from gateway.dashboard import news_of

    return news_of(worker.dashboard_news(language), worker.dashboard_summary(account_id)["plans"])
