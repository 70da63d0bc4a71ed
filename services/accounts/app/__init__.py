"""Accounts' application layer: one module per concern (registration, login and sessions, passwords,
profile and settings, contacts, two-factor login, history and export, the mailing list, staff tools),
each of plain functions.

A function takes `Deps` (kernel.app: the event store and the clock; accounts calls no other
service), decides through the Account aggregate (`services.accounts.domain`), keeps the operational
state beside the events through `services.accounts.sessions`, reads the read models
(`services.accounts.projections`) and returns plain data; `services.accounts.service` only exposes
them as Nameko entrypoints.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel.aggregate import execute
from kernel.app import Deps
from kernel.errors import Invalid, NotFound
from kernel.events import NewEvent, command_meta
from services.accounts.domain import Account, account_stream
from services.accounts.projections import AccountView, ContactView

__all__ = ["Deps", "account_view", "actor_of", "do", "login_actor", "owner_meta", "raise_if", "record"]


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid("invalid_input", errors)


def account_view(account_id: str) -> AccountView:
    view = AccountView.objects(id=account_id).first()
    if not view:
        raise NotFound("account")
    return view


def actor_of(ctx: dict | None, account_id: str) -> dict:
    """The caller's actor, or the owner when the call carries none."""
    return (ctx or {}).get("actor") or {"type": "account", "id": account_id}


def owner_meta(ctx: dict | None, account_id: str) -> dict:
    return command_meta(ctx, actor=actor_of(ctx, account_id))


def login_actor(account_id: str, contact: ContactView | None = None) -> dict[str, str]:
    if contact:
        return {"type": "contact", "id": contact.id, "account_id": account_id}
    return {"type": "account", "id": account_id}


def do(deps: Deps, account_id: str, decide: Callable[[Account], list], meta: dict) -> Account:
    """Decide on the account's current state and store what was decided."""
    account, _ = execute(deps.events, Account, account_stream(account_id), decide, meta)
    return account


def record(deps: Deps, account_id: str, event_type: str, data: dict, ctx: dict,
           actor: dict | None = None) -> None:  # fmt: skip
    """Store a fact about the account (a login, a session ended) that needs no decision."""
    do(deps, account_id, lambda a: [NewEvent(event_type, data)],
       command_meta(ctx, actor=actor or ctx.get("actor") or login_actor(account_id)))  # fmt: skip
