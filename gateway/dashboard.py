"""The dashboard: one parallel fan-out to the services, ten seed sections back.

A service that is down or slow costs only its own sections: they are listed in
`unavailable`; sections whose feature is not built yet are in `not_built`.
"""

from __future__ import annotations

from typing import Any

from gateway import rpc

# source -> the sections it feeds
SOURCES: dict[str, tuple[str, ...]] = {
    "contacts": ("contacts",),
    "billing": ("offer", "tiles.services", "tiles.unpaid_invoices", "active_services", "renewals"),
    "domains": ("tiles.domains",),
    "support": ("tiles.tickets", "recent_tickets", "news"),
}

SHORTCUTS = [
    {"key": "order_service", "href": "/order"},
    {"key": "register_domain", "href": "/domains/search"},
]


def build(account: dict[str, Any]) -> dict[str, Any]:
    account_id, language = account["account_id"], account.get("language", "pl")
    calls = {
        "contacts": rpc.start("accounts", "list_contacts", account_id),
        "billing": rpc.start("billing", "dashboard_summary", account_id),
        "domains": rpc.start("domains", "dashboard_summary", account_id),
        "support": rpc.start("support", "dashboard_summary", account_id, language),
    }
    results, failures = rpc.gather(calls)
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
        "renewals": billing.get("renewals") or [],
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
