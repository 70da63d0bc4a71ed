"""Support: tickets and their attachments, the staff desk, news (seed sections 5, 8 and 9).

Customer RPCs take the account_id the gateway authenticated and answer
NotFound for anything that belongs to another account. Staff RPCs expect
ctx.actor = {type: "staff", id}: the gateway enforces the role, this service
refuses a staff command without a staff actor and records the actor in the
events' meta.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
from typing import Any

import mongoengine as me

from kernel import clock
from kernel.aggregate import execute
from kernel.caller import STAFF, SYSTEM, rpc
from kernel.contracts import BILLING
from kernel.contracts.billing import ServiceEvent
from kernel.errors import CommandError, Invalid, NotFound, Unavailable
from kernel.events import Event, command_meta, new_id
from kernel.service import EventSourcedService, consumes
from services.support import attachments as files
from services.support import operational as ops
from services.support import validation as v
from services.support.domain import News, Ticket, check_message, check_open, news_stream, ticket_stream
from services.support.projections import EVERYONE, PROJECTIONS, NewsView, TicketEntry, TicketView, iso

log = logging.getLogger(__name__)
NUMBER_ATTEMPTS = 30
DASHBOARD_ITEMS = 5


def _invalid(field: str, code: str) -> CommandError:
    return Invalid("invalid_input", {field: code})


def _require_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "required")
    return value


def _customer_meta(ctx: dict | None, account_id: str) -> dict[str, Any]:
    return command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account", "id": account_id})


def _staff_meta(ctx: dict | None) -> dict[str, Any]:
    """Meta of a staff command (the kernel admitted only a signed staff actor)."""
    return command_meta(ctx)


def _page(queryset: Any, page: Any, per_page: Any, render: Any, default: int = 20) -> dict[str, Any]:
    page, per_page = v.page_args(page, per_page, default)
    total = queryset.count()
    items = [render(doc) for doc in queryset.skip((page - 1) * per_page).limit(per_page)]
    return {"items": items, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, math.ceil(total / per_page))}  # fmt: skip


def _status_filter(status: Any, default_active: bool) -> dict[str, Any]:
    if status in (None, ""):
        return {"status__ne": "closed"} if default_active else {}
    if status == "all":
        return {}
    if status == v.ACTIVE:
        return {"status__ne": "closed"}
    if status in v.STATUSES:
        return {"status": status}
    raise _invalid("status", "invalid_status")


def _department_filter(department: Any) -> dict[str, str]:
    if department in (None, ""):
        return {}
    if department not in v.DEPARTMENTS:
        raise _invalid("department", "invalid_department")
    return {"department": department}


class SupportService(EventSourcedService):
    name = "support"
    projections = PROJECTIONS
    documents = list(ops.OPERATIONAL_DOCUMENTS)

    # --- tickets: customer side --------------------------------------------
    @rpc
    def open_ticket(self, account_id: str, department: str, priority: str, subject: str, message: str,
                    related: dict | None = None, attachments: list[dict] | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """Open a ticket; the customer view of it (as get_ticket)."""
        _require_id(account_id, "account_id")
        check_open(department, priority, subject, message, related)
        prepared = files.prepare(attachments)
        ticket_id = new_id()
        number = self._claim_number(ticket_id)
        metas = [p.meta for p in prepared]
        try:
            files.store(prepared)
            execute(self.events, Ticket, ticket_stream(ticket_id),
                    lambda t: t.open(account_id, number, department, priority, subject, message, related, metas),
                    _customer_meta(ctx, account_id))  # fmt: skip
        except Exception:
            files.remove([m["attachment_id"] for m in metas])
            ops.TicketNumber.objects(id=number, ticket_id=ticket_id).delete()
            raise
        return self.get_ticket(account_id, ticket_id)

    def _claim_number(self, ticket_id: str) -> str:
        for _ in range(NUMBER_ATTEMPTS):
            number = ops.random_number()
            try:
                ops.TicketNumber(id=number, ticket_id=ticket_id).save(force_insert=True)
            except me.NotUniqueError:
                continue
            return number
        raise Unavailable("ticket_number_unavailable")

    @rpc
    def reply(self, account_id: str, ticket_id: str, message: str, attachments: list[dict] | None = None,
              ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """The customer answers (a closed ticket is reopened); the customer view."""
        self._own_view(account_id, ticket_id)
        check_message(message)
        prepared = files.prepare(attachments)

        def decide(ticket: Ticket) -> list:
            self._require_owner(ticket, account_id)
            return ticket.customer_reply(message, [p.meta for p in prepared])

        self._with_files(prepared, ticket_id, decide, _customer_meta(ctx, account_id))
        return self.get_ticket(account_id, ticket_id)

    @rpc
    def close_ticket(self, account_id: str, ticket_id: str, ctx: dict | None = None) -> dict[str, Any]:
        """Close (idempotent); the customer view."""
        self._own_view(account_id, ticket_id)

        def decide(ticket: Ticket) -> list:
            self._require_owner(ticket, account_id)
            return ticket.close("customer")

        execute(self.events, Ticket, ticket_stream(ticket_id), decide, _customer_meta(ctx, account_id))
        return self.get_ticket(account_id, ticket_id)

    @rpc
    def list_tickets(self, account_id: str, status: str | None = None, page: int = 1,
                     per_page: int = 20, department: str | None = None) -> dict[str, Any]:  # fmt: skip
        """{items: [summary], total, page, per_page, pages}; status: a status, "active" (not closed) or None (all)."""
        filters = {**_status_filter(status, False), **_department_filter(department)}
        query = TicketView.objects(account_id=_require_id(account_id, "account_id"), **filters)
        return _page(query.order_by("-updated_at"), page, per_page, lambda t: t.summary())

    @rpc
    def get_ticket(self, account_id: str, ticket_id: str) -> dict[str, Any]:
        """The ticket and its conversation, never the internal notes."""
        view = self._own_view(account_id, ticket_id)
        entries = TicketEntry.objects(ticket_id=view.id, kind="message").order_by("seq")
        return {**view.summary(), "messages": [e.public() for e in entries]}

    @rpc
    def get_attachment(self, account_id: str | None, ticket_id: str, attachment_id: str,
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """{filename, content_type, size, data_base64} for the owner or staff (by the signed caller); NotFound
        otherwise."""
        staff = ((ctx or {}).get("actor") or {}).get("type") == "staff"
        if not isinstance(ticket_id, str) or not isinstance(attachment_id, str):
            raise NotFound("attachment")
        ticket = Ticket.load(self.events, ticket_stream(ticket_id))
        meta = ticket.attachments.get(attachment_id)
        if not ticket.exists or meta is None or (not staff and (not account_id or ticket.account_id != account_id)):
            raise NotFound("attachment")
        data = files.read(attachment_id)
        if data is None or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            log.error("attachment %s of ticket %s is missing or damaged", attachment_id, ticket_id)
            raise NotFound("attachment")
        return {"filename": meta["filename"], "content_type": meta["content_type"], "size": len(data),
                "data_base64": base64.b64encode(data).decode("ascii")}  # fmt: skip

    @rpc
    def dashboard_summary(self, account_id: str, language: str = "pl") -> dict[str, Any]:
        """Sections 5, 8 and 9: the tickets tile, recent tickets, the latest relevant news."""
        mine = TicketView.objects(account_id=_require_id(account_id, "account_id"))
        recent = mine.order_by("-updated_at").limit(DASHBOARD_ITEMS)
        news = self._visible_news(language, account_id).order_by("-published_at").limit(DASHBOARD_ITEMS)
        return {
            "tiles": {"tickets": TicketView.objects(account_id=account_id, status__ne="closed").count()},
            "recent_tickets": [
                {
                    "ticket_id": t.id,
                    "number": t.number,
                    "subject": t.subject,
                    "status": t.status,
                    "updated_at": iso(t.updated_at),
                }
                for t in recent
            ],
            "news": [n.public() for n in news],
        }

    def _own_view(self, account_id: str, ticket_id: str) -> TicketView:
        if not isinstance(account_id, str) or not account_id or not isinstance(ticket_id, str):
            raise NotFound("ticket")
        view = TicketView.objects(id=ticket_id, account_id=account_id).first()
        if not view:
            raise NotFound("ticket")
        return view

    @staticmethod
    def _require_owner(ticket: Ticket, account_id: str) -> None:
        if not ticket.exists or ticket.account_id != account_id:
            raise NotFound("ticket")

    def _with_files(self, prepared: list[files.Prepared], ticket_id: str, decide: Any, meta: dict) -> None:
        """Store the checked files, then the event; no event, no files."""
        try:
            files.store(prepared)
            execute(self.events, Ticket, ticket_stream(ticket_id), decide, meta)
        except Exception:
            files.remove([p.meta["attachment_id"] for p in prepared])
            raise

    # --- staff desk ---------------------------------------------------------
    @rpc(actors=STAFF)
    def staff_queue(self, department: str | None = None, status: str | None = None, page: int = 1,
                    per_page: int = 20) -> dict[str, Any]:  # fmt: skip
        """Most urgent first, then longest waiting. status None = not closed, "all" = every ticket."""
        filters = {**_status_filter(status, True), **_department_filter(department)}
        query = TicketView.objects(**filters).order_by("-priority_rank", "updated_at")
        return _page(query, page, per_page, lambda t: t.summary(staff=True))

    @rpc(actors=STAFF)
    def staff_get_ticket(self, ticket_id: str) -> dict[str, Any]:
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

    @rpc(actors=STAFF)
    def staff_reply(self, ticket_id: str, message: str, attachments: list[dict] | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        meta = _staff_meta(ctx)
        self.staff_get_ticket(ticket_id)
        check_message(message)
        prepared = files.prepare(attachments)
        self._with_files(prepared, ticket_id, lambda t: t.staff_reply(message, [p.meta for p in prepared]), meta)
        return self.staff_get_ticket(ticket_id)

    @rpc(actors=STAFF)
    def staff_set_status(self, ticket_id: str, status: str, ctx: dict | None = None) -> dict[str, Any]:
        return self._staff_command(ticket_id, lambda t: t.set_status(status), ctx)

    @rpc(actors=STAFF)
    def staff_set_priority(self, ticket_id: str, priority: str, ctx: dict | None = None) -> dict[str, Any]:
        return self._staff_command(ticket_id, lambda t: t.set_priority(priority), ctx)

    @rpc(actors=STAFF)
    def staff_add_note(self, ticket_id: str, text: str, ctx: dict | None = None) -> dict[str, Any]:
        return self._staff_command(ticket_id, lambda t: t.add_note(text), ctx)

    def _staff_command(self, ticket_id: str, decide: Any, ctx: dict | None) -> dict[str, Any]:
        meta = _staff_meta(ctx)
        self.staff_get_ticket(ticket_id)
        execute(self.events, Ticket, ticket_stream(ticket_id), decide, meta)
        return self.staff_get_ticket(ticket_id)

    # --- news ---------------------------------------------------------------
    @rpc(actors=STAFF)
    def publish_news(self, title: str, body: str, language: str, concerns_plans: list[str] | None = None,
                     published_at: str | None = None, ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """Publish (published_at in the future = scheduled); the staff view of the item."""
        meta = _staff_meta(ctx)
        news_id = new_id()
        execute(self.events, News, news_stream(news_id),
                lambda n: n.publish(title, body, language, concerns_plans, published_at), meta)  # fmt: skip
        return self._news_view(news_id).public(staff=True)

    @rpc(actors=STAFF)
    def update_news(self, news_id: str, title: str | None = None, body: str | None = None,
                    language: str | None = None, concerns_plans: list[str] | None = None,
                    published_at: str | None = None, ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """Change the given fields (None = unchanged); the staff view."""
        meta = _staff_meta(ctx)
        self._news_view(news_id)
        changes = {"title": title, "body": body, "language": language, "concerns_plans": concerns_plans,
                   "published_at": published_at}  # fmt: skip
        execute(self.events, News, news_stream(news_id), lambda n: n.update(changes), meta)
        return self._news_view(news_id).public(staff=True)

    @rpc(actors=STAFF)
    def withdraw_news(self, news_id: str, ctx: dict | None = None) -> dict[str, Any]:
        meta = _staff_meta(ctx)
        self._news_view(news_id)
        execute(self.events, News, news_stream(news_id), lambda n: n.withdraw(), meta)
        return self._news_view(news_id).public(staff=True)

    @rpc
    def list_news(self, language: str = "pl", page: int = 1, per_page: int = 10,
                  account_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Every published item in a language, newest first. Each has `relevant`: true when it concerns
        a plan the customer (account_id) holds; news for everybody and news without an account_id: false."""
        held = set(ops.plans_of(account_id)) if account_id else set()
        query = self._visible_news(language, None).order_by("-published_at")
        return _page(query, page, per_page, lambda n: {**n.public(), "relevant": bool(held & set(n.concerns_plans))},
                     default=10)  # fmt: skip

    @rpc
    def get_news(self, news_id: str) -> dict[str, Any]:
        """One published item; NotFound when withdrawn or not yet published."""
        view = self._news_view(news_id)
        if view.status != "published" or view.published_at > clock.now():
            raise NotFound("news")
        return view.public()

    @rpc(actors=STAFF)
    def staff_list_news(self, language: str | None = None, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """Every item, withdrawn and scheduled included, newest first."""
        query = NewsView.objects(**({"language": language} if language else {})).order_by("-published_at")
        return _page(query, page, per_page, lambda n: n.public(staff=True))

    @rpc(actors=STAFF)
    def staff_get_news(self, news_id: str) -> dict[str, Any]:
        """One item as staff see it (withdrawn and scheduled too)."""
        return self._news_view(news_id).public(staff=True)

    def _news_view(self, news_id: str) -> NewsView:
        view = NewsView.objects(id=news_id).first() if isinstance(news_id, str) else None
        if not view:
            raise NotFound("news")
        return view

    def _visible_news(self, language: str, account_id: str | None) -> Any:
        """Published items in a language; with account_id only those for everybody or a plan the customer holds."""
        language = language if language in v.LANGUAGES else "pl"
        filters: dict[str, Any] = {"language": language, "status": "published", "published_at__lte": clock.now()}
        if account_id:
            filters["audience__in"] = [EVERYONE, *ops.plans_of(account_id)]
        return NewsView.objects(**filters)

    @rpc(actors=SYSTEM)
    def accounts_with_plans(self, plans: list[str]) -> list[str]:
        """The customers holding an active service on any of `plans` (who a news item concerns)."""
        clean, code = v.check_plans(plans)
        if code:
            raise _invalid("concerns_plans", code)
        return sorted({s.account_id for s in ops.CustomerService.objects(plan__in=clean).only("account_id")})

    # --- what billing tells us: the plans a customer holds ------------------
    @consumes(BILLING, "service_activated")
    def on_service_activated(self, event: Event) -> None:
        self._hold_plan(event)

    @consumes(BILLING, "service_unsuspended")
    def on_service_unsuspended(self, event: Event) -> None:
        self._hold_plan(event)

    @consumes(BILLING, "service_terminated")
    def on_service_terminated(self, event: Event) -> None:
        ops.CustomerService.objects(id=event.payload.service_id).delete()

    @consumes(BILLING, "service_cancelled")
    def on_service_cancelled(self, event: Event) -> None:
        ops.CustomerService.objects(id=event.payload.service_id).delete()

    @staticmethod
    def _hold_plan(event: Event) -> None:
        p: ServiceEvent = event.payload
        if p.service_id and p.account_id and p.plan:
            ops.CustomerService(id=p.service_id, account_id=p.account_id, plan=p.plan).save()
