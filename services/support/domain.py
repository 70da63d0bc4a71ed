"""Ticket, News, Article and CustomerPlans aggregates: every change to a ticket, an announcement, an
article or the plans a customer holds is decided here.

Decisions are pure: attachments arrive already checked and stored (their
metadata only), news HTML is rendered from the Markdown source right here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kernel import clock
from kernel.aggregate import Aggregate
from kernel.errors import Conflict, Invalid, NotFound
from kernel.events import Event, NewEvent, new_id
from services.support import validation as v
from services.support.rendering import render_markdown


def ticket_stream(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


def news_stream(news_id: str) -> str:
    return f"news-{news_id}"


def iso(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid("invalid_input", errors)


def check_open(department: Any, priority: Any, subject: Any, message: Any, related: Any) -> dict | None:
    """Validate a new ticket; the cleaned `related` or CommandError."""
    clean_related, related_code = v.check_related(related)
    errors = {
        "department": v.check_choice(department, v.DEPARTMENTS, "invalid_department"),
        "priority": v.check_choice(priority, v.PRIORITIES, "invalid_priority"),
        "subject": v.check_text(subject, v.SUBJECT_MAX),
        "message": v.check_text(message, v.MESSAGE_MAX),
        "related": related_code,
    }
    _raise_if({k: code for k, code in errors.items() if code})
    return clean_related


def check_message(message: Any, field: str = "message", maximum: int = v.MESSAGE_MAX) -> None:
    _raise_if({field: code} if (code := v.check_text(message, maximum)) else {})


class Ticket(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.account_id = ""
        self.number = ""
        self.subject = ""
        self.department = ""
        self.priority = ""
        self.status = ""
        # attachment id -> metadata, for every message (notes carry none)
        self.attachments: dict[str, dict[str, Any]] = {}

    @property
    def ticket_id(self) -> str:
        return self.stream_id.removeprefix("ticket-")

    def _base(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "ticket_id": self.ticket_id,
            "number": self.number,
            "subject": self.subject,
        }

    def _require(self) -> None:
        if not self.exists:
            raise NotFound("ticket")

    # --- state changes ------------------------------------------------------
    def on_ticket_opened(self, data: dict, _: Event) -> None:
        self.account_id, self.number, self.subject = data["account_id"], data["number"], data["subject"]
        self.department, self.priority, self.status = data["department"], data["priority"], data["status"]
        self._remember(data)

    def on_ticket_replied(self, data: dict, _: Event) -> None:
        self.status = data["status"]
        self._remember(data)

    def on_ticket_status_changed(self, data: dict, _: Event) -> None:
        self.status = data["status"]

    def on_ticket_closed(self, data: dict, _: Event) -> None:
        self.status = "closed"

    def on_ticket_priority_changed(self, data: dict, _: Event) -> None:
        self.priority = data["priority"]

    def _remember(self, data: dict) -> None:
        for meta in data.get("attachments") or []:
            self.attachments[meta["attachment_id"]] = meta

    # --- decisions ----------------------------------------------------------
    def open(self, account_id: str, number: str, department: str, priority: str, subject: str, message: str,
             related: dict | None = None, attachments: list[dict] | None = None) -> list[NewEvent]:  # fmt: skip
        if self.exists:
            raise Conflict("ticket_exists")
        related = check_open(department, priority, subject, message, related)
        data = {
            "account_id": account_id, "ticket_id": self.ticket_id, "number": number, "subject": subject.strip(),
            "department": department, "priority": priority, "related": related, "status": "open",
            "message_id": new_id(), "message": message, "attachments": list(attachments or []),
        }  # fmt: skip
        return [NewEvent("ticket_opened", data)]

    def customer_reply(self, message: str, attachments: list[dict] | None = None) -> list[NewEvent]:
        """The customer writes: waiting for staff again, reopened if it was closed."""
        self._require()
        check_message(message)
        return [self._reply("customer", "customer-reply", message, attachments)]

    def staff_reply(self, message: str, attachments: list[dict] | None = None) -> list[NewEvent]:
        self._require()
        check_message(message)
        return [self._reply("staff", "answered", message, attachments)]

    def _reply(self, by: str, status: str, message: str, attachments: list[dict] | None) -> NewEvent:
        data = {
            **self._base(), "by": by, "message_id": new_id(), "message": message,
            "attachments": list(attachments or []), "status": status, "previous_status": self.status,
            "reopened": self.status == "closed",
        }  # fmt: skip
        return NewEvent("ticket_replied", data)

    def close(self, by: str) -> list[NewEvent]:
        self._require()
        if self.status == "closed":
            return []
        return [
            NewEvent("ticket_closed", {**self._base(), "by": by, "status": "closed", "previous_status": self.status})
        ]

    def set_status(self, status: str) -> list[NewEvent]:
        """Staff move the ticket; closing is a ticket_closed like the customer's."""
        self._require()
        _raise_if({"status": code} if (code := v.check_choice(status, v.STATUSES, "invalid_status")) else {})
        if status == self.status:
            return []
        if status == "closed":
            return self.close("staff")
        return [NewEvent("ticket_status_changed", {**self._base(), "status": status, "previous_status": self.status})]

    def set_priority(self, priority: str) -> list[NewEvent]:
        self._require()
        _raise_if({"priority": code} if (code := v.check_choice(priority, v.PRIORITIES, "invalid_priority")) else {})
        if priority == self.priority:
            return []
        data = {**self._base(), "priority": priority, "previous_priority": self.priority}
        return [NewEvent("ticket_priority_changed", data)]

    def add_note(self, text: str) -> list[NewEvent]:
        """An internal note: staff only, never part of the customer's conversation."""
        self._require()
        check_message(text, "text", v.NOTE_MAX)
        return [NewEvent("ticket_note_added", {**self._base(), "note_id": new_id(), "text": text})]


