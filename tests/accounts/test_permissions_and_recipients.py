"""The permission table (gateway/permissions.py), the dashboard's hidden sections and
who gets a mail of each category (services/notifications/service.py), without I/O."""

from __future__ import annotations

import pytest

from gateway.dashboard import hidden_sections
from gateway.permissions import OWNER, allows, required_permission
from services.accounts import validation as v
from services.notifications.app.mails import recipients

BILLING_CONTACT = {"role": "contact", "contact_id": "c1", "permissions": ["invoices.view", "invoices.pay"]}
OWNER_ACCOUNT = {"role": "customer", "contact_id": None, "permissions": list(v.PERMISSIONS)}


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("GET", "/invoices", "invoices.view"), ("GET", "/api/v1/invoices/abc/pdf", "invoices.view"),
    ("POST", "/invoices/abc/pay", "invoices.pay"), ("POST", "/api/v1/invoices/abc/pay", "invoices.pay"),
    ("GET", "/sandbox-pay/p1", "invoices.pay"), ("GET", "/services", "services.view"),
    ("POST", "/services/s1/cancel", "services.manage"), ("GET", "/api/v1/renewals", ("services.view", "domains.view")),
    ("GET", "/domains", "domains.view"), ("POST", "/api/v1/domains/d1/nameservers", "domains.manage"),
    ("GET", "/tickets/t1", "tickets.view"), ("POST", "/api/v1/tickets", "tickets.open"),
    ("GET", "/order/basic", "orders.place"), ("POST", "/api/v1/cart/checkout", "orders.place"),
    ("GET", "/settings", "profile.view"), ("POST", "/settings", "profile.edit"),
    ("PATCH", "/api/v1/profile", "profile.edit"), ("DELETE", "/api/v1/contacts/c1", "contacts.manage"),
    ("GET", "/contacts/accept", None), ("GET", "/account/history", OWNER), ("GET", "/api/v1/emails", OWNER),
    ("GET", "/", None), ("GET", "/api/v1/news", None), ("POST", "/login", None),
])  # fmt: skip
def test_every_area_has_its_permission(method, path, needed):
    assert required_permission(method, path) == needed


def test_owner_may_do_everything_and_a_contact_only_what_was_granted():
    assert allows(OWNER_ACCOUNT, "services.view") and allows(OWNER_ACCOUNT, OWNER)
    assert allows(BILLING_CONTACT, "invoices.pay") and allows(BILLING_CONTACT, None)
    assert not allows(BILLING_CONTACT, "services.view") and not allows(BILLING_CONTACT, OWNER)
    assert not allows(None, "invoices.view")


def test_a_billing_contact_sees_no_service_ticket_or_domain_section():
    hidden = hidden_sections(BILLING_CONTACT)
    assert {"active_services", "renewals", "recent_tickets", "tiles.services", "tiles.tickets", "profile"} <= set(
        hidden
    )
    assert "tiles.unpaid_invoices" not in hidden and hidden_sections(OWNER_ACCOUNT) == []


TARGET = {
    "account_id": "a1", "email": "owner@example.pl", "language": "pl",
    "notification_preferences": {"billing": True, "domains": False, "security": True},
    "contacts": [{"contact_id": "c1", "email": "ksiegowa@example.pl", "first_name": "Ewa", "language": "en",
                  "categories": ["billing", "domains"]}],
}  # fmt: skip


def test_mail_goes_to_the_owner_by_preference_and_to_contacts_by_category():
    assert [r[0] for r in recipients(TARGET, "billing", None, None)] == ["owner@example.pl", "ksiegowa@example.pl"]
    # the owner switched domain mail off; the contact still chose it
    assert [r[0] for r in recipients(TARGET, "domains", None, None)] == ["ksiegowa@example.pl"]
    assert recipients(TARGET, "domains", None, None)[0][1:] == ("en", {"first_name": "Ewa"})
    assert [r[0] for r in recipients(TARGET, "support", None, None)] == ["owner@example.pl"]


def test_security_mail_never_reaches_a_contact_and_legal_notices_always_reach_the_owner():
    assert [r[0] for r in recipients(TARGET, "security", None, None)] == ["owner@example.pl"]
    off = {**TARGET, "notification_preferences": {"billing": False}}
    assert [r[0] for r in recipients(off, "legal", None, None)] == ["owner@example.pl", "ksiegowa@example.pl"]
    assert recipients(TARGET, "security", "new@example.pl", "en") == [("new@example.pl", "en", {})]
