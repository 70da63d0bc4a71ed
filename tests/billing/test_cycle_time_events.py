"""What becomes true as time passes, told by the billing cycle as events (issue #17): a service's renewal
window opening (once per service and period) and the offer starting or ending (once each per offer), so
the gateway's dashboard view, fed by events, is right without asking the clock. The domain rules without
I/O, then the cycle on the test's event store with a clock the test moves."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from kernel.aggregate import execute
from kernel.events import NewEvent, command_meta, stamp
from services.billing import catalog
from services.billing.app import Deps, cart, checkout, cycle, dashboard, offer, payments
from services.billing.catalog import add_months
from services.billing.domain import Customer, Offer, Policy, customer_stream, iso
from tests.billing.helpers import events_api
from tests.billing.test_app import NOW, Moving, Services
from tests.billing.test_domain import POLICY, T0, active_customer, renewal_request, types
from tests.fakes import RecordingDispatch

WINDOW = "service_renewal_window_opened"


def run(aggregate, new_events: list[NewEvent], at: dt.datetime | None = None) -> list[NewEvent]:
    """Apply decided events, stamped at `at` when given (the offer remembers when it was set)."""
    for event in stamp(aggregate.stream_id, aggregate.version + 1, new_events, {}):
        aggregate.apply(event if at is None else dataclasses.replace(event, occurred_at=at))
    return new_events


# --- the rule: a renewal window opens once per service and period -------------------------------------
def test_the_renewal_window_opens_once_at_renewal_days_before_the_due_date():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    opens = due - dt.timedelta(days=POLICY.renewal_days)
    assert customer.open_renewal_windows(opens - dt.timedelta(seconds=1), POLICY) == []
    [opened] = run(customer, customer.open_renewal_windows(opens, POLICY))
    assert opened.type == WINDOW
    assert opened.data == {"account_id": "acc", "service_id": service_id, "name": opened.data["name"],
                           "plan": "hosting-start", "domain": "example.pl", "next_due_date": iso(due),
                           "opens_at": iso(opens)}  # fmt: skip
    assert customer.open_renewal_windows(opens, POLICY) == []  # decided again on the same state: nothing
    assert customer.open_renewal_windows(due + dt.timedelta(days=3), POLICY) == []  # nor later in the period


def test_the_window_opens_even_when_the_renewal_was_requested_early():
    """An early renewal ('Odnów wcześniej') requested the period's invoice before the window: no invoice
    event comes when the window opens, so this event is what tells the view."""
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    renewal_request(customer, service_id, T0)  # long before the window
    assert customer.renewals_due(due, POLICY) == []  # the cycle asks for no invoice
    assert customer.open_renewal_windows(due - dt.timedelta(days=20), POLICY) == []
    assert types(customer.open_renewal_windows(due - dt.timedelta(days=14), POLICY)) == [WINDOW]


def test_each_period_opens_its_own_window_and_a_service_ending_or_gone_opens_none():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    invoice_id = renewal_request(customer, service_id, due - dt.timedelta(days=14))
    run(customer, customer.open_renewal_windows(due - dt.timedelta(days=14), POLICY))
    run(customer, customer.receive_payment("p2", "card", 1845, [invoice_id], {invoice_id: "N2"}, due))
    following = add_months(due, 1)
    assert customer.open_renewal_windows(due + dt.timedelta(days=1), POLICY) == []  # the next one not yet
    [opened] = customer.open_renewal_windows(following - dt.timedelta(days=14), POLICY)
    assert opened.data["next_due_date"] == iso(following)

    ending, ending_id = active_customer()
    run(ending, ending.request_cancellation(ending_id, "end_of_period", T0))
    assert ending.open_renewal_windows(ending.services[ending_id]["next_due_date"], POLICY) == []
    gone, gone_id = active_customer()
    run(gone, gone.request_cancellation(gone_id, "immediate", T0))
    assert gone.open_renewal_windows(gone.services[gone_id]["next_due_date"], POLICY) == []


def test_renewal_days_from_the_policy_decide_when_the_window_opens():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    week = Policy(renewal_days=7)
    assert customer.open_renewal_windows(due - dt.timedelta(days=8), week) == []
    assert customer.open_renewal_windows(due - dt.timedelta(days=7), week)[0].data["opens_at"] == iso(
        due - dt.timedelta(days=7)
    )


# --- the rule: the offer starts and ends once each ------------------------------------------------------
START, END = dt.datetime(2027, 3, 1), dt.datetime(2027, 4, 1)
SPRING = {"title": "Wiosna", "text": "", "link": "/oferta", "starts_at": iso(START), "ends_at": iso(END),
          "discount_code": None, "discount_percent": 0, "title_en": "", "text_en": ""}  # fmt: skip


def offer_set_at(at: dt.datetime, fields: dict[str, Any] = SPRING) -> Offer:
    current = Offer("offer")
    run(current, current.set(dict(fields)), at)
    return current


def test_an_offer_set_before_its_start_starts_then_ends_once_each():
    current = offer_set_at(START - dt.timedelta(days=5))
    assert current.passed_in_time(START - dt.timedelta(seconds=1)) == []
    [started] = run(current, current.passed_in_time(START))
    assert started.type == "offer_started"
    assert started.data == {"title": "Wiosna", "starts_at": iso(START), "ends_at": iso(END)}
    assert current.passed_in_time(START + dt.timedelta(days=3)) == []
    assert types(run(current, current.passed_in_time(END))) == ["offer_ended"]
    assert current.passed_in_time(END + dt.timedelta(days=30)) == []


def test_an_offer_set_within_its_window_was_told_by_being_set_and_only_ends():
    current = offer_set_at(START + dt.timedelta(days=1))
    assert current.passed_in_time(START + dt.timedelta(days=2)) == []
    assert types(current.passed_in_time(END)) == ["offer_ended"]


def test_an_offer_set_after_its_end_or_first_seen_after_it_says_only_what_changed():
    assert offer_set_at(END + dt.timedelta(days=1)).passed_in_time(END + dt.timedelta(days=2)) == []
    unseen = offer_set_at(START - dt.timedelta(days=1))  # the cycle did not run during the whole window
    assert types(unseen.passed_in_time(END + dt.timedelta(hours=1))) == ["offer_ended"]
    assert Offer("offer").passed_in_time(END) == []  # no offer ever set


def test_a_new_offer_is_told_anew():
    current = offer_set_at(START - dt.timedelta(days=5))
    run(current, current.passed_in_time(START))
    later = {**SPRING, "title": "Lato", "starts_at": iso(END), "ends_at": iso(END + dt.timedelta(days=30))}
    run(current, current.set(later), START + dt.timedelta(days=1))
    assert types(current.passed_in_time(END)) == ["offer_started"]


# --- the cycle: on the event store, with a clock the test moves -----------------------------------------
@pytest.fixture
def published() -> RecordingDispatch:
    return RecordingDispatch()


@pytest.fixture
def deps(mongo_alias, published) -> Deps:
    mongo_alias("billing")
    catalog.seed_demo_catalog()
    return Deps(events_api(published), Services(), Moving(NOW))


def ordered_service(deps: Deps, account_id: str = "a1") -> dict[str, Any]:
    """A monthly hosting service paid with credit at NOW; its row in the dashboard's active services."""
    payments.add_credit(deps, account_id, 10_000, "manual", None)
    cart.add_item(deps, account_id, "hosting", {"plan": "hosting-start", "cycle": "monthly"}, None)
    checkout.checkout(deps, account_id, "credit", f"checkout-{account_id}", None, None)
    [service] = dashboard.summary(deps, account_id)["active_services"]
    return service


