"""The staff desk: the queue (most urgent first, then longest waiting), a ticket with the whole
conversation and the internal notes, answers, status, priority and notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.aggregate import execute
from kernel.errors import NotFound
from services.support import attachments as files
from services.support.app import Deps, attachments, department_filter, page, staff_meta, status_filter
from services.support.domain import Ticket, check_message, ticket_stream
from services.support.projections import TicketEntry, TicketView


def queue(department: str | None, status: str | None, page_number: int, per_page: int) -> dict[str, Any]:
    """Most urgent first, then longest waiting. status None = not closed, "all" = every ticket."""
    filters = {**status_filter(status, True), **department_filter(department)}
    query = TicketView.objects(**filters).order_by("-priority_rank", "updated_at")
    return page(query, page_number, per_page, lambda t: t.summary(staff=True))


def get(ticket_id: str) -> dict[str, Any]:
    """The ticket with the whole conversation (authors included) and the internal notes."""
    view = TicketView.objects(id=ticket_id).first() if isinstance(ticket_id, str) else None
    if not view:
        raise NotFound("ticket")
    entries = list(TicketEntry.objects(ticket_id=view.id).order_by("seq"))
    return {
        **view.summary(staff=True),
        "messages": [e.public(staff=True) for e in entries if e.kind == "message"],
        "notes": [e.note() for e in entries if e.kind == "note"],
    }


def reply(deps: Deps, ticket_id: str, message: str, attachment_list: list[dict] | None,
          ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    meta = staff_meta(ctx)
    get(ticket_id)
    check_message(message)
    prepared = files.prepare(attachment_list)
    attachments.stored_with(deps, prepared, ticket_id, lambda t: t.staff_reply(message, [p.meta for p in prepared]),
                            meta)  # fmt: skip
    return get(ticket_id)


def command(deps: Deps, ticket_id: str, decide: Callable[[Ticket], list], ctx: dict | None) -> dict[str, Any]:
    """A staff decision on the ticket (status, priority, a note); the staff view."""
    meta = staff_meta(ctx)
    get(ticket_id)
    execute(deps.events, Ticket, ticket_stream(ticket_id), decide, meta)
    return get(ticket_id)
