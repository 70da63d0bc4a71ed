"""The customer's tickets: opening one (with a unique number and checked attachments), replying,
closing, the list and one ticket with its conversation (never the internal notes). Anything of
another account is NotFound."""

from __future__ import annotations

from typing import Any

import mongoengine as me

from kernel.aggregate import execute
from kernel.errors import NotFound, Unavailable
from kernel.events import new_id
from services.support import attachments as files
from services.support import operational as ops
from services.support.app import Deps, attachments, customer_meta, department_filter, page, require_id, status_filter
from services.support.domain import Ticket, check_message, check_open, ticket_stream
from services.support.projections import TicketEntry, TicketView

NUMBER_ATTEMPTS = 30


def open_ticket(deps: Deps, account_id: str, department: str, priority: str, subject: str, message: str,
                related: dict | None, attachment_list: list[dict] | None, ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """Open a ticket; the customer view of it (as `get`)."""
    require_id(account_id, "account_id")
    check_open(department, priority, subject, message, related)
    prepared = files.prepare(attachment_list)
    ticket_id = new_id()
    number = claim_number(ticket_id)
    metas = [p.meta for p in prepared]
    try:
        files.store(prepared)
        execute(deps.events, Ticket, ticket_stream(ticket_id),
                lambda t: t.open(account_id, number, department, priority, subject, message, related, metas),
                customer_meta(ctx, account_id))  # fmt: skip
    except Exception:
        files.remove([m["attachment_id"] for m in metas])
        ops.TicketNumber.objects(id=number, ticket_id=ticket_id).delete()
        raise
    return get(account_id, ticket_id)


def claim_number(ticket_id: str) -> str:
    for _ in range(NUMBER_ATTEMPTS):
        number = ops.random_number()
        try:
            ops.TicketNumber(id=number, ticket_id=ticket_id).save(force_insert=True)
        except me.NotUniqueError:
            continue
        return number
    raise Unavailable("ticket_number_unavailable")


def reply(deps: Deps, account_id: str, ticket_id: str, message: str, attachment_list: list[dict] | None,
          ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """The customer answers (a closed ticket is reopened); the customer view."""
    own_view(account_id, ticket_id)
    check_message(message)
    prepared = files.prepare(attachment_list)

    def decide(ticket: Ticket) -> list:
        require_owner(ticket, account_id)
        return ticket.customer_reply(message, [p.meta for p in prepared])

    attachments.stored_with(deps, prepared, ticket_id, decide, customer_meta(ctx, account_id))
    return get(account_id, ticket_id)


def close(deps: Deps, account_id: str, ticket_id: str, ctx: dict | None) -> dict[str, Any]:
    """Close (idempotent); the customer view."""
    own_view(account_id, ticket_id)

    def decide(ticket: Ticket) -> list:
        require_owner(ticket, account_id)
        return ticket.close("customer")

    execute(deps.events, Ticket, ticket_stream(ticket_id), decide, customer_meta(ctx, account_id))
    return get(account_id, ticket_id)


def list_page(account_id: str, status: str | None, page_number: int, per_page: int,
              department: str | None) -> dict[str, Any]:  # fmt: skip
    """{items: [summary], total, page, per_page, pages}; status: a status, "active" (not closed) or None (all)."""
    filters = {**status_filter(status, False), **department_filter(department)}
    query = TicketView.objects(account_id=require_id(account_id, "account_id"), **filters)
    return page(query.order_by("-updated_at"), page_number, per_page, lambda t: t.summary())


def get(account_id: str, ticket_id: str) -> dict[str, Any]:
    """The ticket and its conversation, never the internal notes."""
    view = own_view(account_id, ticket_id)
    entries = TicketEntry.objects(ticket_id=view.id, kind="message").order_by("seq")
    return {**view.summary(), "messages": [e.public() for e in entries]}


def own_view(account_id: str, ticket_id: str) -> TicketView:
    if not isinstance(account_id, str) or not account_id or not isinstance(ticket_id, str):
        raise NotFound("ticket")
    view = TicketView.objects(id=ticket_id, account_id=account_id).first()
    if not view:
        raise NotFound("ticket")
    return view


def require_owner(ticket: Ticket, account_id: str) -> None:
    if not ticket.exists or ticket.account_id != account_id:
        raise NotFound("ticket")
