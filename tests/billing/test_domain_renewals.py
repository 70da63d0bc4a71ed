"""Domain renewals on the renewals list (seed section 7): the invoice billing issues when domains reports
`domain_renewal_due` before expiry is listed, goes to the cart, is paid by the standard checkout reusing
that invoice, and the registry renews the domain once. Billing and domains run as workers on the real
database, wired to each other: domains' `domain_renewal_due` goes to billing's consumer as it is
published, billing's published events are handed to the domains consumers."""

from __future__ import annotations

import datetime as dt

import pytest
from nameko.testing.services import worker_factory

from kernel import clock
from services.domains.registrar import RegistryDomain
from services.domains.service import DomainsService
from tests.billing.conftest import STAFF, customer
from tests.billing.helpers import billing_worker
from tests.fakes import RecordingDispatch, recording_events_api

DAY = 24 * 3600


class Wired:
    """A billing worker calling a domains worker, domains' renewal requests consumed by billing at once,
    and billing's events delivered on demand (and right after billing answers a renewal request)."""

    def __init__(self) -> None:
        self.billing_published = RecordingDispatch()
        self.domains_published = RecordingDispatch(forward={"domain_renewal_due": self.renewal_due})
        self.delivered = 0
        self.domains = worker_factory(DomainsService, events=recording_events_api(DomainsService,
                                                                                  self.domains_published))  # fmt: skip
        self.billing = billing_worker(self.billing_published, domains=self.domains)
        self.billing.seed_demo_catalog()

    def renewal_due(self, message: dict) -> None:
        self.billing.invoice_domain_renewal(message)
        self.deliver()

    def deliver(self, again: bool = False) -> None:
        """Hand billing's new invoice events to the domains consumers (`again`: every one a second time)."""
        consumers = {"invoice_issued": self.domains.on_invoice_issued, "invoice_paid": self.domains.on_invoice_paid,
                     "invoice_cancelled": self.domains.on_invoice_cancelled}  # fmt: skip
        start = 0 if again else self.delivered
        for event_type, message in self.billing_published.messages[start:]:
            if event_type in consumers:
                consumers[event_type](message)
        self.delivered = len(self.billing_published.messages)


@pytest.fixture
def wired(mongo_alias, clock_file, monkeypatch) -> Wired:
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0")
    monkeypatch.setenv("SANDBOX_WEBHOOK_URL", "")
    mongo_alias("billing")
    mongo_alias("domains")
    return Wired()


def _expiry(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.rstrip("Z"))


def _registered(wired: Wired, name: str) -> dict:
    """a1 registers `name` for a year, paid from credit, the events delivered: the domain as listed."""
    wired.billing.add_credit("a1", 100_000, STAFF)
    wired.billing.add_cart_item("a1", "domain_registration", {"domain": name, "years": 1}, customer("a1"))
    wired.billing.checkout("a1", "credit", f"register-{name}", customer("a1"))
    wired.deliver()
    return wired.domains.list_domains("a1")["items"][0]


def test_a_domain_renewal_invoice_is_listed_carted_paid_by_checkout_and_renews_once(wired):
    billing, domains = wired.billing, wired.domains
    domain = _registered(wired, "odnawiana.pl")
    assert domain["status"] == "active"
    expires = _expiry(domain["expires_at"])
    assert billing.list_renewals("a1")["items"] == []

    clock.advance((expires - clock.now()).total_seconds() - 29 * DAY)
    domains.run_cycle()
    wired.deliver()
    invoice_id = domains.get_domain("a1", domain["domain_id"])["renewal_invoice_id"]
    invoice = billing.get_invoice("a1", invoice_id)
    assert invoice["status"] == "unpaid" and invoice["lines"][0]["kind"] == "domain_renewal"

    renewals = billing.list_renewals("a1")["items"]
    assert [(r["kind"], r["domain_id"], r["name"], r["years"]) for r in renewals] == [
        ("domain_renewal", domain["domain_id"], "odnawiana.pl", 1)]  # fmt: skip
    listed = renewals[0]
    assert listed["due_date"] == invoice["due_date"] and listed["amount"] == invoice["total_gross"] > 0
    assert listed["renewal_invoice"]["invoice_id"] == invoice_id and not listed["in_cart"]
    assert billing.dashboard_summary("a1")["renewals"] == renewals  # the notice counts it

    issued_before = len(wired.billing_published.of("invoice_issued"))
    billing.add_cart_item("a1", "domain_renewal", {"domain_id": domain["domain_id"]}, customer("a1"))
    cart = billing.add_cart_item("a1", "domain_renewal", {"domain_id": domain["domain_id"]}, customer("a1"))
    assert [(i["kind"], i["invoice_id"]) for i in cart["items"]] == [("domain_renewal", invoice_id)]  # once
    assert cart["items"][0]["description"] == invoice["lines"][0]["description"]
    assert cart["totals"]["renewals_gross"] == cart["totals"]["total_gross"] == invoice["total_gross"]
    assert billing.list_renewals("a1")["items"][0]["in_cart"]

    paid = billing.checkout("a1", "credit", "renew-odnawiana", customer("a1"))
    assert paid["invoice_ids"] == [invoice_id] and paid["payment"]["status"] == "paid"
    assert len(wired.billing_published.of("invoice_issued")) == issued_before  # the issued invoice was reused
    assert billing.get_invoice("a1", invoice_id)["status"] == "paid"
    assert billing.get_cart("a1")["items"] == [] and billing.list_renewals("a1")["items"] == []

    wired.deliver()
    wired.deliver(again=True)  # every billing event redelivered
    domains.run_cycle()
    renewed = domains.get_domain("a1", domain["domain_id"])
    assert _expiry(renewed["expires_at"]).year == expires.year + 1 and renewed["status"] == "active"
    assert len(wired.domains_published.of("domain_renewed")) == 1
    registry = RegistryDomain.objects(id="odnawiana.pl").first()
    assert dt.datetime.fromtimestamp(registry.expires_at, dt.UTC).year == expires.year + 1  # renewed once there
    assert [m["data"]["invoice_id"] for m in wired.billing_published.of("invoice_paid")][-1] == invoice_id


def test_renewing_by_hand_for_other_years_is_quoted_anew_and_another_account_gets_404(wired):
    from kernel.errors import NotFound

    billing, domains = wired.billing, wired.domains
    domain = _registered(wired, "reczna.pl")
    clock.advance((_expiry(domain["expires_at"]) - clock.now()).total_seconds() - 29 * DAY)
    domains.run_cycle()
    invoice_id = domains.get_domain("a1", domain["domain_id"])["renewal_invoice_id"]

    same = billing.add_cart_item("a1", "domain_renewal", {"domain_id": domain["domain_id"], "years": 1},
                                 customer("a1"))  # fmt: skip
    assert same["items"][0]["invoice_id"] == invoice_id
    longer = billing.add_cart_item("a1", "domain_renewal", {"domain_id": domain["domain_id"], "years": 3},
                                   customer("a1"))["items"][1]  # fmt: skip
    assert "invoice_id" not in longer and longer["params"]["years"] == 3 and longer["net"] > 0
    with pytest.raises(NotFound):
        billing.add_cart_item("a2", "domain_renewal", {"domain_id": domain["domain_id"]}, customer("a2"))
    assert billing.list_renewals("a2")["items"] == []
