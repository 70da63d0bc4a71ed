"""Attachments of tickets: stored before the event that names them (no event, no files) and given
back, checked against their hash, only to the ticket's owner or staff."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from kernel.aggregate import execute
from kernel.errors import NotFound
from services.support import attachments as files
from services.support.app import Deps
from services.support.domain import Ticket, ticket_stream

log = logging.getLogger(__name__)


def stored_with(deps: Deps, prepared: list[files.Prepared], ticket_id: str, decide: Callable, meta: dict) -> None:
    """Store the checked files, then the event; no event, no files."""
    try:
        files.store(prepared)
        execute(deps.events, Ticket, ticket_stream(ticket_id), decide, meta)
    except Exception:
        files.remove([p.meta["attachment_id"] for p in prepared])
        raise


def download(deps: Deps, account_id: str | None, ticket_id: str, attachment_id: str,
             ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """{filename, content_type, size, data_base64} for the owner or staff (by the signed caller);
    NotFound otherwise."""
    staff = ((ctx or {}).get("actor") or {}).get("type") == "staff"
    if not isinstance(ticket_id, str) or not isinstance(attachment_id, str):
        raise NotFound("attachment")
    ticket = Ticket.load(deps.events, ticket_stream(ticket_id))
    meta = ticket.attachments.get(attachment_id)
    if not ticket.exists or meta is None or (not staff and (not account_id or ticket.account_id != account_id)):
        raise NotFound("attachment")
    data = files.read(attachment_id)
    if data is None or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        log.error("attachment %s of ticket %s is missing or damaged", attachment_id, ticket_id)
        raise NotFound("attachment")
    return {"filename": meta["filename"], "content_type": meta["content_type"], "size": len(data),
            "data_base64": base64.b64encode(data).decode("ascii")}  # fmt: skip
