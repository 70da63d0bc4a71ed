"""Sections 5, 8 and 9 of the dashboard: the tickets tile, recent tickets, the latest relevant news."""

from __future__ import annotations

from typing import Any

from services.support.app import Deps, news, require_id
from services.support.projections import TicketView, iso

DASHBOARD_ITEMS = 5


def summary(deps: Deps, account_id: str, language: str) -> dict[str, Any]:
    mine = TicketView.objects(account_id=require_id(account_id, "account_id"))
    recent = mine.order_by("-updated_at").limit(DASHBOARD_ITEMS)
    latest = news.visible(deps, language, account_id).order_by("-published_at").limit(DASHBOARD_ITEMS)
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
        "news": [n.public() for n in latest],
    }
