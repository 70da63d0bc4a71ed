"""The dashboard: read from the gateway's dashboard view, else one parallel fan-out to the services.

The view (gateway.readmodel, kept by `python -m gateway.readmodel` from every service's events) is one
query. A page falls back to asking the services when the view does not know the account yet, or has not
applied this session's latest command within DASHBOARD_VIEW_WAIT_MS (read your own writes); what they
answer is stored in the view. A section whose service is away (the view process has not seen it answer
for a few seconds, or it failed to answer the fan-out) is shown as last known, with `known_at` saying
since when, as long as the view has it.

A service that is down or slow costs only its own sections: they are listed in
`unavailable`; sections whose feature is not built yet are in `not_built`. A
contact sees only the sections their permissions allow: the others are listed in
`hidden`, left empty, and a source none of whose sections they may see is not asked
(should the service-call table refuse a source anyway, its sections are hidden too).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from typing import Any

from flask import g
from pymongo.errors import PyMongoError

from gateway import policy, readmodel, rpc
from gateway.auth import current_token
from gateway.permissions import Forbidden, Permission, allows, visible_renewals
from gateway.readmodel.refresh import CALLS

log = logging.getLogger(__name__)

# source -> the sections it feeds
SOURCES: dict[str, tuple[str, ...]] = {
    "contacts": ("contacts",),
    "billing": ("tiles.services", "tiles.unpaid_invoices", "active_services", "renewals"),
    "domains": ("tiles.domains",),
    "support": ("tiles.tickets", "recent_tickets", "news"),  # and the plans held, which pick the news
    # the same for every account (one row of the view each)
    "offer": ("offer",),
    "news": ("news",),  # the latest of each audience in the page's language
}

# source -> the service that answers it
SERVICE_OF = {"contacts": "accounts", "billing": "billing", "domains": "domains", "support": "support",
              "offer": "billing", "news": "support"}  # fmt: skip
EVERYONE = "*"  # the audience of news that concern every customer (support's NewsView.audience)
NEWS_ITEMS = 5
VIEW_WAIT_SECONDS = float(os.environ.get("DASHBOARD_VIEW_WAIT_MS", "200")) / 1000
VIEW_ON = os.environ.get("DASHBOARD_VIEW", "on") != "off"  # off: always the fan-out (the benchmark's "before")
POLL_SECONDS = 0.005

# section -> the permission a contact needs to see it (the others are for everyone): gateway/policy.py
SECTION_PERMISSIONS: dict[str, Permission] = policy.section_permissions()

SHORTCUTS = [
    {"key": "order_service", "href": "/order"},
    {"key": "register_domain", "href": "/domains/search"},
]


def hidden_sections(account: dict[str, Any]) -> list[str]:
    return sorted(section for section, permission in SECTION_PERMISSIONS.items() if not allows(account, permission))


def build(account: dict[str, Any]) -> dict[str, Any]:
    account_id, language = account["account_id"], account.get("language", "pl")
    hidden = hidden_sections(account)
    keys = {source: readmodel.source_key(source, language) for source in SOURCES
            if not set(SOURCES[source]) <= set(hidden)}  # fmt: skip
    pending = list(g.get("session_pending") or [])
    view = _caught_up_view(account_id, list(keys.values()), pending) if VIEW_ON and readmodel.available() else None
    if view is not None:
        results = {source: view["sources"][key]["data"] for source, key in keys.items()}
        failures: dict[str, str] = {}
        known = {source: view["sources"][key]["sent_at"] for source, key in keys.items()
                 if SERVICE_OF[source] in readmodel.away_services()}  # fmt: skip
        served_from = "view"
    else:
        served_from = "services"
        results, failures, hidden, known = _ask_services(account_id, keys, hidden)
    if pending and not failures:
        _clear_pending(pending)
    d = _assemble(account, results, failures)
    for section in hidden:
        group, _, key = section.partition(".")
        if key:
            d[group][key] = None
        else:
            d[section] = {} if section == "profile" else []
    d["hidden"] = hidden
    d["greeting_name"] = (account.get("contact") or {}).get("first_name") or account.get("first_name")
    d["known_sections"] = sorted({section for source in known for section in SOURCES[source]})
    d["known_at"] = _iso(min(known.values())) if known else None
    d["served_from"] = served_from  # "view": the gateway's dashboard view; "services": the fan-out
    return d


def _caught_up_view(account_id: str, keys: list[str], pending: list[str]) -> dict[str, Any] | None:
    """The account's view once it holds every source and has applied this session's commands (waiting at
    most VIEW_WAIT_SECONDS for that), else None: ask the services."""
    deadline = time.monotonic() + VIEW_WAIT_SECONDS
    try:
        while True:
            view = readmodel.view(account_id)
            if not view or any(key not in (view.get("sources") or {}) for key in keys):
                return None
            if set(pending) <= set(view.get("applied") or ()):
                return view
            if time.monotonic() >= deadline:
                log.info("dashboard view of %s not caught up within %.0f ms", account_id, VIEW_WAIT_SECONDS * 1000)
                return None
            time.sleep(POLL_SECONDS)
    except PyMongoError as exc:
        log.warning("dashboard view unavailable: %r", exc)
        readmodel.mark_down()
        return None


def _ask_services(account_id: str, keys: dict[str, str], hidden: list[str]):
    """The fan-out: (results, failures, hidden, known). What the services answer is stored in the view; a
    source that failed is taken from the view, if it has it, as known at its time."""
    visible, sent_at = {}, time.time()
    for source, key in keys.items():
        try:
            visible[source] = CALLS[key](account_id)
        except Forbidden:  # the service-call table says no: its sections are hidden, not an error
            log.warning("dashboard: %s refused by the service-call table; its sections are hidden", source)
            hidden = sorted({*hidden, *SOURCES[source]})
    results, failures = rpc.gather(visible)
    known: dict[str, float] = {}
    if not readmodel.available():
        return results, failures, hidden, known
    try:
        readmodel.record(account_id, {keys[source]: data for source, data in results.items()}, sent_at)
        if failures:
            stored = (readmodel.view(account_id) or {}).get("sources") or {}
            for source in [s for s in failures if keys[s] in stored]:
                results[source] = stored[keys[source]]["data"]
                known[source] = stored[keys[source]]["sent_at"]
                del failures[source]
    except PyMongoError as exc:
        log.warning("dashboard view not updated: %r", exc)
        readmodel.mark_down()
    return results, failures, hidden, known


def _clear_pending(pending: list[str]) -> None:
    token = current_token()
    if token:
        try:
            readmodel.clear_pending(token, pending)
        except PyMongoError as exc:
            log.warning("pending commands not cleared: %r", exc)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _assemble(account: dict[str, Any], results: dict[str, Any], failures: dict[str, str]) -> dict[str, Any]:
    billing = results.get("billing") or {}
    support = results.get("support") or {}
    domains = results.get("domains") or {}
    tiles = {
        "services": (billing.get("tiles") or {}).get("services"),
        "domains": (domains.get("tiles") or {}).get("domains"),
        "unpaid_invoices": (billing.get("tiles") or {}).get("unpaid_invoices"),
        "tickets": (support.get("tiles") or {}).get("tickets"),
    }
    return {
        "profile": build_profile(account),
        "contacts": results.get("contacts") or [],
        "shortcuts": SHORTCUTS,
        "offer": results.get("offer"),
        "tiles": tiles,
        "active_services": billing.get("active_services") or [],
        "renewals": visible_renewals(account, billing.get("renewals") or []),
        "news": news_of(results.get("news"), support.get("plans")),
        "recent_tickets": support.get("recent_tickets") or [],
        "unavailable": _sections(failures, "unavailable"),
        "not_built": _sections(failures, "not_built"),
    }


def news_of(latest: dict[str, Any] | None, plans: list[str] | None) -> list[dict[str, Any]]:
    """A customer's latest news: from the latest of each audience (support's `dashboard_news`), those for
    everybody and for the plans they hold, newest first."""
    by_audience = (latest or {}).get("by_audience") or {}
    mine: dict[str, dict[str, Any]] = {}
    for audience in (EVERYONE, *(plans or ())):
        for item in by_audience.get(audience) or ():
            mine.setdefault(item["news_id"], item)
    return sorted(mine.values(), key=lambda item: dt.datetime.fromisoformat(item["published_at"]),
                  reverse=True)[:NEWS_ITEMS]  # fmt: skip


def _sections(failures: dict[str, str], reason: str) -> list[str]:
    return sorted({section for source, why in failures.items() if why == reason for section in SOURCES[source]})


def build_profile(account: dict[str, Any]) -> dict[str, Any]:
    keep = ("account_id", "email", "email_verified", "first_name", "last_name", "phone", "language",
            "billing_address", "notification_preferences", "mailing_list")  # fmt: skip
    return {k: account.get(k) for k in keep}
