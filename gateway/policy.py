"""What a contact may see and do: ONE entry per permission, everything it allows.

The owner may do everything; a contact (who logs in for the owner's account) only what the owner
granted, and staff only the staff desk. `POLICY` says, per permission (the contact permissions of
kernel.contracts, plus `OWNER` for the owner's own business and `ANYONE` for what needs no
permission), which routes (pages and /api/v1), service calls, dashboard sections, live changes and
renewal kinds it opens. Every other table is derived from it (gateway.permissions: the route rules,
the service-call table, the renewal kinds; gateway.dashboard: the sections; gateway.live: the
changes), and `is_staff`/`is_contact`/`is_customer` are the only ways to ask who someone is.

Pure data and rules: no Flask, no I/O (tests/test_policy.py reads it alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kernel import contracts

OWNER = "owner"  # only the account owner, never a contact
STAFF = OWNER  # the staff desk's calls: never a contact's (the desk itself checks is_staff)
ANYONE = None  # needs no permission: anyone logged in (routes), anyone at all (calls)
READ = ("GET", "HEAD", "OPTIONS")
ANY = "*"
_ID = r"[^/]+"

# a permission, several of which any one is enough, or None for "anyone logged in"
Permission = str | tuple[str, ...] | None
Account = dict[str, Any]


def is_contact(account: Account | None) -> bool:
    """Someone logged in for the owner's account with only the permissions the owner granted."""
    return bool(account) and account.get("role") == "contact"


def is_customer(account: Account | None) -> bool:
    """An account owner (a customer's own login, or their profile)."""
    return bool(account) and account.get("role") == "customer"


def is_staff(account: Account | None) -> bool:
    """A member of staff acting as themselves (a contact never acts as staff)."""
    return bool(account) and account.get("role") == "staff" and not account.get("contact_id")


# --- routes: matched in this order, the first match decides ---------------------------------------
# name -> (methods, path pattern); "(api/v1/)?" accepts the page path and its /api/v1 twin.
ROUTES: dict[str, tuple[tuple[str, ...] | str, str]] = {
    # the account itself: security, sessions, history, export, e-mail history
    "account": (ANY, r"/(api/v1/)?account(/.*)?"),
    "emails": (ANY, r"/(api/v1/)?emails(/.*)?"),
    # section 1
    "settings.read": (READ, r"/settings"),
    "settings.change": (ANY, r"/settings"),
    "profile.read": (READ, r"/api/v1/profile"),
    "profile.change": (ANY, r"/api/v1/profile"),
    # section 2 (an invited contact accepts before they can log in)
    "contacts.accept": (ANY, r"/contacts/accept"),
    "contacts": (ANY, r"/(api/v1/)?contacts(/.*)?"),
    # ordering
    "order": (ANY, r"/order(/.*)?"),
    "cart": (ANY, r"/(api/v1/)?cart(/.*)?"),
    # invoices and payments
    "invoice.pay": (ANY, rf"/(api/v1/)?invoices/{_ID}/pay"),
    "invoices.pay_all": (ANY, r"/invoices/pay-all"),
    "sandbox_pay": (ANY, r"/sandbox-pay(/.*)?"),
    "payments.return": (ANY, r"/payments/return"),
    "stripe_pay": (ANY, rf"/pay/{_ID}(/return)?"),  # issue #15: Stripe's payment page and the way back
    "cards": (ANY, r"/(api/v1/)?billing/cards(/.*)?"),
    "ledger.read": (READ, r"/(api/v1/)?billing/ledger"),
    "ledger.add_funds": (ANY, r"/(api/v1/)?billing/ledger/add-funds"),
    "invoices.read": (READ, r"/(api/v1/)?invoices(/.*)?"),
    "invoices.change": (ANY, r"/(api/v1/)?invoices(/.*)?"),
    # hosting services and their renewals; renewals list hosting and domains (each kind shown only to
    # whom may see it: permissions.visible_renewals); a domain's renewal into the cart is the domain's
    "renewals.domain_add": (ANY, rf"/renewals/domains/{_ID}/add"),
    "renewals.list": (READ, r"/(api/v1/)?renewals"),
    "services.read": (READ, r"/(api/v1/)?(services|renewals)(/.*)?"),
    "services.change": (ANY, r"/(api/v1/)?(services|renewals)(/.*)?"),
    # domains: finding a free name (search, transfer form, availability) is for ordering or for looking
    # after domains; putting a registration or transfer into the cart is ordering
    "domains.search": (READ, r"/domains/(search|transfer)"),
    "domains.check": (READ, r"/api/v1/domains/check"),
    "domains.order": (ANY, r"/domains/(cart|transfer)"),
    "domain.epp_code": (READ, rf"/api/v1/domains/{_ID}/epp-code"),  # the page reveals it by POST: same
    "domains.read": (READ, r"/(api/v1/)?domains(/.*)?"),  # DNS zones too (/domains/<id>/dns...)
    "domains.change": (ANY, r"/(api/v1/)?domains(/.*)?"),
    # support tickets
    "tickets.new": (READ, r"/tickets/new"),  # the form to open one
    "tickets.read": (READ, r"/(api/v1/)?tickets(/.*)?"),
    "tickets.change": (ANY, r"/(api/v1/)?tickets(/.*)?"),
}


