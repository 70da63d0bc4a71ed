"""Who may do what, applied: the tables of gateway.policy turned into checks.

The owner may do everything; a contact (who logs in for the owner's account) only what the owner
granted. What each permission allows is written once, in gateway/policy.py; here it is read as

- RULES, for every page and API route: `gateway.guard.enforce` runs before every request, the first
  rule whose method and path match names the permission needed (a tuple: any one of them); a path no
  rule matches needs none (login, news, the catalogue);
- SERVICE_CALLS, what each service call ("service.method") the gateway makes needs: `rpc.start`
  checks it (`check_call`) while serving a contact, so a view or dashboard fan-out that forgot a rule
  above still cannot read or change what the contact may not. A call missing from the table is
  refused for contacts (and logged); tests/test_service_call_permissions.py keeps it complete.
  Checks on arguments read them by parameter name (the typed clients, gateway/clients.py, send
  keyword arguments only); a call whose arguments came positionally fails such a check (refused);
- RENEWAL_VIEW, which renewal kinds a contact sees.

Services keep scoping every call to the owner's account_id (and refuse another one: kernel.caller).
This module only decides (no I/O); gateway.guard applies it to requests.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import g, has_request_context, request

from gateway import policy
from gateway.policy import ANY, OWNER, STAFF, CallCheck, Permission, is_contact

__all__ = ["ANY", "OWNER", "STAFF", "RULES", "SERVICE_CALLS", "RENEWAL_VIEW", "Forbidden", "Permission",
           "CallCheck", "allows", "call_allowed", "check_call", "required_permission", "visible_renewals"]  # fmt: skip
log = logging.getLogger(__name__)

# (methods, path pattern, permission), matched in order
RULES = policy.route_rules()
_COMPILED = [(methods, re.compile(pattern), permission) for methods, pattern, permission in RULES]
# "service.method" -> what a contact needs to make the call (None: anyone logged in; OWNER / STAFF: never
# a contact); a tuple: any one of its permissions or checks is enough.
SERVICE_CALLS = policy.service_calls()
# a renewal item's kind -> what a contact needs to see it (on /renewals, the API, section 7)
RENEWAL_VIEW = policy.renewal_view()


def required_permission(method: str, path: str) -> Permission:
    """The permission a request needs, or None when anyone logged in may make it."""
    path = path.rstrip("/") or "/"
    for methods, pattern, permission in _COMPILED:
        if (methods == ANY or method in methods) and pattern.fullmatch(path):
            return permission
    return None


def allows(account: dict[str, Any] | None, permission: Permission) -> bool:
    """Whether this account (owner or contact) may do what `permission` names
    (for a tuple: any one of them)."""
    if isinstance(permission, tuple):
        return any(allows(account, one) for one in permission)
    if permission is None:
        return True
    if not account:
        return False
    if not is_contact(account):
        return True
    return permission != OWNER and permission in (account.get("permissions") or [])


class Forbidden(Exception):
    """A service call the contact being served may not make (the gateway answers 403)."""


def call_allowed(account: dict[str, Any] | None, service: str, method: str,
                 arguments: dict[str, Any] | None = None) -> bool:  # fmt: skip
    """Whether `account` may make this service call with these arguments (by parameter name): only
    contacts are limited, by SERVICE_CALLS; a call the table does not name is refused to them."""
    if not is_contact(account):
        return True
    name = f"{service}.{method}"
    if name not in SERVICE_CALLS:
        return False
    needed = SERVICE_CALLS[name]
    options = needed if isinstance(needed, tuple) else (needed,)
    arguments = arguments or {}
    return any(option(account, arguments) if callable(option) else allows(account, option) for option in options)


def check_call(service: str, method: str, arguments: dict[str, Any] | None = None) -> None:
    """Run by rpc.start: inside a request served for a contact (`g.account`), a call they may not make
    raises Forbidden instead of being sent."""
    if not has_request_context():
        return
    account = g.get("account")
    if call_allowed(account, service, method, arguments):
        return
    name = f"{service}.{method}"
    if name not in SERVICE_CALLS:
        log.error("%s is not in permissions.SERVICE_CALLS: refused for contact %s on %s %s", name,
                  account.get("contact_id"), request.method, request.path)  # fmt: skip
    else:
        log.warning("contact %s may not call %s (%s %s)", account.get("contact_id"), name, request.method,
                    request.path)  # fmt: skip
    raise Forbidden(name)


def visible_renewals(account: dict[str, Any] | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The renewal items this account may see: a contact sees hosting renewals with services.view
    and domain renewals with domains.view; an item of an unknown kind only the owner."""
    return [item for item in items if allows(account, RENEWAL_VIEW.get(item.get("kind"), OWNER))]
