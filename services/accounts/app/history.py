"""The account's history (every event, newest first, read from the event store; never a secret) and
the data export (profile, contacts, sessions, full history)."""

from __future__ import annotations

from typing import Any

from kernel.contracts import SECRET_FIELDS
from kernel.events import Event
from services.accounts.app import Deps, account_view, login
from services.accounts.domain import account_stream
from services.accounts.projections import ContactView


def without_secrets(value: Any) -> Any:
    """A copy of event data with every secret field (tokens, hashes, TOTP secret) left out."""
    if isinstance(value, dict):
        return {k: without_secrets(x) for k, x in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [without_secrets(x) for x in value]
    return value


def contact_names(events: list[Event]) -> dict[str, str]:
    """contact id -> name, so the history can say which contact acted (even one removed since)."""
    return {
        e.data["contact_id"]: f"{e.data.get('first_name', '')} {e.data.get('last_name', '')}".strip()
        for e in events
        if e.type == "contact_added"
    }


def history_entry(event: Event, names: dict[str, str] | None = None) -> dict[str, Any]:
    actor = event.meta.get("actor") or {"type": "system"}
    shown = {k: actor[k] for k in ("type", "id") if k in actor}
    if actor.get("type") == "contact" and (names or {}).get(actor.get("id")):
        shown["name"] = names[actor["id"]]
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat() + "Z",
        "actor": shown,
        "ip": event.data.get("ip") or event.meta.get("ip"),
        "data": without_secrets(event.data),
    }


def page(deps: Deps, account_id: str, page: int, per_page: int) -> dict[str, Any]:
    account_view(account_id)
    events = list(reversed(deps.events.load(account_stream(account_id))))
    page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
    names = contact_names(events)
    items = [history_entry(e, names) for e in events[(page - 1) * per_page : page * per_page]]
    return {"items": items, "total": len(events), "page": page, "per_page": per_page}


def export(deps: Deps, account_id: str) -> dict[str, Any]:
    profile = account_view(account_id).public()
    contacts = [c.public() for c in ContactView.objects(account_id=account_id)]
    events = deps.events.load(account_stream(account_id))
    names = contact_names(events)
    history = [history_entry(e, names) for e in events]
    return {"profile": profile, "contacts": contacts, "sessions": login.list_sessions(account_id, None),
            "history": history}  # fmt: skip