# --- service calls ----------------------------------------------------------------------------------
# A check on a call's arguments (by parameter name), for calls allowed only with certain arguments.
CallCheck = Callable[[Account, dict[str, Any]], bool]


@dataclass(frozen=True)
class When:
    """The service call `call` ("service.method"), allowed only when `check(account, arguments)` says so."""

    call: str
    check: CallCheck


def _own_language(account: Account, arguments: dict[str, Any]) -> bool:
    """accounts.update_contact: a contact may set their own language (the language switch), nothing else
    about themselves or anyone."""
    changes = arguments.get("changes")
    return (arguments.get("contact_id") == account.get("contact_id") and isinstance(changes, dict)
            and set(changes) <= {"language"})  # fmt: skip


def _adds_to_cart(kind: str) -> When:
    """billing.add_cart_item of one kind only (a renewal into the cart is part of looking after that
    service or domain: POST /renewals/..., POST /domains/<id>/renew)."""
    return When("billing.add_cart_item", lambda account, arguments: arguments.get("kind") == kind)


# --- live changes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Changes:
    """Events of `service` (their types) a permission lets a live stream see, and the dashboard
    sections each of them changes. Events no permission names are never streamed (e.g.
    ticket_note_added, staff only)."""

    service: str
    events: tuple[str, ...]
    sections: tuple[str, ...]


TILES, SERVICES, RENEWALS = "tiles", "active_services", "renewals"


@dataclass(frozen=True)
class Grant:
    """Everything one permission allows."""

    routes: tuple[str, ...] = ()  # names in ROUTES
    calls: tuple[str | When, ...] = ()  # "service.method", or When one for some arguments only
    sections: tuple[str, ...] = ()  # dashboard sections (gateway/dashboard.py)
    changes: tuple[Changes, ...] = ()  # what the live dashboard streams (gateway/live.py)
    renewals: tuple[str, ...] = ()  # renewal kinds shown (on /renewals, the API, the dashboard)


