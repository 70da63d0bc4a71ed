"""News: staff publish (now or scheduled), change and withdraw items; customers read the published
ones in their language, marked relevant when they concern a plan the customer holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kernel.aggregate import execute
from kernel.errors import NotFound
from kernel.events import command_meta, new_id
from services.support import validation as v
from services.support.app import Deps, page, staff_meta
from services.support.domain import News, news_stream
from services.support.projections import EVERYONE, NewsView, plans_of

# how far back the news timer looks for scheduled items whose time came (longer than support is ever down)
LIVE_LOOKBACK = dt.timedelta(days=30)
TIMER_CTX = {"actor": {"type": "system", "id": "support-news"}}


def publish(deps: Deps, title: str, body: str, language: str, concerns_plans: list[str] | None,
            published_at: str | None, ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """Publish (published_at in the future = scheduled); the staff view of the item."""
    meta = staff_meta(ctx)
    news_id = new_id()
    execute(deps.events, News, news_stream(news_id),
            lambda n: n.publish(title, body, language, concerns_plans, published_at), meta)  # fmt: skip
    return news_view(news_id).public(staff=True)


def update(deps: Deps, news_id: str, changes: dict[str, Any], ctx: dict | None) -> dict[str, Any]:
    """Change the given fields (None = unchanged); the staff view."""
    meta = staff_meta(ctx)
    news_view(news_id)
    execute(deps.events, News, news_stream(news_id), lambda n: n.update(changes), meta)
    return news_view(news_id).public(staff=True)


def withdraw(deps: Deps, news_id: str, ctx: dict | None) -> dict[str, Any]:
    meta = staff_meta(ctx)
    news_view(news_id)
    execute(deps.events, News, news_stream(news_id), lambda n: n.withdraw(), meta)
    return news_view(news_id).public(staff=True)


def tell_went_live(deps: Deps) -> int:
    """The news timer (issue #17): `news_went_live` for every scheduled item whose time came since it was
    written, once each (decided by the News aggregate from its state with an expected version, so two
    instances or two runs tell it once); the events stored. What customers see changes as time passes;
    the dashboard's view learns it from this event."""
    now = deps.now()
    recent = NewsView.objects(status="published", published_at__lte=now, published_at__gt=now - LIVE_LOOKBACK)
    told = 0
    for view in recent.only("id", "published_at", "updated_at"):
        if view.updated_at and view.published_at <= view.updated_at:
            continue  # shown at once when it was written: its own event told it
        _, stored = execute(deps.events, News, news_stream(view.id), lambda n: n.went_live(now),
                            command_meta(TIMER_CTX), retries=10)  # fmt: skip
        told += len(stored)
    return told


def list_page(deps: Deps, language: str, page_number: int, per_page: int, account_id: str | None) -> dict[str, Any]:
    """Every published item in a language, newest first. Each has `relevant`: true when it concerns
    a plan the customer (account_id) holds; news for everybody and news without an account_id: false."""
    held = set(plans_of(account_id)) if account_id else set()
    query = visible(deps, language, None).order_by("-published_at")
    return page(query, page_number, per_page, lambda n: {**n.public(), "relevant": bool(held & set(n.concerns_plans))},
                default=10)  # fmt: skip


def get(deps: Deps, news_id: str) -> dict[str, Any]:
    """One published item; NotFound when withdrawn or not yet published."""
    view = news_view(news_id)
    if view.status != "published" or view.published_at > deps.now():
        raise NotFound("news")
    return view.public()


def staff_list(language: str | None, page_number: int, per_page: int) -> dict[str, Any]:
    """Every item, withdrawn and scheduled included, newest first."""
    query = NewsView.objects(**({"language": language} if language else {})).order_by("-published_at")
    return page(query, page_number, per_page, lambda n: n.public(staff=True))


def news_view(news_id: str) -> NewsView:
    view = NewsView.objects(id=news_id).first() if isinstance(news_id, str) else None
    if not view:
        raise NotFound("news")
    return view


def language_or_default(language: str) -> str:
    return language if language in v.LANGUAGES else "pl"


def visible(deps: Deps, language: str, account_id: str | None) -> Any:
    """Published items in a language; with account_id only those for everybody or a plan the customer holds."""
    filters: dict[str, Any] = {
        "language": language_or_default(language),
        "status": "published",
        "published_at__lte": deps.now(),
    }
    if account_id:
        filters["audience__in"] = [EVERYONE, *plans_of(account_id)]
    return NewsView.objects(**filters)
