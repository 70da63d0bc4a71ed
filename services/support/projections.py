"""Support read models, fed by the ticket, news, knowledge-base and held-plan events.

The conversation is one document per message or internal note (TicketEntry)
rather than a growing array in the ticket: entries are inserted by id, so a
replayed event rewrites the same document, and customer views simply filter
out kind "note".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection
from services.support import kb_search
from services.support import validation as v

ALIAS = "support"
# The audience marker of news that concerns everybody (no plans given).
EVERYONE = "*"


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def public_attachment(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in ("attachment_id", "filename", "content_type", "size")}


class TicketView(me.Document):
    id = me.StringField(primary_key=True)
    number = me.StringField(required=True)
    account_id = me.StringField(required=True)
    department = me.StringField(required=True)
    priority = me.StringField(required=True)
    priority_rank = me.IntField(default=0)
    subject = me.StringField(required=True)
    status = me.StringField(required=True)
    related = me.DictField(null=True)
    last_reply_by = me.StringField()
    created_at = me.DateTimeField()
    updated_at = me.DateTimeField()
    meta = {
        "db_alias": ALIAS,
        "collection": "tickets",
        "indexes": [
            ("account_id", "-updated_at"),
            ("account_id", "status"),
            ("status", "-priority_rank", "updated_at"),
            ("department", "status"),
            "number",
        ],
        "auto_create_index": False,
    }

    def summary(self, staff: bool = False) -> dict[str, Any]:
        out = {
            "ticket_id": self.id,
            "number": self.number,
            "subject": self.subject,
            "department": self.department,
            "priority": self.priority,
            "status": self.status,
            "related": dict(self.related) if self.related else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if staff:
            out.update(account_id=self.account_id, last_reply_by=self.last_reply_by)
        return out


class TicketEntry(me.Document):
    """One message of the conversation (kind "message") or an internal note (kind "note")."""

    id = me.StringField(primary_key=True)
    ticket_id = me.StringField(required=True)
    kind = me.StringField(required=True, choices=("message", "note"))
    seq = me.IntField(required=True)  # the event's version: conversation order
    by = me.StringField(required=True)  # customer | staff
    author = me.DictField()
    text = me.StringField(required=True)
    attachments = me.ListField(me.DictField())
    created_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "ticket_entries", "indexes": [("ticket_id", "seq")],
            "auto_create_index": False}  # fmt: skip

    def public(self, staff: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": self.id,
            "by": self.by,
            "text": self.text,
            "attachments": [public_attachment(a) for a in self.attachments or []],
            "created_at": iso(self.created_at),
        }
        if staff:
            out["author"] = dict(self.author or {})
        return out

    def note(self) -> dict[str, Any]:
        return {
            "note_id": self.id,
            "text": self.text,
            "author": dict(self.author or {}),
            "created_at": iso(self.created_at),
        }


class NewsView(me.Document):
    id = me.StringField(primary_key=True)
    title = me.StringField(required=True)
    body = me.StringField(required=True)
    body_html = me.StringField(required=True)
    language = me.StringField(required=True)
    concerns_plans = me.ListField(me.StringField())
    # concerns_plans, or [EVERYONE]: one `$in` finds what concerns a customer
    audience = me.ListField(me.StringField())
    status = me.StringField(required=True, choices=("published", "withdrawn"))
    published_at = me.DateTimeField(required=True)
    created_at = me.DateTimeField()
    updated_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "news", "indexes": [("language", "status", "-published_at"), "audience"],
            "auto_create_index": False}  # fmt: skip

    def public(self, staff: bool = False) -> dict[str, Any]:
        out = {
            "news_id": self.id,
            "title": self.title,
            "body": self.body,
            "body_html": self.body_html,
            "language": self.language,
            "concerns_plans": list(self.concerns_plans or []),
            "published_at": iso(self.published_at),
            "updated_at": iso(self.updated_at),
        }
        if staff:
            out["status"] = self.status
        return out


class KbEntry(me.Document):
    """One language version of a knowledge-base article (id "<slug>:<language>"), with the prefixes of
    its words for the search (services.support.kb_search)."""

    id = me.StringField(primary_key=True)
    slug = me.StringField(required=True)
    language = me.StringField(required=True)
    category = me.StringField(required=True)
    status = me.StringField(required=True, choices=("published", "draft", "withdrawn"))
    title = me.StringField(required=True)
    title_folded = me.StringField(required=True)  # the list's order
    body = me.StringField(required=True)
    body_html = me.StringField(required=True)
    prefixes = me.ListField(me.StringField())
    created_at = me.DateTimeField()
    updated_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "kb_entries",
            "indexes": [("language", "status", "category", "title_folded"), ("language", "status", "prefixes"), "slug"],
            "auto_create_index": False}  # fmt: skip

    def summary(self) -> dict[str, Any]:
        return {"slug": self.slug, "language": self.language, "category": self.category, "title": self.title,
                "updated_at": iso(self.updated_at)}  # fmt: skip

    def public(self, staff: bool = False) -> dict[str, Any]:
        out = {**self.summary(), "body_html": self.body_html}
        if staff:
            out.update(body=self.body, status=self.status)
        return out


class HeldPlan(me.Document):
    """One service a customer holds and its plan (events customer_plan_held/dropped): which news concern
    the customer (`plans_of`, one `$in` on NewsView.audience) and who holds a plan (`accounts_with`)."""

    id = me.StringField(primary_key=True)  # billing's service_id
    account_id = me.StringField(required=True)
    plan = me.StringField(required=True)
    meta = {"db_alias": ALIAS, "collection": "held_plans", "indexes": ["account_id", "plan"],
            "auto_create_index": False}  # fmt: skip


tickets = Projection("tickets", ALIAS, [TicketView, TicketEntry])
news = Projection("news", ALIAS, [NewsView])
kb = Projection("kb", ALIAS, [KbEntry])
plans = Projection("plans", ALIAS, [HeldPlan])


def _actor(event: Event) -> dict[str, Any]:
    actor = dict(event.meta.get("actor") or {})
    return {k: actor[k] for k in ("type", "id") if k in actor}


def _entry(event: Event, kind: str, entry_id: str, by: str, text: str, attachments: list | None = None) -> None:
    TicketEntry(
        id=entry_id, ticket_id=event.data["ticket_id"], kind=kind, seq=event.version, by=by, author=_actor(event),
        text=text, attachments=list(attachments or []), created_at=event.occurred_at,
    ).save()  # fmt: skip


def _replace(document: me.Document) -> None:
    """Write the whole document back. A `$set` of a date is avoided on purpose:
    the local MongoDB stand-in stores such a date as text (replace keeps dates)."""
    type(document)._get_collection().replace_one({"_id": document.pk}, document.to_mongo(), upsert=True)


def _touch(event: Event, **fields: Any) -> None:
    view = TicketView.objects(id=event.data["ticket_id"]).first()
    if view is None:
        return
    for name, value in fields.items():
        setattr(view, name, value)
    view.updated_at = event.occurred_at
    _replace(view)


@tickets.on("ticket_opened")
def _opened(event: Event) -> None:
    d = event.data
    TicketView(
        id=d["ticket_id"], number=d["number"], account_id=d["account_id"], department=d["department"],
        priority=d["priority"], priority_rank=v.PRIORITY_RANK.get(d["priority"], 0), subject=d["subject"],
        status=d["status"], related=d.get("related"), last_reply_by="customer",
        created_at=event.occurred_at, updated_at=event.occurred_at,
    ).save()  # fmt: skip
    _entry(event, "message", d["message_id"], "customer", d["message"], d.get("attachments"))


@tickets.on("ticket_replied")
def _replied(event: Event) -> None:
    d = event.data
    _entry(event, "message", d["message_id"], d["by"], d["message"], d.get("attachments"))
    _touch(event, status=d["status"], last_reply_by=d["by"])


@tickets.on("ticket_status_changed", "ticket_closed")
def _status(event: Event) -> None:
    _touch(event, status=event.data["status"])


@tickets.on("ticket_priority_changed")
def _priority(event: Event) -> None:
    priority = event.data["priority"]
    _touch(event, priority=priority, priority_rank=v.PRIORITY_RANK.get(priority, 0))


@tickets.on("ticket_note_added")
def _note(event: Event) -> None:
    # A note does not move the ticket's "last update": customers would see it move.
    _entry(event, "note", event.data["note_id"], "staff", event.data["text"])


def _news_fields(event: Event) -> dict[str, Any]:
    d = event.data
    published_at, _ = v.parse_datetime(d["published_at"])
    plans = list(d.get("concerns_plans") or [])
    return {
        "title": d["title"], "body": d["body"], "body_html": d["body_html"], "language": d["language"],
        "concerns_plans": plans, "audience": plans or [EVERYONE], "published_at": published_at,
    }  # fmt: skip


@news.on("news_published")
def _news_published(event: Event) -> None:
    news_id = event.data["news_id"]
    NewsView(id=news_id, status="published", created_at=event.occurred_at, updated_at=event.occurred_at,
             **_news_fields(event)).save()  # fmt: skip


@news.on("news_updated")
def _news_updated(event: Event) -> None:
    view = NewsView.objects(id=event.data["news_id"]).first()
    if view is not None:
        for name, value in _news_fields(event).items():
            setattr(view, name, value)
        view.updated_at = event.occurred_at
        _replace(view)


@news.on("news_withdrawn")
def _news_withdrawn(event: Event) -> None:
    view = NewsView.objects(id=event.data["news_id"]).first()
    if view is not None:
        view.status, view.updated_at = "withdrawn", event.occurred_at
        _replace(view)


@kb.on("kb_article_published", "kb_article_updated")
def _kb_written(event: Event) -> None:
    d = event.data
    languages = [x["language"] for x in d["versions"]]
    for version in d["versions"]:
        entry_id = f"{d['slug']}:{version['language']}"
        before = KbEntry.objects(id=entry_id).first()
        entry = KbEntry(
            id=entry_id, slug=d["slug"], language=version["language"], category=d["category"], status=d["status"],
            title=version["title"], title_folded=kb_search.fold(version["title"]), body=version["body"],
            body_html=version["body_html"], prefixes=kb_search.prefixes(f"{version['title']} {version['body']}"),
            created_at=before.created_at if before else event.occurred_at, updated_at=event.occurred_at,
        )  # fmt: skip
        _replace(entry)
    KbEntry.objects(slug=d["slug"], language__nin=languages).delete()


@kb.on("kb_article_withdrawn")
def _kb_withdrawn(event: Event) -> None:
    for entry in KbEntry.objects(slug=event.data["slug"]):
        entry.status, entry.updated_at = "withdrawn", event.occurred_at
        _replace(entry)


@plans.on("customer_plan_held")
def _plan_held(event: Event) -> None:
    d = event.data
    _replace(HeldPlan(id=d["service_id"], account_id=d["account_id"], plan=d["plan"]))


@plans.on("customer_plan_dropped")
def _plan_dropped(event: Event) -> None:
    HeldPlan.objects(id=event.data["service_id"]).delete()


def plans_of(account_id: str) -> list[str]:
    """The plans the customer holds now."""
    return sorted({h.plan for h in HeldPlan.objects(account_id=account_id).only("plan")})


PROJECTIONS = [tickets, news, kb, plans]