# The order matters where several permissions open one thing: a route or call is listed with its
# permissions in this order (e.g. the domain search: ("orders.place", "domains.view")).
POLICY: dict[str | None, Grant] = {
    ANYONE: Grant(
        routes=("contacts.accept",),
        calls=(
            *(f"{service}.health" for service in ("accounts", "billing", "domains", "support", "notifications", "hosting")),
            "accounts.authenticate", "accounts.register", "accounts.verify_email", "accounts.resend_verification",
            "accounts.login", "accounts.login_second_factor", "accounts.logout", "accounts.request_password_reset",
            "accounts.confirm_password_reset", "accounts.accept_contact_invitation", "accounts.unsubscribe",
            When("accounts.update_contact", _own_language),
            # the dashboard's summaries, the offer and the news are for everyone; the gateway leaves out the
            # sections a contact may not see (gateway/dashboard.py)
            "billing.dashboard_summary", "support.dashboard_summary", "billing.get_current_offer",
            "support.dashboard_news",
            "billing.get_catalog",  # the public catalogue
            "billing.handle_webhook",  # the payment provider's webhook, signed, no login
            "billing.handle_stripe_webhook", "billing.payment_methods",  # Stripe's webhook, the methods offered
            "support.list_news", "support.get_news",
            "support.list_articles", "support.get_article", "support.search_articles",  # the knowledge base: public
        ),
        sections=("offer", "news"),
        changes=(
            Changes(contracts.BILLING, ("offer_set", "offer_started", "offer_ended"), ("offer",)),
            Changes(contracts.SUPPORT, ("news_published", "news_updated", "news_withdrawn", "news_went_live"),
                    ("news",)),
            # the plans the account holds changed, so which news concern it (they carry account_id: only
            # that account's streams, gateway/live.py)
            Changes(contracts.SUPPORT, ("customer_plan_held", "customer_plan_dropped"), ("news",)),
        ),
    ),
    OWNER: Grant(
        routes=("account", "emails"),
        calls=(
            # the account itself (security, sessions, history, export, e-mail history)
            "accounts.list_sessions", "accounts.end_session", "accounts.end_other_sessions",
            "accounts.change_password", "accounts.start_two_factor", "accounts.confirm_two_factor",
            "accounts.disable_two_factor", "accounts.account_history", "accounts.export_account",
            "notifications.list_mails", "notifications.get_mail",
            # the staff desk and the newsletter (STAFF: never a contact's)
            "accounts.find_customers", "billing.get_current_offer", "billing.set_offer", "billing.mark_invoice_paid",
            "support.staff_queue", "support.staff_get_ticket", "support.staff_reply", "support.staff_set_status",
            "support.staff_set_priority", "support.staff_add_note", "support.staff_list_news",
            "support.staff_get_news", "support.publish_news", "support.update_news", "support.withdraw_news",
            "support.staff_list_articles", "support.staff_get_article", "support.write_article",
            "support.update_article", "support.withdraw_article",
            "notifications.send_newsletter", "notifications.newsletter_status", "hosting.list_failures",
            "billing.ksef_problems", "billing.export_invoices", "billing.correct_invoice", "billing.run_invoice_documents",
        ),
    ),
    "profile.view": Grant(
        routes=("settings.read", "profile.read"),
        calls=("accounts.get_profile",),
        sections=("profile",),
        changes=(Changes(contracts.ACCOUNTS, ("profile_updated", "email_changed", "email_verified",
                                               "billing_address_updated", "notification_preferences_updated",
                                               "mailing_list_subscribed", "mailing_list_unsubscribed"),
                         ("profile",)),),
    ),
    "profile.edit": Grant(routes=("settings.change", "profile.change"), calls=("accounts.update_settings",)),
    "contacts.manage": Grant(
        routes=("contacts",),
        calls=("accounts.list_contacts", "accounts.get_contact", "accounts.add_contact", "accounts.update_contact",
               "accounts.remove_contact", "accounts.resend_contact_invitation"),
        sections=("contacts",),
        changes=(Changes(contracts.ACCOUNTS, ("contact_added", "contact_invited", "contact_invitation_accepted",
                                               "contact_updated", "contact_removed"), ("contacts",)),),
    ),
    "orders.place": Grant(
        routes=("order", "cart", "domains.search", "domains.check", "domains.order"),
        calls=("billing.get_cart", "billing.add_cart_item", "billing.update_cart_item", "billing.remove_cart_item",
               "billing.apply_discount_code", "billing.checkout", "billing.get_credit", "domains.check"),
        sections=("shortcuts", "quick_domain"),  # the quick domain form searches: GET /domains/search
    ),
    "invoices.view": Grant(
        routes=("invoices.read", "ledger.read"),
        calls=("billing.get_credit", "billing.list_invoices", "billing.get_invoice", "billing.invoice_pdf",
               "billing.get_ledger", "billing.invoice_xml"),
        sections=("tiles.unpaid_invoices",),
        changes=(Changes(contracts.BILLING, ("order_placed", "invoice_issued", "invoice_paid", "invoice_cancelled",
                                              "invoice_refunded", "payment_received", "credit_added", "credit_used"),
                         (TILES, RENEWALS)),),
    ),
    "invoices.pay": Grant(
        routes=("invoice.pay", "invoices.pay_all", "sandbox_pay", "payments.return", "invoices.change", "stripe_pay",
                "cards", "ledger.add_funds"),
        calls=("billing.pay_invoice", "billing.pay_all_unpaid", "billing.get_payment", "billing.sandbox_get_payment",
               "billing.sandbox_complete",
               # Stripe: paying, saved cards, adding funds (issue #15)
               "billing.stripe_payment_page", "billing.stripe_confirm", "billing.stripe_return", "billing.list_cards",
               "billing.start_card_setup", "billing.save_card", "billing.set_default_card", "billing.remove_card",
               "billing.add_funds", "billing.get_ledger"),
    ),
    "services.view": Grant(
        routes=("renewals.list", "services.read"),
        calls=("billing.list_services", "billing.get_service", "billing.list_renewals", "hosting.get_access"),
        sections=("tiles.services", "active_services", "renewals"),
        changes=(Changes(contracts.BILLING, ("service_activated", "service_suspended", "service_unsuspended",
                                              "service_terminated", "service_cancelled", "service_renewed",
                                              "service_cancellation_requested", "renewal_invoice_requested",
                                              "service_plan_changed", "service_withdrawn",
                                              "service_renewal_window_opened"),
                         (TILES, SERVICES, RENEWALS)),),
        renewals=("hosting_renewal",),
    ),
    "services.manage": Grant(
        routes=("services.change",),
        calls=("billing.get_service", "billing.request_cancellation", _adds_to_cart("hosting_renewal"),
               "billing.set_auto_renew", "hosting.set_password",
               # the lifecycle on the service's page (issue #18)
               "billing.change_service_plan", "billing.withdraw_from_service"),
    ),
    "domains.view": Grant(
        routes=("renewals.list", "domains.search", "domains.check", "domains.read"),
        calls=("billing.list_renewals", "domains.check", "domains.dashboard_summary", "domains.list_domains",
               "domains.get_domain", "domains.get_zone", "domains.export_zone", "domains.list_hosts"),
        sections=("renewals", "tiles.domains", "quick_domain"),
        changes=(Changes(contracts.DOMAINS, ("domain_registration_requested", "domain_registered",
                                              "domain_registration_failed", "domain_transfer_requested",
                                              "domain_transferred_in", "domain_transfer_rejected", "domain_renewed",
                                              "domain_expired", "domain_ordered", "domain_cancelled",
                                              "domain_renewal_requested", "domain_renewal_invoiced"),
                         (TILES, SERVICES)),),
        renewals=("domain_renewal",),
    ),
    "domains.manage": Grant(
        routes=("renewals.domain_add", "domain.epp_code", "domains.change"),
        calls=("domains.get_domain", "domains.update_domain", "domains.reveal_epp_code",
               "domains.retry_registration", _adds_to_cart("domain_renewal"),
               # DNS zones (issue #19): reading (the first read creates the default zone) is viewing
               "domains.get_zone", "domains.add_dns_record", "domains.update_dns_record",
               "domains.delete_dns_record", "domains.reset_zone",
               # child nameservers (glue), issue #19
               "domains.list_hosts", "domains.create_host", "domains.update_host", "domains.delete_host"),
    ),
    "tickets.view": Grant(
        routes=("tickets.read",),
        calls=("support.list_tickets", "support.get_ticket", "support.get_attachment"),
        sections=("tiles.tickets", "recent_tickets"),
        changes=(Changes(contracts.SUPPORT, ("ticket_opened", "ticket_replied", "ticket_status_changed",
                                              "ticket_closed", "ticket_priority_changed"),
                         (TILES, "recent_tickets")),),
    ),
    "tickets.open": Grant(
        routes=("tickets.new", "tickets.change"),
        calls=("support.get_ticket", "support.open_ticket", "support.reply", "support.close_ticket"),  # a reply re-reads
    ),
}  # fmt: skip


