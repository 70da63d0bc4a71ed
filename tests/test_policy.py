"""gateway/policy.py, read alone: one entry per permission, and the tables derived from it agree with
what the pages, the dashboard and the live stream use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway import permissions, policy
from gateway.policy import ANYONE, OWNER, POLICY, Changes, Grant, When
from kernel import contracts

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
DASHBOARD_SECTIONS = {"profile", "contacts", "shortcuts", "offer", "tiles.services", "tiles.domains",
                      "tiles.unpaid_invoices", "tiles.tickets", "active_services", "renewals", "news",
                      "recent_tickets", "quick_domain"}  # fmt: skip


def test_every_contact_permission_has_a_grant_and_the_policy_names_no_other():
    assert set(POLICY) == {ANYONE, OWNER, *contracts.CONTACT_PERMISSIONS}


def test_every_route_named_in_a_grant_exists_and_every_route_is_granted():
    named = {route for grant in POLICY.values() for route in grant.routes}
    assert named == set(policy.ROUTES)


def test_sections_changes_and_renewal_kinds_are_ones_that_exist():
    from gateway.views.live import SECTIONS

    for grant in POLICY.values():
        assert set(grant.sections) <= DASHBOARD_SECTIONS, grant.sections
        for changes in grant.changes:
            assert {s.partition(".")[0] for s in changes.sections} <= set(SECTIONS), changes
        assert set(grant.renewals) <= set(contracts.CART_ITEM_KINDS)


def test_the_derived_tables_are_the_ones_in_use():
    from gateway import dashboard, live

    assert policy.route_rules() == permissions.RULES
    assert policy.section_permissions() == dashboard.SECTION_PERMISSIONS
    assert policy.live_changes() == live.CHANGES
    assert permissions.RENEWAL_VIEW == {"hosting_renewal": "services.view", "domain_renewal": "domains.view"}
    # several permissions opening one thing: any one is enough, in the policy's order
    assert permissions.SERVICE_CALLS["billing.get_credit"] == ("orders.place", "invoices.view")
    assert dashboard.SECTION_PERMISSIONS["renewals"] == ("services.view", "domains.view")
    assert permissions.required_permission("POST", "/contacts/accept") is None  # ANYONE's route


def test_a_route_nobody_is_granted_or_an_event_granted_twice_is_refused(monkeypatch):
    monkeypatch.setitem(policy.ROUTES, "orphan", (policy.ANY, r"/orphan"))
    with pytest.raises(ValueError, match="orphan"):
        policy.route_rules()
    twice = Changes(contracts.BILLING, ("offer_set",), ("offer",))
    monkeypatch.setitem(POLICY, "invoices.view", Grant(changes=(twice,)))
    with pytest.raises(ValueError, match="offer_set"):
        policy.live_changes()


def test_a_check_granted_with_a_permission_needs_the_permission_too():
    renewing = {"role": "contact", "contact_id": "c1", "permissions": ["services.manage"]}
    nothing = {**renewing, "permissions": []}
    item = {"account_id": "a1", "kind": "hosting_renewal", "params": {}}
    assert permissions.call_allowed(renewing, "billing", "add_cart_item", item)
    assert not permissions.call_allowed(nothing, "billing", "add_cart_item", item)
    assert isinstance(next(c for c in POLICY["services.manage"].calls if isinstance(c, When)), When)


def test_a_check_on_arguments_sent_positionally_refuses():
    """Checks read arguments by name; a call that named none cannot pass one."""
    contact = {"role": "contact", "contact_id": "c1", "permissions": ["domains.manage"]}
    assert not permissions.call_allowed(contact, "accounts", "update_contact", {})
    assert not permissions.call_allowed(contact, "billing", "add_cart_item", {})
    assert permissions.call_allowed(contact, "billing", "add_cart_item", {"kind": "domain_renewal"})


def test_who_someone_is():
    staff = {"role": "staff", "account_id": "s1", "contact_id": None}
    assert policy.is_staff(staff) and not policy.is_contact(staff) and not policy.is_customer(staff)
    assert not policy.is_staff({**staff, "contact_id": "c1"})  # a contact never acts as staff
    assert policy.is_contact({"role": "contact", "contact_id": "c1"})
    assert policy.is_customer({"role": "customer"}) and not policy.is_staff(None) and not policy.is_contact(None)


def test_only_the_policy_reads_an_accounts_role():
    """`role` is compared nowhere else in the gateway (gateway.caller names the actor's type from it)."""
    readers = set()
    for path in GATEWAY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "role":
                readers.add(path.relative_to(GATEWAY).as_posix())
    assert readers <= {"policy.py", "caller.py"}, readers
    templates = [p.name for p in (GATEWAY / "templates").rglob("*.html") if ".role" in p.read_text()]
    assert not templates, templates
