"""The dashboard: one parallel fan-out to the services, ten seed sections back.

A service that is down or slow costs only its own sections: they are listed in
`unavailable`; sections whose feature is not built yet are in `not_built`. A
contact sees only the sections their permissions allow: the others are listed in
`hidden`, left empty, and a source none of whose sections they may see is not asked
(should the service-call table refuse a source anyway, its sections are hidden too).
"""

from __future__ import annotations

import logging
from typing import Any

from gateway import clients, policy, rpc
from gateway.permissions import Forbidden, Permission, allows, visible_renewals

log = logging.getLogger(__name__)

# source -> the sections it feeds
SOURCES: dict[str, tuple[str, ...]] = {
    "contacts": ("contacts",),
    "billing": ("offer", "tiles.services", "tiles.unpaid_invoices", "active_services", "renewals"),
    "domains": ("tiles.domains",),
    "support": ("tiles.tickets", "recent_tickets", "news"),
}

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
    calls = {
        "contacts": lambda: clients.start(clients.accounts.list_contacts, account_id=account_id),
        "billing": lambda: clients.start(clients.billing.dashboard_summary, account_id=account_id),
        "domains": lambda: clients.start(clients.domains.dashboard_summary, account_id=account_id),
        "support": lambda: clients.start(clients.support.dashboard_summary, account_id=account_id, language=language),
    }
    visible = {}
    for source, start in calls.items():
        if set(SOURCES[source]) <= set(hidden):
            continue
        try:
            visible[source] = start()
        except Forbidden:  # the service-call table says no: its sections are hidden, not an error
            log.warning("dashboard: %s refused by the service-call table; its sections are hidden", source)
            hidden = sorted({*hidden, *SOURCES[source]})
    results, failures = rpc.gather(visible)
    d = _assemble(account, results, failures)
    for section in hidden:
        group, _, key = section.partition(".")
        if key:
            d[group][key] = None
        else:
            d[section] = {} if section == "profile" else []
    d["hidden"] = hidden
    d["greeting_name"] = (account.get("contact") or {}).get("first_name") or account.get("first_name")
    return d


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
        "offer": billing.get("offer"),
        "tiles": tiles,
        "active_services": billing.get("active_services") or [],
        "renewals": visible_renewals(account, billing.get("renewals") or []),
        "news": support.get("news") or [],
        "recent_tickets": support.get("recent_tickets") or [],
        "unavailable": _sections(failures, "unavailable"),
        "not_built": _sections(failures, "not_built"),
    }


def _sections(failures: dict[str, str], reason: str) -> list[str]:
    return sorted(section for source, why in failures.items() if why == reason for section in SOURCES[source])


def build_profile(account: dict[str, Any]) -> dict[str, Any]:
    keep = ("account_id", "email", "email_verified", "first_name", "last_name", "phone", "language",
            "billing_address", "notification_preferences", "mailing_list")  # fmt: skip
    return {k: account.get(k) for k in keep}
