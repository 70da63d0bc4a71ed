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
    "support_pl": lambda a: clients.start(clients.support.dashboard_summary, account_id=a, language="pl"),
    "support_en": lambda a: clients.start(clients.support.dashboard_summary, account_id=a, language="en"),
}
# the service whose events change a source
SERVICE_SOURCES: dict[str, tuple[str, ...]] = {
    "accounts": ("contacts",),
    "billing": ("billing",),
    "domains": ("domains",),
    "support": ("support_pl", "support_en"),
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
