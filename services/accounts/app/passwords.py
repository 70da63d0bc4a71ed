"""Passwords: the reset by mail (an owner's or a contact's) and the logged-in owner's change."""

from __future__ import annotations

from kernel.errors import CommandError, Forbidden, NotFound
from kernel.events import command_meta
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.app import Deps, do, login, owner_meta, raise_if
from services.accounts.app import guards as g
from services.accounts.domain import token_hash
from services.accounts.projections import AccountToken, AccountView, ContactView


def request_reset(deps: Deps, email: str, ctx: dict | None) -> dict:
    """Always answers the same and in about the same time, so nobody learns which e-mails exist;
    within the per-address and per-IP mail limits."""
    with g.steady():
        address = v.lookup_email(email)
        allowed = g.mail_allowed_from((ctx or {}).get("ip"), "password reset")
        view = AccountView.objects(email=address).first() if address else None
        contact = None
        if address and not view:
            contact = ContactView.objects(email=address, login=True, active=True).first()
        if allowed and view:
            do(deps, view.id, lambda a: a.request_password_reset() if g.may_mail(a, a.email, "password reset") else [],
               command_meta(ctx))  # fmt: skip
        elif allowed and contact:
            do(deps, contact.account_id, lambda a: a.request_contact_password_reset(contact.id)
               if g.may_mail(a, contact.email, "password reset") else [], command_meta(ctx))  # fmt: skip
    return {}


def confirm_reset(deps: Deps, token: str, password: str, ctx: dict | None) -> dict:
    raise_if({"password": code} if (code := v.check_password(password)) else {})
    found = AccountToken.objects(id=token_hash(token or ""), purpose__in=("reset", "contact_reset")).first()
    if not found:
        raise CommandError("invalid_token")
    new_hash = g.hash_password(password)
    if found.contact_id:  # a contact's own password: only their sessions end
        do(deps, found.account_id, lambda a: a.complete_contact_password_reset(found.contact_id, token, new_hash),
           command_meta(ctx))  # fmt: skip
        sessions.close_contact_sessions(found.contact_id)
        sessions.clear_failures(found.contact_id)
        return {"account_id": found.account_id, "contact_id": found.contact_id}
    do(deps, found.account_id, lambda a: a.complete_password_reset(token, new_hash), command_meta(ctx))
    sessions.close_all_sessions(found.account_id)
    sessions.clear_failures(found.account_id)
    return {"account_id": found.account_id}


def change(deps: Deps, account_id: str, current_password: str, new_password: str, code: str | None,
           keep_session_id: str | None, ctx: dict | None) -> dict[str, int]:  # fmt: skip
    """The logged-in owner sets a new password: the current one (and the second factor when on)
    first; every other session of the owner ends, this one stays."""
    if ((ctx or {}).get("actor") or {}).get("type") == "contact":
        raise Forbidden("forbidden")
    raise_if({"new_password": problem} if (problem := v.check_password(new_password)) else {})
    if not AccountView.objects(id=account_id).first():
        raise NotFound("account")
    g.check_reauthentication(account_id, current_password, code, ctx)
    new_hash = g.hash_password(new_password)
    check = g.password_check(current_password)
    g.reauthenticated(deps, account_id, ctx, lambda a: a.change_password(check, code, new_hash),
                      owner_meta(ctx, account_id))  # fmt: skip
    return {"sessions_ended": login.end_sessions_because(deps, account_id, keep_session_id, "password_changed", ctx)}
