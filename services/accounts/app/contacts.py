"""Contacts (seed section 2): people the owner adds, with permissions and chosen mail.

A contact with a login gets an invitation, sets a password and then acts for the owner's account
within their permissions (the gateway enforces them); a contact without a login only receives the
mail categories chosen for them.
"""

from __future__ import annotations

from typing import Any

from kernel.errors import CommandError, Invalid, NotFound
from kernel.events import command_meta, new_id
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.app import Deps, account_view, actor_of, do, owner_meta, raise_if
from services.accounts.app import guards as g
from services.accounts.domain import token_hash
from services.accounts.projections import AccountToken, ContactView

CONTACT_FIELDS = ("first_name", "last_name", "phone", "language", "address", "permissions", "categories")


def list_all(account_id: str) -> list[dict[str, Any]]:
    return [c.public() for c in ContactView.objects(account_id=account_id).order_by("last_name", "first_name")]


def get(account_id: str, contact_id: str) -> dict[str, Any]:
    found = ContactView.objects(id=contact_id, account_id=account_id).first()
    if not found:
        raise NotFound("contact")
    return found.public()


def add(deps: Deps, account_id: str, data: dict[str, Any], ctx: dict | None) -> dict[str, Any]:
    account_view(account_id)
    if not isinstance(data, dict):
        raise Invalid("invalid_input")
    clean, errors = v.check_contact(data, creating=True)
    raise_if(errors)
    contact_id = new_id()
    if clean["login"]:
        g.claim_contact_email(deps, clean["email"], account_id, contact_id)
    try:
        do(deps, account_id, lambda a: a.add_contact(contact_id, clean, actor_of(ctx, account_id)),
           owner_meta(ctx, account_id))  # fmt: skip
    except Exception:
        g.release_email(clean["email"], contact_id=contact_id)
        raise
    return ContactView.objects(id=contact_id).first().public()


def update(deps: Deps, account_id: str, contact_id: str, changes: dict[str, Any], ctx: dict | None) -> dict[str, Any]:
    get(account_id, contact_id)
    if not isinstance(changes, dict):
        raise Invalid("invalid_input")
    raise_if({k: "unknown_field" for k in changes if k in ("email", "login") or k not in CONTACT_FIELDS})
    clean, errors = v.check_contact(changes, creating=False)
    raise_if(errors)
    do(deps, account_id, lambda a: a.update_contact(contact_id, clean, actor_of(ctx, account_id)),
       owner_meta(ctx, account_id))  # fmt: skip
    return get(account_id, contact_id)


def resend_invitation(deps: Deps, account_id: str, contact_id: str, ctx: dict | None) -> dict:
    """A new invitation link (the old one stops working) for a contact who has not set a password yet."""
    get(account_id, contact_id)
    do(deps, account_id, lambda a: a.resend_invitation(contact_id), owner_meta(ctx, account_id))
    return {}


def remove(deps: Deps, account_id: str, contact_id: str, ctx: dict | None) -> dict:
    """The contact is gone at once: their sessions end and their e-mail is free again."""
    get(account_id, contact_id)
    do(deps, account_id, lambda a: a.remove_contact(contact_id), owner_meta(ctx, account_id))
    sessions.close_contact_sessions(contact_id)
    sessions.EmailClaim.objects(contact_id=contact_id).delete()
    return {}


def accept_invitation(deps: Deps, token: str, password: str, ctx: dict | None) -> dict[str, str]:
    raise_if({"password": code} if (code := v.check_password(password)) else {})
    found = AccountToken.objects(id=token_hash(token or ""), purpose="contact").first()
    if not found:
        raise CommandError("invalid_token")
    new_hash = g.hash_password(password)
    actor = {"type": "contact", "id": found.contact_id, "account_id": found.account_id}
    do(deps, found.account_id, lambda a: a.accept_invitation(found.contact_id, token, new_hash),
       command_meta(ctx, actor=actor))  # fmt: skip
    return {"account_id": found.account_id, "contact_id": found.contact_id}
