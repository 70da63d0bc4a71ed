"""Applies gateway.permissions to every request: 403 for a contact lacking the permission a route needs,
the same 403 for a service call refused in `rpc.start`, and `can()`, `is_staff()` for templates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request, session

from gateway.auth import bearer_token, load_account
from gateway.errors import error_response
from gateway.i18n import current_language
from gateway.permissions import Forbidden, allows, required_permission
from gateway.policy import is_staff


def _denied():
    """The 403 answer: the API's error shape, or the error page."""
    if request.path.startswith("/api/"):
        return error_response(403, "permission_denied")
    return render_template("error.html", code="permission_denied"), 403


def enforce():
    """403 for a contact lacking the permission; everyone else passes on to the view
    (which still sends the anonymous to the login)."""
    permission = required_permission(request.method, request.path)
    if permission is None:
        return None
    api = request.path.startswith("/api/")
    account = load_account(bearer_token() if api else session.get("token"))
    if not account or allows(account, permission):
        return None
    g.account = account
    g.language = account.get("language") or g.language
    return _denied()


def install(blueprint: Blueprint) -> None:
    """Run `enforce` before every request of the app, answer a refused service call
    (Forbidden) with the same 403 and offer `can()` and `is_staff()` to templates."""
    blueprint.before_app_request(enforce)

    @blueprint.app_errorhandler(Forbidden)
    def forbidden(exc: Forbidden):
        g.language = (g.get("account") or {}).get("language") or current_language()
        return _denied()

    @blueprint.app_context_processor
    def permission_helpers() -> dict[str, Any]:
        return {"can": lambda permission: allows(getattr(g, "account", None), permission), "is_staff": is_staff}