# --- news ---------------------------------------------------------------------
NEWS_FIELDS = ("title", "body", "language", "concerns_plans", "published_at")


def check_news(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the given news fields; cleaned values or CommandError."""
    clean: dict[str, Any] = {}
    errors: dict[str, str | None] = {}
    if "title" in fields:
        errors["title"] = v.check_text(fields["title"], v.NEWS_TITLE_MAX)
        clean["title"] = fields["title"].strip() if isinstance(fields["title"], str) else ""
    if "body" in fields:
        errors["body"] = v.check_text(fields["body"], v.NEWS_BODY_MAX)
        clean["body"] = fields["body"]
    if "language" in fields:
        errors["language"] = v.check_choice(fields["language"], v.LANGUAGES, "invalid_language")
        clean["language"] = fields["language"]
    if "concerns_plans" in fields:
        clean["concerns_plans"], errors["concerns_plans"] = v.check_plans(fields["concerns_plans"])
    if "published_at" in fields:
        published_at, errors["published_at"] = v.parse_datetime(fields["published_at"])
        clean["published_at"] = iso(published_at or clock.now())
    _raise_if({k: code for k, code in errors.items() if code})
    return clean


class News(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.fields: dict[str, Any] = {}
        self.withdrawn = False
        self.written_at: dt.datetime | None = None  # when the current version was published or changed
        self.told_live: str | None = None  # the publication time `news_went_live` told (issue #17)

    @property
    def news_id(self) -> str:
        return self.stream_id.removeprefix("news-")

    def on_news_published(self, data: dict, event: Event) -> None:
        self.fields = {k: data[k] for k in NEWS_FIELDS}
        self.written_at = event.occurred_at

    def on_news_updated(self, data: dict, event: Event) -> None:
        self.fields = {k: data[k] for k in NEWS_FIELDS}
        self.written_at = event.occurred_at

    def on_news_withdrawn(self, data: dict, _: Event) -> None:
        self.withdrawn = True

    def on_news_went_live(self, data: dict, _: Event) -> None:
        self.told_live = data["published_at"]

    def went_live(self, now: dt.datetime) -> list[NewEvent]:
        """An item scheduled when it was last written whose time came by `now`: `news_went_live` once per
        publication time (an item published at once was told by its own event; a withdrawn one never)."""
        if not self.exists or self.withdrawn or self.written_at is None:
            return []
        published_at = dt.datetime.fromisoformat(self.fields["published_at"].rstrip("Z"))
        if not self.written_at < published_at <= now or self.told_live == self.fields["published_at"]:
            return []
        data = {"news_id": self.news_id, **{k: self.fields[k] for k in ("title", "language", "concerns_plans")},
                "published_at": self.fields["published_at"]}  # fmt: skip
        return [NewEvent("news_went_live", data)]

    def publish(self, title: str, body: str, language: str, concerns_plans: list[str] | None = None,
                published_at: str | dt.datetime | None = None) -> list[NewEvent]:  # fmt: skip
        if self.exists:
            raise Conflict("news_exists")
        clean = check_news({"title": title, "body": body, "language": language,
                            "concerns_plans": concerns_plans, "published_at": published_at})  # fmt: skip
        data = {"news_id": self.news_id, **clean, "body_html": render_markdown(clean["body"])}
        return [NewEvent("news_published", data)]

    def update(self, changes: dict[str, Any]) -> list[NewEvent]:
        """Only the given fields change; the event carries the whole new version."""
        if not self.exists:
            raise NotFound("news")
        if self.withdrawn:
            raise Conflict("news_withdrawn")
        given = {k: changes[k] for k in NEWS_FIELDS if k in changes and changes[k] is not None}
        clean = check_news(given)
        changed = sorted(k for k, value in clean.items() if value != self.fields.get(k))
        if not changed:
            return []
        fields = {**self.fields, **clean}
        data = {"news_id": self.news_id, **fields, "body_html": render_markdown(fields["body"]), "changed": changed}
        return [NewEvent("news_updated", data)]

    def withdraw(self) -> list[NewEvent]:
        if not self.exists:
            raise NotFound("news")
        if self.withdrawn:
            return []
        return [NewEvent("news_withdrawn", {"news_id": self.news_id, "title": self.fields["title"],
                                            "language": self.fields["language"]})]  # fmt: skip


# --- knowledge base -----------------------------------------------------------------
def kb_stream(slug: str) -> str:
    return f"kb-{slug}"


def check_article(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the given article fields (category, status, versions); cleaned values or Invalid
    naming every field at once."""
    clean: dict[str, Any] = {}
    errors: dict[str, str | None] = {}
    if "category" in fields:
        errors["category"] = v.check_choice(fields["category"], v.KB_CATEGORIES, "invalid_category")
        clean["category"] = fields["category"]
    if "status" in fields:
        errors["status"] = v.check_choice(fields["status"], v.KB_STATUSES, "invalid_status")
        clean["status"] = fields["status"]
    if "versions" in fields:
        clean["versions"], version_errors = v.check_versions(fields["versions"])
        errors.update(version_errors)
    _raise_if({k: code for k, code in errors.items() if code})
    return clean


def rendered(versions: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The versions as the events carry them: Polish first, each with its sanitised HTML."""
    return [{"language": language, "title": versions[language]["title"], "body": versions[language]["body"],
             "body_html": render_markdown(versions[language]["body"])}
            for language in v.LANGUAGES if language in versions]  # fmt: skip


class Article(Aggregate):
    """A knowledge-base article on `kb-<slug>`: the slug is its id, so it is taken once."""

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.fields: dict[str, Any] = {}
        self.withdrawn = False

    @property
    def slug(self) -> str:
        return self.stream_id.removeprefix("kb-")

    def on_kb_article_published(self, data: dict, _: Event) -> None:
        versions = {x["language"]: {"title": x["title"], "body": x["body"]} for x in data["versions"]}
        self.fields = {"category": data["category"], "status": data["status"], "versions": versions}

    on_kb_article_updated = on_kb_article_published

    def on_kb_article_withdrawn(self, data: dict, _: Event) -> None:
        self.withdrawn = True

    def write(self, category: str, status: str, versions: dict[str, Any]) -> list[NewEvent]:
        if self.exists:
            raise Conflict("kb_slug_taken")
        _raise_if({"slug": code} if (code := v.check_slug(self.slug)) else {})
        clean = check_article({"category": category, "status": status, "versions": versions})
        data = {"slug": self.slug, "category": clean["category"], "status": clean["status"],
                "versions": rendered(clean["versions"])}  # fmt: skip
        return [NewEvent("kb_article_published", data)]

    def update(self, changes: dict[str, Any]) -> list[NewEvent]:
        """Only the given fields change (None = unchanged); the event carries the whole new article."""
        if not self.exists:
            raise NotFound("kb_article")
        if self.withdrawn:
            raise Conflict("kb_article_withdrawn")
        clean = check_article({k: value for k, value in changes.items() if value is not None})
        changed = sorted(k for k, value in clean.items() if value != self.fields.get(k))
        if not changed:
            return []
        fields = {**self.fields, **clean}
        data = {"slug": self.slug, "category": fields["category"], "status": fields["status"],
                "versions": rendered(fields["versions"]), "changed": changed}  # fmt: skip
        return [NewEvent("kb_article_updated", data)]

    def withdraw(self) -> list[NewEvent]:
        if not self.exists:
            raise NotFound("kb_article")
        return [] if self.withdrawn else [NewEvent("kb_article_withdrawn", {"slug": self.slug})]


# --- the plans a customer holds (who a news item concerns) ------------------------------------------
def plans_stream(account_id: str) -> str:
    return f"plans-{account_id}"


class CustomerPlans(Aggregate):
    """The plans one customer holds, one per service, learnt from billing's service events (activated,
    unsuspended, plan changed: held; terminated, cancelled: dropped). Decided from state, so a billing
    event told twice, or a fact already known, records nothing. Each service remembers the version of the
    billing event (billing's stream customer-<account_id>, one per account, so versions order its facts)
    that last told it something: an older one arriving late (a retry, a dead letter replayed) is ignored."""

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        # service_id -> {"plan": the plan held, or None once dropped, "seen": the billing version that told it}
        self.services: dict[str, dict[str, Any]] = {}

    @property
    def account_id(self) -> str:
        return self.stream_id.removeprefix("plans-")

    def on_customer_plan_held(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]] = {"plan": data["plan"], "seen": data["billing_version"]}

    def on_customer_plan_dropped(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]] = {"plan": None, "seen": data["billing_version"]}

    @property
    def held(self) -> dict[str, str]:
        """service_id -> plan, for the services the customer holds now."""
        return {sid: s["plan"] for sid, s in self.services.items() if s["plan"]}

    def _stale(self, service_id: str, billing_version: int) -> bool:
        known = self.services.get(service_id)
        return known is not None and billing_version < known["seen"]

    def hold(self, service_id: str, plan: str, billing_version: int) -> list[NewEvent]:
        """The service is on `plan` (activated, unsuspended, or moved to it)."""
        _raise_if({k: "required" for k, value in (("service_id", service_id), ("plan", plan)) if not value})
        if self._stale(service_id, billing_version):
            return []
        previous = (self.services.get(service_id) or {}).get("plan")
        if previous == plan:
            return []
        data = {"account_id": self.account_id, "service_id": service_id, "plan": plan, "previous_plan": previous,
                "billing_version": billing_version}  # fmt: skip
        return [NewEvent("customer_plan_held", data)]

    def drop(self, service_id: str, billing_version: int) -> list[NewEvent]:
        """The service ended. A service never heard of is recorded as dropped too, so its activation,
        should it arrive after its end, holds nothing."""
        _raise_if({"service_id": "required"} if not service_id else {})
        if self._stale(service_id, billing_version):
            return []
        known = self.services.get(service_id)
        if known is not None and known["plan"] is None:
            return []
        data = {"account_id": self.account_id, "service_id": service_id, "billing_version": billing_version}
        return [NewEvent("customer_plan_dropped", data)]
