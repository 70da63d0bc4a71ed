"""Billing's application functions on their own: the event store and read models in the test's database
(in memory in the fast tier), the other services and the clock given as plain fakes in `Deps`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from nameko.exceptions import UnknownService

from kernel.errors import Conflict, Invalid, NotFound, Unavailable
from services.billing import catalog
from services.billing.app import Deps, Remote, cart, checkout, cycle, invoices, offer, payments, renewals
from tests.billing.helpers import events_api, profile
from tests.fakes import RecordingDispatch

NOW = dt.datetime(2027, 3, 10, 12, 0)
QUOTE = {"description": "Odnowienie domeny zażółć.pl na 1 rok", "net": 8900, "vat_rate": 23, "currency": "PLN",
         "params": {"domain_id": "d1", "domain": "xn--za-6ja4f8n1l.pl", "unicode_name": "zażółć.pl", "years": 1}}  # fmt: skip


class Services:
    """The other services as `Deps.remote` sees them: a table of answers, every call remembered."""

    def __init__(self, **answers: Any) -> None:
        self.answers = {"accounts.get_profile": profile, **answers}
        self.calls: list[tuple] = []

    def __call__(self, owner: str, method: str, *args: Any) -> Any:
        self.calls.append((owner, method, *args))
        answer = self.answers[f"{owner}.{method}"]
        return answer(*args) if callable(answer) else answer


class Moving:
    """A clock the test moves."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def published() -> RecordingDispatch:
    return RecordingDispatch()


@pytest.fixture
def deps(mongo_alias, published) -> Deps:
    mongo_alias("billing")
    catalog.seed_demo_catalog()
    return Deps(events_api(published), Services(**{"domains.quote_cart_item": QUOTE}), Moving(NOW))


def test_a_domain_renewal_due_becomes_one_invoice_whose_line_names_the_expiry(deps, published):
    due = {"account_id": "a1", "domain_id": "d1", "name": "xn--za-6ja4f8n1l.pl", "for_expiry": "2027-04-01T00:00:00",
           "years": 1, "idempotency_key": "domain-renewal:d1:2027-04-01T00:00:00"}  # fmt: skip
    first = renewals.invoice_domain_renewal(deps, due, None)
    again = renewals.invoice_domain_renewal(deps, due, None)  # the event delivered twice
    assert first == again and (first["status"], first["total_gross"]) == ("unpaid", 8900 + 2047)
    [issued] = published.of("invoice_issued")
    [line] = issued["data"]["lines"]
    assert line["kind"] == "domain_renewal" and line["params"] == {**QUOTE["params"], "for_expiry": due["for_expiry"]}
    assert issued["data"]["issue_date"].startswith("2027-03-10")  # the clock given, not the machine's
    assert deps.remote.calls.count(("domains", "quote_cart_item", "a1", "domain_renewal",
                                    {"domain_id": "d1", "years": 1})) == 1  # fmt: skip


def test_an_item_invoice_is_refused_before_anything_is_asked_or_stored(deps, published):
    with pytest.raises(Invalid):
        invoices.issue_for_item(deps, "a1", "hosting", {}, "key-of-eight", None)
    with pytest.raises(Invalid):
        invoices.issue_for_item(deps, "a1", "domain_renewal", {}, "short", None)
    deps.remote.answers["domains.quote_cart_item"] = {"description": "", "net": "8900"}  # not a quote
    with pytest.raises(Unavailable):
        invoices.issue_for_item(deps, "a1", "domain_renewal", {"domain_id": "d1"}, "key-of-eight", None)
    assert published.messages == [] and [c[:2] for c in deps.remote.calls] == [("domains", "quote_cart_item")]


def test_the_offer_code_counts_only_within_the_offers_window_on_the_given_clock(deps):
    window = {"title": "Wiosna", "text": "", "link": "/oferta", "starts_at": "2027-03-01T00:00:00",
              "ends_at": "2027-04-01T00:00:00", "discount_code": "wiosna", "discount_percent": 20}  # fmt: skip
    offer.set_offer(deps, window, {"actor": {"type": "staff", "id": "s1"}})
    assert offer.discount_percent(deps, " Wiosna ") == 20 and offer.current(deps)["title"] == "Wiosna"
    deps.now.at = dt.datetime(2027, 4, 1)
    assert offer.current(deps) is None
    with pytest.raises(Invalid) as refused:
        offer.discount_percent(deps, "WIOSNA")
    assert refused.value.fields == {"discount_code": "invalid_discount_code"}


def test_checkout_places_the_cart_once_and_the_cycle_renews_when_the_given_clock_says(deps, published):
    payments.add_credit(deps, "a1", 10_000, "manual", None)
    cart.add_item(deps, "a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, None)
    placed = checkout.checkout(deps, "a1", "credit", "checkout-key-1", None, None)
    assert checkout.checkout(deps, "a1", "credit", "checkout-key-1", None, None)["order_id"] == placed["order_id"]
    with pytest.raises(Conflict):
        checkout.checkout(deps, "a1", "credit", "checkout-key-2", None, None)  # the cart was consumed
    assert placed["payment"]["status"] == "paid" and len(published.of("invoice_issued")) == 1
    with pytest.raises(NotFound):
        invoices.own("a2", placed["invoice_id"])
    assert cycle.run(deps)["renewals_requested"] == 0
    deps.now.at = NOW + dt.timedelta(days=25)  # within the renewal lead of the next month
    assert cycle.run(deps)["renewals_requested"] == 1
    assert cycle.run(deps)["renewals_requested"] == 0  # once per period
    [renewal] = renewals.list_renewals(deps, "a1")["items"]
    assert renewal["kind"] == "hosting_renewal" and renewal["renewal_invoice"]["status"] == "unpaid"


def test_remote_owner_down_or_silent_is_unavailable_its_refusal_passes_through():
    class Down:
        def quote_cart_item(self, *_: Any) -> None:
            raise UnknownService("domains")

    class Refusing:
        def quote_cart_item(self, *_: Any) -> None:
            raise Conflict("domains_not_renewable")

    with pytest.raises(Unavailable) as down:
        Remote({"domains": Down()})("domains", "quote_cart_item", "a1")
    assert down.value.code == "domains_unavailable"
    with pytest.raises(Conflict) as refused:
        Remote({"domains": Refusing()})("domains", "quote_cart_item", "a1")
    assert refused.value.code == "domains_not_renewable"
