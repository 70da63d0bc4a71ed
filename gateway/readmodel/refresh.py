"""Asking the services what the dashboard's sources show: the view process after an event, a page for an
account the view does not know yet (or not yet up to its own latest command)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway import clients, readmodel, rpc

# view source key -> the call that answers it (sent without waiting)
CALLS: dict[str, Callable[[str], rpc.PendingCall]] = {
    "contacts": lambda a: clients.start(clients.accounts.list_contacts, account_id=a),
    "billing": lambda a: clients.start(clients.billing.dashboard_summary, account_id=a),
    "domains": lambda a: clients.start(clients.domains.dashboard_summary, account_id=a),
    "support": lambda a: clients.start(clients.support.dashboard_summary, account_id=a),
    # the same for every account (readmodel.PUBLIC_KEYS): `a` is not sent
    "offer": lambda a: clients.start(clients.billing.get_current_offer),
    "news_pl": lambda a: clients.start(clients.support.dashboard_news, language="pl"),
    "news_en": lambda a: clients.start(clients.support.dashboard_news, language="en"),
}
# the service whose events of an account change a source of that account
SERVICE_SOURCES: dict[str, tuple[str, ...]] = {
    "accounts": ("contacts",),
    "billing": ("billing",),
    "domains": ("domains",),
    "support": ("support",),
}
# the service whose public events (gateway.live.CHANGES without a permission) change a public source
PUBLIC_SOURCES: dict[str, tuple[str, ...]] = {
    "billing": ("offer",),
    "support": ("news_pl", "news_en"),
}


def ask(
    account_id: str, keys: tuple[str, ...], correlation: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Ask the sources `keys` in parallel and store what they answered in the view; (answers, failures)."""
    sent_at = time.time()
    pending = {key: CALLS[key](account_id) for key in keys}
    answers, failures = rpc.gather(pending)
    readmodel.record(account_id, answers, sent_at, correlation if not failures else None)
    return answers, failures
