"""Support's entrypoints: tickets and their attachments, the staff desk, news (seed sections 5, 8
and 9), the knowledge base (section 10's guide). Each method hands its arguments to the application layer (`services.support.app`).

Customer RPCs take the account_id the gateway authenticated and answer NotFound for anything that
belongs to another account. Staff RPCs are admitted by the kernel only with a signed staff actor,
which the events' meta records.
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.timer import timer

from kernel.app import Deps
from kernel.caller import STAFF, STAFF_OR_SYSTEM, SYSTEM, rpc
from kernel.contracts import BILLING
from kernel.events import Event
from kernel.service import EventSourcedService, consumes
from services.support import operational as ops
from services.support.app import attachments as files
from services.support.app import dashboard, desk, kb, news, tickets
from services.support.app import plans as held
from services.support.projections import PROJECTIONS

log = logging.getLogger(__name__)
NEWS_TIMER_SECONDS = 60  # scheduled news reach the dashboard's view within this long of their time


class SupportService(EventSourcedService):
    name = "support"
    projections = PROJECTIONS
    documents = list(ops.OPERATIONAL_DOCUMENTS)

    @property
    def deps(self) -> Deps:
        return Deps(self.events)

    # --- tickets: customer side --------------------------------------------
    @rpc
    def open_ticket(self, account_id: str, department: str, priority: str, subject: str, message: str,
                    related: dict | None = None, attachments: list[dict] | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return tickets.open_ticket(self.deps, account_id, department, priority, subject, message, related,
                                   attachments, ctx)  # fmt: skip

    @rpc
    def reply(self, account_id: str, ticket_id: str, message: str, attachments: list[dict] | None = None,
              ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return tickets.reply(self.deps, account_id, ticket_id, message, attachments, ctx)

    @rpc
    def close_ticket(self, account_id: str, ticket_id: str, ctx: dict | None = None) -> dict[str, Any]:
        return tickets.close(self.deps, account_id, ticket_id, ctx)

    @rpc
    def list_tickets(self, account_id: str, status: str | None = None, page: int = 1,
                     per_page: int = 20, department: str | None = None) -> dict[str, Any]:  # fmt: skip
        return tickets.list_page(account_id, status, page, per_page, department)

    @rpc
    def get_ticket(self, account_id: str, ticket_id: str) -> dict[str, Any]:
        return tickets.get(account_id, ticket_id)

    @rpc
    def get_attachment(self, account_id: str | None, ticket_id: str, attachment_id: str,
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return files.download(self.deps, account_id, ticket_id, attachment_id, ctx)

    @rpc
    def dashboard_summary(self, account_id: str) -> dict[str, Any]:
        return dashboard.summary(account_id)

    @rpc
    def dashboard_news(self, language: str = "pl") -> dict[str, Any]:
        return dashboard.latest_news(self.deps, language)

    # --- staff desk ---------------------------------------------------------
    @rpc(actors=STAFF)
    def staff_queue(self, department: str | None = None, status: str | None = None, page: int = 1,
                    per_page: int = 20) -> dict[str, Any]:  # fmt: skip
        return desk.queue(department, status, page, per_page)

    @rpc(actors=STAFF)
    def staff_get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return desk.get(ticket_id)

    @rpc(actors=STAFF)
    def staff_reply(self, ticket_id: str, message: str, attachments: list[dict] | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return desk.reply(self.deps, ticket_id, message, attachments, ctx)

    @rpc(actors=STAFF)
    def staff_set_status(self, ticket_id: str, status: str, ctx: dict | None = None) -> dict[str, Any]:
        return desk.command(self.deps, ticket_id, lambda t: t.set_status(status), ctx)

    @rpc(actors=STAFF)
    def staff_set_priority(self, ticket_id: str, priority: str, ctx: dict | None = None) -> dict[str, Any]:
        return desk.command(self.deps, ticket_id, lambda t: t.set_priority(priority), ctx)

    @rpc(actors=STAFF)
    def staff_add_note(self, ticket_id: str, text: str, ctx: dict | None = None) -> dict[str, Any]:
        return desk.command(self.deps, ticket_id, lambda t: t.add_note(text), ctx)

    # --- news ---------------------------------------------------------------
    @rpc(actors=STAFF)
    def publish_news(self, title: str, body: str, language: str, concerns_plans: list[str] | None = None,
                     published_at: str | None = None, ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return news.publish(self.deps, title, body, language, concerns_plans, published_at, ctx)

    @rpc(actors=STAFF)
    def update_news(self, news_id: str, title: str | None = None, body: str | None = None,
                    language: str | None = None, concerns_plans: list[str] | None = None,
                    published_at: str | None = None, ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        changes = {"title": title, "body": body, "language": language, "concerns_plans": concerns_plans,
                   "published_at": published_at}  # fmt: skip
        return news.update(self.deps, news_id, changes, ctx)

    @rpc(actors=STAFF)
    def withdraw_news(self, news_id: str, ctx: dict | None = None) -> dict[str, Any]:
        return news.withdraw(self.deps, news_id, ctx)

    @rpc
    def list_news(self, language: str = "pl", page: int = 1, per_page: int = 10,
                  account_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        return news.list_page(self.deps, language, page, per_page, account_id)

    @rpc
    def get_news(self, news_id: str) -> dict[str, Any]:
        return news.get(self.deps, news_id)

    @rpc(actors=STAFF)
    def staff_list_news(self, language: str | None = None, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        return news.staff_list(language, page, per_page)

    @rpc(actors=STAFF)
    def staff_get_news(self, news_id: str) -> dict[str, Any]:
        return news.news_view(news_id).public(staff=True)

    # --- knowledge base ---------------------------------------------------------
    @rpc(actors=STAFF)
    def write_article(self, slug: str, category: str, status: str, versions: dict,
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return kb.write(self.deps, slug, category, status, versions, ctx)

    @rpc(actors=STAFF)
    def update_article(self, slug: str, category: str | None = None, status: str | None = None,
                       versions: dict | None = None, ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return kb.update(self.deps, slug, {"category": category, "status": status, "versions": versions}, ctx)

    @rpc(actors=STAFF)
    def withdraw_article(self, slug: str, ctx: dict | None = None) -> dict[str, Any]:
        return kb.withdraw(self.deps, slug, ctx)

    @rpc(actors=STAFF)
    def staff_list_articles(self, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        return kb.staff_list(page, per_page)

    @rpc(actors=STAFF)
    def staff_get_article(self, slug: str) -> dict[str, Any]:
        return kb.staff_get(slug)

    @rpc
    def list_articles(self, language: str = "pl", category: str | None = None, page: int = 1,
                      per_page: int = 50) -> dict[str, Any]:  # fmt: skip
        return kb.list_page(language, category, page, per_page)

    @rpc
    def get_article(self, slug: str, language: str = "pl") -> dict[str, Any]:
        return kb.get(slug, language)

    @rpc
    def search_articles(self, query: str, language: str = "pl", limit: int = 10) -> dict[str, Any]:
        return kb.search(query, language, limit)

    @rpc(actors=SYSTEM)
    def seed_help_articles(self, ctx: dict | None = None) -> dict[str, int]:
        return {"added": kb.seed_defaults(self.deps, ctx)}

    @rpc(actors=SYSTEM)
    def accounts_with_plans(self, plans: list[str]) -> list[str]:
        return held.accounts_with(plans)

    # --- scheduled news whose time came (issue #17) ----------------------------
    @timer(interval=NEWS_TIMER_SECONDS)
    def news_timer(self) -> None:
        try:
            news.tell_went_live(self.deps)
        except Exception:
            log.exception("news timer failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_news_timer(self) -> dict[str, int]:
        """What the news timer runs, at once (tests, operators)."""
        return {"news_went_live": news.tell_went_live(self.deps)}

    # --- what billing tells us: the plans a customer holds (events customer_plan_held/dropped) ----------
    @consumes(BILLING, "service_activated")
    def on_service_activated(self, event: Event) -> None:
        held.hold(self.deps, event)

    @consumes(BILLING, "service_unsuspended")
    def on_service_unsuspended(self, event: Event) -> None:
        held.hold(self.deps, event)

    @consumes(BILLING, "service_plan_changed")
    def on_service_plan_changed(self, event: Event) -> None:
        held.hold(self.deps, event)

    @consumes(BILLING, "service_terminated")
    def on_service_terminated(self, event: Event) -> None:
        held.drop(self.deps, event)

    @consumes(BILLING, "service_cancelled")
    def on_service_cancelled(self, event: Event) -> None:
        held.drop(self.deps, event)
