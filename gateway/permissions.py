"""Who may do what: ONE table for every page and API route a contact can reach.

The owner may do everything; a contact (who logs in for the owner's account)
only what the owner granted. `enforce` runs before every request (registered by
views/account_pages.py): the first rule whose method and path match names the
permission needed; a path no rule matches needs none (login, news, the catalogue).
Services keep scoping every call to the owner's account_id.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, render_template, request, session

from gateway.auth import bearer_token, load_account
from gateway.errors import error_response

OWNER = "owner"  # only the account owner, never a contact
READ = ("GET", "HEAD", "OPTIONS")
ANY = "*"
# Accepts the page path and its /api/v1 twin: "(api/v1/)?invoices".
_ID = r"[^/]+"

# (methods, path pattern, permission or None for "anyone logged in")
RULES: list[tuple[tuple[str, ...] | str, str, str | None]] = [
    # the account itself: security, sessions, history, export, e-mail history
    (ANY, r"/(api/v1/)?account(/.*)?", OWNER),
    (ANY, r"/(api/v1/)?emails(/.*)?", OWNER),
    # section 1
    (READ, r"/settings", "profile.view"),
    (ANY, r"/settings", "profile.edit"),
    (READ, r"/api/v1/profile", "profile.view"),
    (ANY, r"/api/v1/profile", "profile.edit"),
    # section 2 (an invited contact accepts before they can log in)
    (ANY, r"/contacts/accept", None),
    (ANY, r"/(api/v1/)?contacts(/.*)?", "contacts.manage"),
    # ordering
    (ANY, r"/order(/.*)?", "orders.place"),
    (ANY, r"/(api/v1/)?cart(/.*)?", "orders.place"),
    # invoices and payments
    (ANY, rf"/(api/v1/)?invoices/{_ID}/pay", "invoices.pay"),
    (ANY, r"/invoices/pay-all", "invoices.pay"),
    (ANY, r"/sandbox-pay(/.*)?", "invoices.pay"),
    (ANY, r"/payments/return", "invoices.pay"),
    (READ, r"/(api/v1/)?invoices(/.*)?", "invoices.view"),
    (ANY, r"/(api/v1/)?invoices(/.*)?", "invoices.pay"),
    # hosting services and their renewals
    (READ, r"/(api/v1/)?(services|renewals)(/.*)?", "services.view"),
    (ANY, r"/(api/v1/)?(services|renewals)(/.*)?", "services.manage"),
    # domains
    (READ, r"/(api/v1/)?domains(/.*)?", "domains.view"),
    (ANY, r"/(api/v1/)?domains(/.*)?", "domains.manage"),
    # support tickets
    (READ, r"/(api/v1/)?tickets(/.*)?", "tickets.view"),
    (ANY, r"/(api/v1/)?tickets(/.*)?", "tickets.open"),
]
_COMPILED = [(methods, re.compile(pattern), permission) for methods, pattern, permission in RULES]


def required_permission(method: str, path: str) -> str | None:
    """The permission a request needs, or None when anyone logged in may make it."""
    path = path.rstrip("/") or "/"
    for methods, pattern, permission in _COMPILED:
        if (methods == ANY or method in methods) and pattern.fullmatch(path):
            return permission
    return None


def allows(account: dict[str, Any] | None, permission: str | None) -> bool:
    """Whether this account (owner or contact) may do what `permission` names."""
    if permission is None:
        return True
    if not account:
        return False
    if account.get("role") != "contact":
        return True
    return permission != OWNER and permission in (account.get("permissions") or [])


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
    if api:
        return error_response(403, "permission_denied")
    return render_template("error.html", code="permission_denied"), 403


def install(blueprint: Blueprint) -> None:
    """Run `enforce` before every request of the app and offer `can()` to templates."""
    blueprint.before_app_request(enforce)

    @blueprint.app_context_processor
    def permission_helpers() -> dict[str, Any]:
        return {"can": lambda permission: allows(getattr(g, "account", None), permission)}
