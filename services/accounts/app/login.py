"""Logging in (an owner or a contact by e-mail and password, the owner's second factor), who is
behind a bearer token, logging out, and the owner's list of active sessions."""

from __future__ import annotations

from typing import Any

from kernel.errors import CommandError, Forbidden, NotFound, Throttled, Unauthenticated
from kernel.events import command_meta
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.app import Deps, do, login_actor, record
from services.accounts.app import guards as g
from services.accounts.projections import AccountView, ContactView


def login(deps: Deps, email: str, password: str, ctx: dict | None) -> dict[str, Any]:
    """Owner or contact by e-mail and password. An owner with 2FA gets a challenge instead of a
    session: `second_factor` finishes the login."""
    ctx = ctx or {}
    ip = ctx.get("ip")
    email = v.lookup_email(email)
    view = AccountView.objects(email=email).first() if email else None
    contact = None if view or not email else ContactView.objects(email=email, login=True, active=True).first()
    who = view.id if view else contact.id if contact else None
    if sessions.is_throttled(who, ip):
        raise Throttled("too_many_attempts")
    stored_hash = view.password_hash if view else contact.password_hash if contact else None
    if not g.password_matches(stored_hash, password or ""):
        sessions.record_failure(who, ip)
        if view or contact:
            account_id = view.id if view else contact.account_id
            data = {"ip": ip, "reason": "bad_password", **({"contact_id": contact.id} if contact else {})}
            record(deps, account_id, "login_failed", data, ctx, login_actor(account_id, contact))
        raise Unauthenticated("invalid_credentials")
    if contact:
        return _open_session(deps, contact.account_id, ctx, contact)
    if not view.verified_once:
        raise Forbidden("email_not_verified")
    if view.two_factor:
        return {"two_factor_required": True, "challenge": sessions.open_challenge(view.id, ip)}
    return _open_session(deps, view.id, ctx)


def second_factor(deps: Deps, challenge: str, code: str, ctx: dict | None) -> dict[str, Any]:
    """Second step: a code from the authenticator app or an unused recovery code."""
    ctx = ctx or {}
    ip = ctx.get("ip")
    found = sessions.find_challenge(challenge)
    if not found:
        raise Unauthenticated("login_expired")
    if sessions.is_throttled(found.account_id, ip):
        raise Throttled("too_many_attempts")
    try:  # an authenticator code is accepted once (its time step is remembered, as an event)
        do(deps, found.account_id, lambda a: a.second_factor(code),
           command_meta(ctx, actor=login_actor(found.account_id)))  # fmt: skip
    except CommandError as exc:
        if exc.code == "invalid_input":
            sessions.record_failure(found.account_id, ip)
            record(deps, found.account_id, "login_failed", {"ip": ip, "reason": "bad_code"}, ctx)
        raise
    sessions.close_challenge(found)
    return _open_session(deps, found.account_id, ctx)


def _open_session(deps: Deps, account_id: str, ctx: dict, contact: ContactView | None = None) -> dict[str, Any]:
    ip = ctx.get("ip")
    token, session = sessions.open_session(account_id, ip, ctx.get("user_agent"), contact.id if contact else None)
    sessions.clear_failures(contact.id if contact else account_id)
    who = {"contact_id": contact.id} if contact else {}
    record(deps, account_id, "login_succeeded", {"ip": ip, "session_id": session.session_id, **who}, ctx,
           login_actor(account_id, contact))  # fmt: skip
    return {"token": token, "account_id": account_id, "session_id": session.session_id, **who}


def authenticate(token: str) -> dict[str, Any] | None:
    """Who is behind a bearer token, or None. A contact gets the OWNER's account_id (so every call
    stays scoped to the owner's data) plus their own permissions."""
    session = sessions.find_session(token)
    if not session:
        return None
    view = AccountView.objects(id=session.account_id).first()
    if not view:
        return None
    found = {**view.public(), "session_id": session.session_id, "contact_id": None,
             "permissions": list(v.PERMISSIONS)}  # fmt: skip
    if not session.contact_id:
        return found
    contact = ContactView.objects(id=session.contact_id, account_id=view.id).first()
    if not contact:
        return None
    person = {k: getattr(contact, k) for k in ("first_name", "last_name", "email")}
    return {**found, "role": "contact", "contact_id": contact.id, "permissions": list(contact.permissions or []),
            "language": contact.language, "contact": person}  # fmt: skip


def logout(deps: Deps, token: str, ctx: dict | None) -> dict:
    session = sessions.close_session(token)
    if session:
        record(deps, session.account_id, "logged_out", {"session_id": session.session_id}, ctx or {})
    return {}


# --- the owner's active sessions -----------------------------------------------
def list_sessions(account_id: str, current_session_id: str | None) -> list[dict[str, Any]]:
    return [
        {"session_id": s.session_id, "ip": s.ip, "user_agent": s.user_agent,
         "created_at": s.created_at.isoformat() + "Z", "current": s.session_id == current_session_id}
        for s in sessions.live_sessions(account_id)
    ]  # fmt: skip


def end_session(deps: Deps, account_id: str, session_id: str, ctx: dict | None) -> dict:
    if not sessions.close_session_by_id(account_id, session_id):
        raise NotFound("session")
    record(deps, account_id, "session_ended", {"session_id": session_id}, ctx or {})
    return {}


def end_other_sessions(deps: Deps, account_id: str, current_session_id: str, ctx: dict | None) -> dict:
    ended = sessions.close_other_sessions(account_id, current_session_id)
    if ended:
        record(deps, account_id, "other_sessions_ended", {"count": ended, "kept": current_session_id}, ctx or {})
    return {"ended": ended}


def end_sessions_because(deps: Deps, account_id: str, keep_session_id: str | None, why: str,
                         ctx: dict | None) -> int:  # fmt: skip
    """After a new password or e-mail: every session ends but `keep_session_id` (all when None)."""
    if keep_session_id:
        ended = sessions.close_other_sessions(account_id, keep_session_id)
    else:
        ended = sessions.close_all_sessions(account_id)
    if ended:
        record(deps, account_id, "other_sessions_ended", {"count": ended, "kept": keep_session_id, "why": why},
               ctx or {})  # fmt: skip
    return ended