def test_the_cycle_tells_the_window_once_when_the_clock_reaches_it_and_the_dashboard_shows_the_renewal(deps, published):
    service = ordered_service(deps)
    due = dt.datetime.fromisoformat(service["next_due_date"].rstrip("Z"))
    deps.now.at = due - dt.timedelta(days=15)
    assert cycle.run(deps)["renewal_windows_opened"] == 0
    assert published.of(WINDOW) == [] and dashboard.summary(deps, "a1")["renewals"] == []

    deps.now.at = due - dt.timedelta(days=14)
    stats = cycle.run(deps)
    assert (stats["renewal_windows_opened"], stats["renewals_requested"], stats["errors"]) == (1, 1, 0)
    [message] = published.of(WINDOW)
    assert message["data"]["service_id"] == service["service_id"] and message["data"]["account_id"] == "a1"
    assert message["data"]["next_due_date"].startswith(iso(due)[:10])
    # the window is told before the renewal invoice is asked for
    assert published.types().index(WINDOW) < published.types().index("renewal_invoice_requested")
    [renewal] = dashboard.summary(deps, "a1")["renewals"]
    assert renewal["service_id"] == service["service_id"]

    assert cycle.run(deps)["renewal_windows_opened"] == 0  # the cycle running twice: told once
    deps.now.at = due + dt.timedelta(days=1)
    cycle.run(deps)
    assert len(published.of(WINDOW)) == 1
    stored = [e for e in Customer.load(deps.events, customer_stream("a1")).renewal_windows]
    assert stored == [f"{service['service_id']}:{iso(due)}"]


