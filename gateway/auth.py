"""Who is asking: a session cookie for pages, a bearer token for the API."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Response, abort, g, redirect, request, session, url_for
from pymongo.errors import PyMongoError

from gateway import clients, readmodel
from gateway.caller import request_correlation

log = logging.getLogger(__name__)
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_account(token: str | None) -> dict[str, Any] | None:
    """The account behind a token, once per request (the permission check and the view both need it):
    from the gateway's session view (gateway.readmodel, kept current by accounts' events), else asked
    of accounts and remembered there. `g.session_pending`: this session's commands the dashboard view
    may not have applied yet."""
    if not token:
        return None
    cached = g.get("_authenticated")
    if cached and cached[0] == token:
        return cached[1]
    known = _session_view(token)
    g.session_pending = list((known or {}).get("pending") or [])
    account = known["account"] if known else _ask_accounts(token)
    g._authenticated = (token, account)
    return account


def _session_view(token: str) -> dict[str, Any] | None:
    if not readmodel.available():
        return None
    try:
        return readmodel.session(token)
    except PyMongoError as exc:  # the gateway's database is away: accounts answers instead
        log.warning("session view unavailable: %r", exc)
        readmodel.mark_down()
        return None


def _ask_accounts(token: str) -> dict[str, Any] | None:
    asked_at = time.time()
    account = clients.accounts.authenticate(token=token)
    if account and readmodel.available():
        try:
            readmodel.remember_session(token, account, asked_at)
            g.session_pending = readmodel.pending_of(token)
        except PyMongoError as exc:
            log.warning("session view not updated: %r", exc)
            readmodel.mark_down()
    return account


def current_token() -> str | None:
    """The token this request was authenticated with."""
    cached = g.get("_authenticated")
    return cached[0] if cached and cached[1] else None


def note_command(response: Response) -> Response:
    """After a command that went through, remember its correlation id in the session view: this session's
    next dashboard waits (a bounded few ms) for the dashboard view to have applied its events."""
    token = current_token()
    if (token and request.method in COMMAND_METHODS and response.status_code < 400 and "correlation_id" in g
            and readmodel.available()):  # fmt: skip
        try:
            readmodel.note_command(token, request_correlation())
        except PyMongoError as exc:
            log.warning("command not noted for read-your-writes: %r", exc)
    return response


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
