"""Everything we hold about a customer, as one JSON document (GDPR art. 15 and 20).

Accounts answers for the profile, contacts, sessions and history; the other
services are asked in parallel, and a section whose service does not answer is
marked unavailable instead of failing the whole export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import clients, rpc
from kernel import clock

PAGE = 100
# section -> the paged listing (a clients method taking account_id, page and per_page)
PAGED: dict[str, Callable[..., dict[str, Any]]] = {
    "services": clients.billing.list_services,
    "invoices": clients.billing.list_invoices,
    "tickets": clients.support.list_tickets,
    "domains": clients.domains.list_domains,
    "mails": clients.notifications.list_mails,
}


def _start(account_id: str, section: str, page: int) -> rpc.PendingCall:
    return clients.start(PAGED[section], account_id=account_id, page=page, per_page=PAGE)


def _remaining_pages(account_id: str, section: str, first: dict[str, Any]) -> list[dict]:
    items = list(first.get("items") or [])
    total = int(first.get("total") or len(items))
    page = 1
    while len(items) < total and page * PAGE < total:
        page += 1
        items.extend(_start(account_id, section, page).result().get("items") or [])
    return items


def gather_export(account: dict[str, Any]) -> dict[str, Any]:
    account_id = account["account_id"]
    calls = {"account": clients.start(clients.accounts.export_account, account_id=account_id),
             **{section: _start(account_id, section, 1) for section in PAGED}}  # fmt: skip
    results, failures = rpc.gather(calls)
    if "account" not in results:
        raise rpc.ServiceUnavailable("accounts")
    out: dict[str, Any] = {"exported_at": clock.now().isoformat() + "Z", **results["account"]}
    for section in PAGED:
        out[section] = _remaining_pages(account_id, section, results[section]) if section in results else None
    out["unavailable"] = sorted(failures)
    return out
