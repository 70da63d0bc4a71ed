"""Who is asking: a session cookie for pages, a bearer token for the API."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import abort, g, redirect, request, session, url_for

from gateway import clients


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_account(token: str | None) -> dict[str, Any] | None:
    """The account behind a token, asked once per request (the permission check
    and the view both need it)."""
    if not token:
        return None
    cached = g.get("_authenticated")
    if cached and cached[0] == token:
        return cached[1]
    account = clients.accounts.authenticate(token=token)
    g._authenticated = (token, account)
    return account


def page_login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.account = load_account(session.get("token"))
        if not g.account:
            session.pop("token", None)
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


# --- CSRF: a per-session secret echoed by every form -----------------------
def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="csrf")