def test_a_second_instance_running_the_cycle_at_the_same_moment_tells_the_window_once(deps, published):
    """Two cycles decide on the same version: the one that appends second loses the race (the store's
    expected version), decides again on the fresh state, and finds the window told."""
    service = ordered_service(deps)
    due = dt.datetime.fromisoformat(service["next_due_date"].rstrip("Z"))
    deps.now.at = due - dt.timedelta(days=10)
    real_append = deps.events.append
    raced: list[int] = []

    def append(stream_id, expected_version, new_events, meta):
        if not raced and any(e.type == WINDOW for e in new_events):
            raced.append(expected_version)
            cycle.run(deps)  # the other instance, all the way through, between this one's decision and append
        return real_append(stream_id, expected_version, new_events, meta)

    deps.events.append = append
    try:
        cycle.run(deps)
    finally:
        deps.events.append = real_append
    assert raced and len(published.of(WINDOW)) == 1
    assert len(published.of("renewal_invoice_requested")) == 1


def test_the_cycle_tells_the_offer_starting_and_ending_once_each(deps, published):
    starts, ends = NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=5)
    window = {"title": "Wiosna", "text": "", "link": "/oferta", "starts_at": iso(starts), "ends_at": iso(ends),
              "discount_code": None, "discount_percent": None}  # fmt: skip
    # set now (the event's own time: the machine's clock, before the start on either clock)
    execute(deps.events, Offer, "offer", lambda o: o.set(offer_fields(window)), command_meta(None))
    assert cycle.run(deps)["offer_events"] == 0 and offer.current(deps) is None
    deps.now.at = starts
    assert cycle.run(deps)["offer_events"] == 1 and offer.current(deps)["title"] == "Wiosna"
    assert cycle.run(deps)["offer_events"] == 0
    deps.now.at = ends
    assert cycle.run(deps)["offer_events"] == 1 and offer.current(deps) is None
    assert cycle.run(deps)["offer_events"] == 0
    assert [m["type"] for m in published.of("offer_started") + published.of("offer_ended")] == [
        "offer_started", "offer_ended"]  # fmt: skip
    assert published.of("offer_started")[0]["data"] == {"title": "Wiosna", "starts_at": iso(starts),
                                                       "ends_at": iso(ends)}  # fmt: skip


def offer_fields(window: dict[str, Any]) -> dict[str, Any]:
    from services.billing.domain import validate_offer

    return validate_offer(**window)
