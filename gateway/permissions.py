"""Who may do what: ONE table for every page and API route a contact can reach.

The owner may do everything; a contact (who logs in for the owner's account)
only what the owner granted. `gateway.guard.enforce` runs before every request
(registered by views/account_pages.py): the first rule whose method and path match names the
permission needed; a path no rule matches needs none (login, news, the catalogue).
A rule may name several permissions (a tuple): any one of them is enough.

The second table, SERVICE_CALLS, names what each service call ("service.method")
the gateway makes needs: `rpc.start` checks it (`check_call`) while serving a
contact, so a view or dashboard fan-out that forgot a rule above still cannot
read or change what the contact may not. A call missing from the table is refused
for contacts (and logged); tests/test_service_call_permissions.py keeps it complete.
Services keep scoping every call to the owner's account_id (and refuse another one: kernel.caller).

This module only decides (tables and rules, no I/O); gateway.guard applies it to requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import g, has_request_context, request

log = logging.getLogger(__name__)
OWNER = "owner"  # only the account owner, never a contact
STAFF = OWNER  # the staff desk's calls: never a contact's (staff pages check the staff role themselves)
READ = ("GET", "HEAD", "OPTIONS")
ANY = "*"
# Accepts the page path and its /api/v1 twin: "(api/v1/)?invoices".
_ID = r"[^/]+"

# a permission, several of which any one is enough, or None for "anyone logged in"
Permission = str | tuple[str, ...] | None
# (methods, path pattern, permission)
RULES: list[tuple[tuple[str, ...] | str, str, Permission]] = [
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
    # hosting services and their renewals; renewals list hosting and domains (each kind shown
    # only to whom may see it: visible_renewals); a domain's renewal into the cart is the domain's
    (ANY, rf"/renewals/domains/{_ID}/add", "domains.manage"),
    (READ, r"/(api/v1/)?renewals", ("services.view", "domains.view")),
    (READ, r"/(api/v1/)?(services|renewals)(/.*)?", "services.view"),
    (ANY, r"/(api/v1/)?(services|renewals)(/.*)?", "services.manage"),
    # domains: finding a free name (search, transfer form, availability) is for ordering or for
    # looking after domains; putting a registration or transfer into the cart is ordering
    (READ, r"/domains/(search|transfer)", ("orders.place", "domains.view")),
    (READ, r"/api/v1/domains/check", ("orders.place", "domains.view")),
    (ANY, r"/domains/(cart|transfer)", "orders.place"),
    (READ, rf"/api/v1/domains/{_ID}/epp-code", "domains.manage"),  # the page reveals it by POST, same permission
    (READ, r"/(api/v1/)?domains(/.*)?", "domains.view"),
    (ANY, r"/(api/v1/)?domains(/.*)?", "domains.manage"),
    # support tickets
    (READ, r"/tickets/new", "tickets.open"),  # the form to open one
    (READ, r"/(api/v1/)?tickets(/.*)?", "tickets.view"),
    (ANY, r"/(api/v1/)?tickets(/.*)?", "tickets.open"),
]
_COMPILED = [(methods, re.compile(pattern), permission) for methods, pattern, permission in RULES]


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
    if account.get("role") != "contact":
        return True
    return permission != OWNER and permission in (account.get("permissions") or [])


# --- service calls -------------------------------------------------------------
# A check on the call's arguments, for calls whose permission depends on them.
CallCheck = Callable[[dict[str, Any], tuple], bool]


def _own_language(account: dict[str, Any], args: tuple) -> bool:
    """accounts.update_contact(account_id, contact_id, changes): a contact may set their own
    language (the language switch), nothing else about themselves or anyone."""
    return len(args) >= 3 and args[1] == account.get("contact_id") and set(args[2] or {}) <= {"language"}


# billing.add_cart_item(account_id, kind, params): a renewal into the cart is also part of
# looking after that service or domain (POST /renewals/..., POST /domains/<id>/renew)
_RENEWAL_PERMISSIONS = {"hosting_renewal": "services.manage", "domain_renewal": "domains.manage"}


def _renewal_into_cart(account: dict[str, Any], args: tuple) -> bool:
    return len(args) >= 2 and allows(account, _RENEWAL_PERMISSIONS.get(args[1], ()))


# "service.method" -> what a contact needs to make the call (None: anyone logged in; OWNER /
# STAFF: never a contact); a tuple: any one of its permissions or checks is enough.
SERVICE_CALLS: dict[str, Permission | tuple[str | CallCheck, ...]] = {
    # asked by the anonymous or by anyone for themselves
    **{f"{service}.health": None for service in ("accounts", "billing", "domains", "support", "notifications")},
    "accounts.authenticate": None,
    "accounts.register": None,
    "accounts.verify_email": None,
    "accounts.resend_verification": None,
    "accounts.login": None,
    "accounts.login_second_factor": None,
    "accounts.logout": None,
    "accounts.request_password_reset": None,
    "accounts.confirm_password_reset": None,
    "accounts.accept_contact_invitation": None,
    "accounts.unsubscribe": None,
    # the account itself (security, sessions, history, export, e-mail history)
    "accounts.list_sessions": OWNER,
    "accounts.end_session": OWNER,
    "accounts.end_other_sessions": OWNER,
    "accounts.change_password": OWNER,
    "accounts.start_two_factor": OWNER,
    "accounts.confirm_two_factor": OWNER,
    "accounts.disable_two_factor": OWNER,
    "accounts.account_history": OWNER,
    "accounts.export_account": OWNER,
    "notifications.list_mails": OWNER,
    "notifications.get_mail": OWNER,
    # section 1 and section 2
    "accounts.get_profile": "profile.view",
    "accounts.update_settings": "profile.edit",
    "accounts.list_contacts": "contacts.manage",
    "accounts.get_contact": "contacts.manage",
    "accounts.add_contact": "contacts.manage",
    "accounts.update_contact": ("contacts.manage", _own_language),
    "accounts.remove_contact": "contacts.manage",
    "accounts.resend_contact_invitation": "contacts.manage",
    # dashboard summaries: the offer and the news are for everyone; the gateway leaves
    # out the sections a contact may not see (gateway/dashboard.py)
    "billing.dashboard_summary": None,
    "domains.dashboard_summary": "domains.view",
    "support.dashboard_summary": None,
    # ordering
    "billing.get_catalog": None,  # the public catalogue
    "billing.get_cart": "orders.place",
    "billing.add_cart_item": ("orders.place", _renewal_into_cart),
    "billing.update_cart_item": "orders.place",
    "billing.remove_cart_item": "orders.place",
    "billing.apply_discount_code": "orders.place",
    "billing.checkout": "orders.place",
    "billing.get_credit": ("orders.place", "invoices.view"),  # shown on the cart and on invoices
    # invoices and payments
    "billing.list_invoices": "invoices.view",
    "billing.get_invoice": "invoices.view",
    "billing.invoice_pdf": "invoices.view",
    "billing.pay_invoice": "invoices.pay",
    "billing.pay_all_unpaid": "invoices.pay",
    "billing.get_payment": "invoices.pay",
    "billing.sandbox_get_payment": "invoices.pay",
    "billing.sandbox_complete": "invoices.pay",
    "billing.handle_webhook": None,  # the payment provider's webhook, signed, no login
    # hosting services and their renewals (the new-ticket form offers a contact only the
    # services and domains they may see: support_pages.related_choices)
    "billing.list_services": "services.view",
    "billing.get_service": ("services.view", "services.manage"),
    "billing.request_cancellation": "services.manage",
    "billing.list_renewals": ("services.view", "domains.view"),
    # domains
    "domains.check": ("orders.place", "domains.view"),
    "domains.list_domains": "domains.view",
    "domains.get_domain": ("domains.view", "domains.manage"),
    "domains.update_domain": "domains.manage",
    "domains.reveal_epp_code": "domains.manage",
    "domains.retry_registration": "domains.manage",
    # support tickets and news
    "support.list_tickets": "tickets.view",
    "support.get_ticket": ("tickets.view", "tickets.open"),  # a reply re-reads the ticket
    "support.get_attachment": "tickets.view",
    "support.open_ticket": "tickets.open",
    "support.reply": "tickets.open",
    "support.close_ticket": "tickets.open",
    "support.list_news": None,
    "support.get_news": None,
    # the staff desk and the newsletter
    "accounts.find_customers": STAFF,
    "billing.get_current_offer": STAFF,
    "billing.set_offer": STAFF,
    "billing.mark_invoice_paid": STAFF,
    "support.staff_queue": STAFF,
    "support.staff_get_ticket": STAFF,
    "support.staff_reply": STAFF,
    "support.staff_set_status": STAFF,
    "support.staff_set_priority": STAFF,
    "support.staff_add_note": STAFF,
    "support.staff_list_news": STAFF,
    "support.staff_get_news": STAFF,
    "support.publish_news": STAFF,
    "support.update_news": STAFF,
    "support.withdraw_news": STAFF,
    "notifications.send_newsletter": STAFF,
    "notifications.newsletter_status": STAFF,
}


class Forbidden(Exception):
    """A service call the contact being served may not make (the gateway answers 403)."""


def call_allowed(account: dict[str, Any] | None, service: str, method: str, args: tuple = ()) -> bool:
    """Whether `account` may make this service call: only contacts are limited, by
    SERVICE_CALLS; a call the table does not name is refused to them."""
    if not account or account.get("role") != "contact":
        return True
    name = f"{service}.{method}"
    if name not in SERVICE_CALLS:
        return False
    needed = SERVICE_CALLS[name]
    options = needed if isinstance(needed, tuple) else (needed,)
    return any(option(account, args) if callable(option) else allows(account, option) for option in options)


def check_call(service: str, method: str, args: tuple = ()) -> None:
    """Run by rpc.start: inside a request served for a contact (`g.account`), a call
    they may not make raises Forbidden instead of being sent."""
    if not has_request_context():
        return
    account = g.get("account")
    if call_allowed(account, service, method, args):
        return
    name = f"{service}.{method}"
    if name not in SERVICE_CALLS:
        log.error("%s is not in permissions.SERVICE_CALLS: refused for contact %s on %s %s", name,
                  account.get("contact_id"), request.method, request.path)  # fmt: skip
    else:
        log.warning("contact %s may not call %s (%s %s)", account.get("contact_id"), name, request.method,
                    request.path)  # fmt: skip
    raise Forbidden(name)


# a renewal item's kind -> what a contact needs to see it (on /renewals, the API, section 7)
RENEWAL_VIEW = {"hosting_renewal": "services.view", "domain_renewal": "domains.view"}


def visible_renewals(account: dict[str, Any] | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The renewal items this account may see: a contact sees hosting renewals with services.view
    and domain renewals with domains.view; an item of an unknown kind only the owner."""
    return [item for item in items if allows(account, RENEWAL_VIEW.get(item.get("kind"), OWNER))]
