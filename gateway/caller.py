"""The caller context every service call carries (signed by gateway.rpc): who acts, from where."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

from kernel.caller import system_ctx
from kernel.events import new_id


def request_ctx() -> dict[str, Any]:
    """The logged-in person of this request (anonymous before login), their client address and a
    correlation id; outside a request, the gateway itself as the system. A contact acts as
    themselves (their contact id) on the owner's account."""
    if not has_request_context():
        return system_ctx("gateway")
    account = getattr(g, "account", None)
    actor = {"type": account["role"] if account else "anonymous", "id": account["account_id"] if account else None}
    if account and account.get("contact_id"):
        actor = {"type": "contact", "id": account["contact_id"], "account_id": account["account_id"]}
    return {
        "actor": actor,
        "ip": request.remote_addr,
        "user_agent": request.headers.get("User-Agent", "")[:200],
        "correlation_id": request_correlation(),
    }


def request_correlation() -> str:
    """One correlation id for every call of this request (the gateway's view waits for its events)."""
    if "correlation_id" not in g:
        g.correlation_id = request.headers.get("X-Request-Id") or new_id()
    return g.correlation_id