# --- the tables derived from POLICY ------------------------------------------------------------------
def _holders(has: Callable[[Grant], bool]) -> Permission:
    """The permissions (in POLICY's order) whose grant `has` something: one, a tuple of several, None."""
    found = tuple(permission for permission, grant in POLICY.items() if has(grant))
    if ANYONE in found:
        return ANYONE
    return found[0] if len(found) == 1 else found


def route_rules() -> list[tuple[tuple[str, ...] | str, str, Permission]]:
    """(methods, path pattern, permission) in matching order; every route must be granted to someone."""
    rules = []
    for name, (methods, pattern) in ROUTES.items():
        permission = _holders(lambda grant, name=name: name in grant.routes)
        if permission == ():
            raise ValueError(f"route {name} is in no grant of gateway.policy.POLICY")
        rules.append((methods, pattern, permission))
    return rules


def service_calls() -> dict[str, Permission | tuple[str | CallCheck, ...]]:
    """`service.method` -> what a contact needs to make it: a permission, a tuple of permissions or
    argument checks any one of which is enough, None (anyone) or OWNER (never a contact)."""
    options: dict[str, list[str | None | CallCheck]] = {}
    for permission, grant in POLICY.items():
        for call in grant.calls:
            if isinstance(call, When):
                # a check granted with a permission needs the permission too
                check = call.check if permission is ANYONE else _with_permission(permission, call.check)
                options.setdefault(call.call, []).append(check)
            else:
                options.setdefault(call, []).append(permission)
    table: dict[str, Permission | tuple[str | CallCheck, ...]] = {}
    for name, found in options.items():
        table[name] = ANYONE if ANYONE in found else (found[0] if len(found) == 1 else tuple(found))  # type: ignore[assignment]
    return table


