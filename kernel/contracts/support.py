"""What the support service publishes. Streams `ticket-<ticket_id>` (every ticket event names the
ticket: account_id, ticket_id, number, subject), `news-<news_id>`, `kb-<slug>` (knowledge-base articles) and `plans-<account_id>` (the plans a customer
holds, learnt from billing's service events). Staff commands carry
meta.actor = {type: "staff", id: <the staff member's account id>}.
"""

from __future__ import annotations

from typing import Literal

from kernel.contracts import SUPPORT
from kernel.contracts.base import Contract, IsoDateTime, Language, Part, by_type

SOURCE = SUPPORT
Status = Literal["open", "answered", "customer-reply", "on_hold", "in_progress", "closed"]
Priority = Literal["low", "medium", "high", "urgent"]


class Attachment(Part):
    """An attachment's metadata (the file is in the support service's storage)."""

    attachment_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class Related(Part):
    kind: Literal["service", "domain"]
    id: str
    name: str


class TicketEvent(Contract):
    account_id: str
    ticket_id: str
    number: str
    subject: str


class TicketOpened(TicketEvent):
    TYPE = "ticket_opened"
    department: Literal["technical", "billing", "sales"]
    priority: Priority
    related: Related | None
    status: Literal["open"]
    message_id: str
    message: str
    attachments: list[Attachment]


class TicketReplied(TicketEvent):
    TYPE = "ticket_replied"
    by: Literal["customer", "staff"]
    message_id: str
    message: str
    attachments: list[Attachment]
    status: Status
    previous_status: Status
    reopened: bool


class TicketStatusChanged(TicketEvent):
    TYPE = "ticket_status_changed"
    status: Status
    previous_status: Status


class TicketClosed(TicketEvent):
    TYPE = "ticket_closed"
    by: Literal["customer", "staff"]
    status: Literal["closed"]
    previous_status: Status


class TicketPriorityChanged(TicketEvent):
    TYPE = "ticket_priority_changed"
    priority: Priority
    previous_priority: Priority


class TicketNoteAdded(TicketEvent):
    """Staff only: never shown or mailed to the customer."""

    TYPE = "ticket_note_added"
    note_id: str
    text: str


class NewsPublished(Contract):
    TYPE = "news_published"
    news_id: str
    title: str
    body: str  # Markdown
    body_html: str  # rendered and sanitised
    language: Language
    concerns_plans: list[str]  # [] for everybody
    published_at: IsoDateTime


class NewsUpdated(NewsPublished):
    """The whole new version, and which fields changed."""

    TYPE = "news_updated"
    changed: list[Literal["title", "body", "language", "concerns_plans", "published_at"]]


class NewsWithdrawn(Contract):
    TYPE = "news_withdrawn"
    news_id: str
    title: str
    language: Language


class KbVersion(Part):
    """One language's version of a knowledge-base article."""

    language: Language
    title: str
    body: str  # Markdown
    body_html: str  # rendered and sanitised


class KbArticlePublished(Contract):
    """An article written: status "published" (customers see it) or "draft" (staff only, until an update
    publishes it). Every article has a Polish version; the English one is optional."""

    TYPE = "kb_article_published"
    slug: str
    category: Literal["domains", "hosting", "email", "billing", "account"]
    status: Literal["published", "draft"]
    versions: list[KbVersion]


class KbArticleUpdated(KbArticlePublished):
    """The whole new version, and which fields changed."""

    TYPE = "kb_article_updated"
    changed: list[Literal["category", "status", "versions"]]


class KbArticleWithdrawn(Contract):
    """Taken out of the knowledge base for good (its slug stays taken)."""

    TYPE = "kb_article_withdrawn"
    slug: str


EVENTS = by_type(
    TicketOpened, TicketReplied, TicketStatusChanged, TicketClosed, TicketPriorityChanged, TicketNoteAdded,
    NewsPublished, NewsUpdated, NewsWithdrawn, KbArticlePublished, KbArticleUpdated, KbArticleWithdrawn,
)  # fmt: skip


# --- issue #17: what becomes true as time passes, told by support's news timer
class NewsWentLive(Contract):
    """An item published for later (`published_at` after it was published or last changed) is shown from
    now on: told once per publication time, so the dashboard's view (fed by events) shows it."""

    TYPE = "news_went_live"
    news_id: str
    title: str
    language: Language
    concerns_plans: list[str]
    published_at: IsoDateTime


EVENTS.update(by_type(NewsWentLive))


# --- the plans a customer holds, learnt from billing's service events (who a news item concerns) ---------
class CustomerPlanHeld(Contract):
    """The customer holds `plan` through the service from now on: the service was activated or unsuspended,
    or moved to `plan` (then `previous_plan` is the plan it had). Stream `plans-<account_id>`.
    `billing_version` is the version of billing's event (stream customer-<account_id>) that told it: an older
    billing event about the service, arriving late, changes nothing."""

    TYPE = "customer_plan_held"
    account_id: str
    service_id: str
    plan: str
    previous_plan: str | None
    billing_version: int


class CustomerPlanDropped(Contract):
    """The customer no longer holds a plan through the service (terminated, cancelled or withdrawn)."""

    TYPE = "customer_plan_dropped"
    account_id: str
    service_id: str
    billing_version: int


EVENTS.update(by_type(CustomerPlanHeld, CustomerPlanDropped))
