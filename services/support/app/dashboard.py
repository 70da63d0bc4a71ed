"""Sections 5, 8 and 9 of the dashboard: the tickets tile, recent tickets, the latest relevant news.

The news are answered once for every customer (`latest_news`: the latest items of each audience, i.e.
everybody and each plan); a customer's summary says which plans they hold, and the gateway picks their
news from the two. So a news item published, changed or going live refreshes one document of the
gateway's dashboard view, not one per account (issue #17)."""

from __future__ import annotations

from typing import Any

from services.support.app import Deps, news, require_id
from services.support.projections import TicketView, iso, plans_of

DASHBOARD_ITEMS = 5


def summary(account_id: str) -> dict[str, Any]:
    mine = TicketView.objects(account_id=require_id(account_id, "account_id"))
    recent = mine.order_by("-updated_at").limit(DASHBOARD_ITEMS)
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
        ],  # fmt: skip
        "plans": plans_of(account_id),
    }


def latest_news(deps: Deps, language: str) -> dict[str, Any]:
    """{"language", "by_audience": {audience: the latest DASHBOARD_ITEMS published items}}; an audience is
    EVERYONE or a plan. A customer's latest news are among the lists of EVERYONE and their plans."""
    published = news.visible(deps, language, None)
    by_audience = {
        audience: [
            n.public() for n in published.filter(audience=audience).order_by("-published_at").limit(DASHBOARD_ITEMS)
        ]
        for audience in sorted(published.distinct("audience"))
    }
    return {"language": news.language_or_default(language), "by_audience": by_audience}