def _with_permission(permission: str, check: CallCheck) -> CallCheck:
    def checked(account: Account, arguments: dict[str, Any]) -> bool:
        return permission in (account.get("permissions") or []) and check(account, arguments)

    checked.__doc__ = f"{permission}, and {check.__doc__ or 'the arguments checked'}"
    return checked


def section_permissions() -> dict[str, Permission]:
    """Dashboard section -> the permission a contact needs to see it (sections for everyone left out)."""
    sections = [s for grant in POLICY.values() for s in grant.sections if s not in POLICY[ANYONE].sections]
    return {section: _holders(lambda grant, s=section: s in grant.sections) for section in dict.fromkeys(sections)}


def live_changes() -> dict[tuple[str, str], tuple[str | None, tuple[str, ...]]]:
    """(service, event type) -> (the permission a contact needs to see it or None for everyone, the
    dashboard sections it changes)."""
    table: dict[tuple[str, str], tuple[str | None, tuple[str, ...]]] = {}
    for permission, grant in POLICY.items():
        for changes in grant.changes:
            for event in changes.events:
                if (changes.service, event) in table:
                    raise ValueError(f"{changes.service}.{event} is granted twice in gateway.policy.POLICY")
                table[(changes.service, event)] = (permission, changes.sections)
    return table


def renewal_view() -> dict[str, str]:
    """A renewal item's kind -> the permission a contact needs to see it."""
    return {kind: permission for permission, grant in POLICY.items() for kind in grant.renewals}
