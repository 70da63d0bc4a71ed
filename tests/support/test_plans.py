"""The plans a customer holds as support's own events (CustomerPlans, stream plans-<account_id>): the
aggregate's rules alone, then through the service's consumers of billing's service events, its read
model (accounts_with, the dashboard's news), a rebuild, and the one-off backfill from billing's events."""

from __future__ import annotations

import pytest

from kernel import db
from kernel.app import Deps
from kernel.errors import CommandError
from kernel.events import Event, NewEvent, stamp
from kernel.eventstore import EventStore
from services.support.domain import CustomerPlans, plans_stream
from services.support.plans_backfill import backfill, migrate
from services.support.projections import HeldPlan, plans_of
from tests.contract_examples import event_data
from tests.support.helpers import dashboard_news, staff

ALICE, BOB = "acc-alice", "acc-bob"


# --- the aggregate alone --------------------------------------------------------------------------
def record(plans: CustomerPlans, new_events: list[NewEvent]) -> list[NewEvent]:
    for event in stamp(plans.stream_id, plans.version + 1, new_events, {}):
        plans.apply(event)
    return new_events


def test_holding_a_plan_records_it_once_and_a_repeated_fact_records_nothing():
    plans = CustomerPlans(plans_stream(ALICE))
    [held] = record(plans, plans.hold("s1", "hosting-start", 3))
    assert held.type == "customer_plan_held"
    assert held.data == {"account_id": ALICE, "service_id": "s1", "plan": "hosting-start", "previous_plan": None,
                         "billing_version": 3}  # fmt: skip
    assert plans.hold("s1", "hosting-start", 3) == []  # the same billing event again
    assert plans.hold("s1", "hosting-start", 9) == []  # another event saying the same (an unsuspension)
    assert plans.held == {"s1": "hosting-start"}


def test_a_plan_change_is_held_with_the_new_plan_and_names_the_previous_one():
    plans = CustomerPlans(plans_stream(ALICE))
    record(plans, plans.hold("s1", "hosting-start", 3))
    record(plans, plans.hold("s2", "hosting-start", 4))
    [changed] = record(plans, plans.hold("s1", "hosting-pro", 7))
    assert (changed.type, changed.data["plan"], changed.data["previous_plan"]) == (
        "customer_plan_held", "hosting-pro", "hosting-start")  # fmt: skip
    assert plans.held == {"s1": "hosting-pro", "s2": "hosting-start"}


def test_dropping_ends_the_plan_once_and_an_older_billing_event_arriving_late_changes_nothing():
    plans = CustomerPlans(plans_stream(ALICE))
    record(plans, plans.hold("s1", "hosting-start", 3))
    record(plans, plans.hold("s1", "hosting-pro", 7))
    assert plans.hold("s1", "hosting-start", 5) == []  # an unsuspension from before the upgrade, redelivered late
    [dropped] = record(plans, plans.drop("s1", 9))
    assert dropped.data == {"account_id": ALICE, "service_id": "s1", "billing_version": 9}
    assert plans.drop("s1", 10) == []  # cancelled, then terminated: dropped already
    assert plans.hold("s1", "hosting-pro", 7) == []  # the activation or change before the end, late
    assert plans.held == {}


def test_an_end_heard_before_the_start_keeps_the_late_start_from_holding_anything():
    plans = CustomerPlans(plans_stream(ALICE))
    [dropped] = record(plans, plans.drop("s1", 8))
    assert dropped.type == "customer_plan_dropped"
    assert plans.hold("s1", "hosting-start", 3) == [] and plans.held == {}
    # a later fact about the service (a newer billing version) is still heard
    assert [e.data["plan"] for e in plans.hold("s1", "hosting-pro", 12)] == ["hosting-pro"]


def test_the_state_is_rebuilt_from_the_events_alone():
    plans = CustomerPlans(plans_stream(ALICE))
    decided = [*record(plans, plans.hold("s1", "hosting-start", 3)), *record(plans, plans.hold("s1", "hosting-pro", 7)),
               *record(plans, plans.hold("s2", "hosting-biznes", 8)), *record(plans, plans.drop("s2", 11))]  # fmt: skip
    again = CustomerPlans.from_events(plans.stream_id, stamp(plans.stream_id, 1, decided, {}))
    assert again.held == plans.held == {"s1": "hosting-pro"} and again.services == plans.services
    assert again.version == 4 and again.hold("s2", "hosting-biznes", 12) != []  # dropped, then a newer start


def test_a_fact_without_a_service_or_plan_is_refused_naming_the_field():
    plans = CustomerPlans(plans_stream(ALICE))
    with pytest.raises(CommandError) as err:
        plans.hold("s1", "", 1)
    assert err.value.fields == {"plan": "required"}
    with pytest.raises(CommandError) as err:
        plans.drop("", 1)
    assert err.value.fields == {"service_id": "required"}


# --- through the service: billing's events in, support's events and read model out -----------------
def billing_message(event_type: str, version: int, account_id: str = ALICE, service_id: str = "s1",
                    plan: str = "hosting-start", **extra) -> dict:  # fmt: skip
    data = event_data(event_type, account_id=account_id, service_id=service_id, name="WWW", plan=plan,
                      domain="a.pl", **extra)  # fmt: skip
    return {"event_id": f"b-{account_id}-{version}", "stream_id": f"customer-{account_id}", "version": version,
            "type": event_type, "occurred_at": "2026-01-01T00:00:00Z", "meta": {"correlation_id": f"c-{version}"},
            "data": data}  # fmt: skip


def plan_events(support) -> list[tuple[str, dict]]:
    return [(t, m["data"]) for t, m in support.dispatch.messages if t.startswith("customer_plan_")]


def publish(support, title: str, plans: list[str]) -> str:
    return support.worker.publish_news(title, "Treść", "pl", plans, ctx=staff())["news_id"]


def dashboard_titles(support, account_id: str = ALICE) -> set[str]:
    return {n["title"] for n in dashboard_news(support.worker, account_id, "pl")}


def test_billing_events_become_plan_events_and_the_dashboard_follows_a_plan_change(support):
    publish(support, "Dla Start", ["hosting-start"])
    publish(support, "Dla Pro", ["hosting-pro"])
    activated = billing_message("service_activated", 3)
    support.worker.on_service_activated(activated)
    support.worker.on_service_activated(activated)  # redelivered: the consumer applies it once
    support.worker.on_service_unsuspended(billing_message("service_unsuspended", 4))  # says nothing new
    assert dashboard_titles(support) == {"Dla Start"}
    assert [t for t, _ in plan_events(support)] == ["customer_plan_held"]

    support.worker.on_service_plan_changed(billing_message(
        "service_plan_changed", 7, plan="hosting-pro", previous_plan="hosting-start", direction="upgrade"))  # fmt: skip
    assert dashboard_titles(support) == {"Dla Pro"}
    assert plans_of(ALICE) == ["hosting-pro"] and support.worker.accounts_with_plans(["hosting-start"]) == []
    assert support.worker.accounts_with_plans(["hosting-pro"]) == [ALICE]
    [_, (kind, data)] = plan_events(support)
    assert kind == "customer_plan_held"
    assert (data["account_id"], data["plan"], data["previous_plan"]) == (ALICE, "hosting-pro", "hosting-start")
    # support's event carries the billing event's correlation, and what caused it
    [stored] = [e for e in support.worker.events.store.load(plans_stream(ALICE)) if e.version == 2]
    assert stored.meta["causation_id"] == "b-acc-alice-7" and stored.meta["correlation_id"] == "c-7"

    support.worker.on_service_cancelled(billing_message("service_cancelled", 9, plan="hosting-pro", reason="customer"))
    support.worker.on_service_terminated(billing_message("service_terminated", 10, plan="hosting-pro", reason="x"))
    assert dashboard_titles(support) == set() and plans_of(ALICE) == []
    assert [t for t, _ in plan_events(support)] == ["customer_plan_held"] * 2 + ["customer_plan_dropped"]


def test_the_plans_read_model_is_rebuilt_from_the_events(support):
    support.worker.on_service_activated(billing_message("service_activated", 1, plan="hosting-start"))
    support.worker.on_service_activated(billing_message("service_activated", 1, BOB, "s2", "hosting-biznes"))
    support.worker.on_service_plan_changed(billing_message(
        "service_plan_changed", 2, plan="hosting-pro", previous_plan="hosting-start", direction="upgrade"))  # fmt: skip
    before = sorted((h.id, h.account_id, h.plan) for h in HeldPlan.objects)
    assert before == [("s1", ALICE, "hosting-pro"), ("s2", BOB, "hosting-biznes")]
    [plans] = [p for p in support.worker.events.projections if p.name == "plans"]
    plans.reset()  # what `make rebuild` does: drop, then every stored event again
    assert HeldPlan.objects.count() == 0
    plans.apply_all(support.worker.events.store.all_events())
    assert sorted((h.id, h.account_id, h.plan) for h in HeldPlan.objects) == before


def test_the_backfill_learns_from_billings_stored_service_events_once(support):
    stored = [Event.from_message(m) for m in (
        billing_message("service_activated", 2, plan="hosting-start"),
        billing_message("service_renewed", 3),
        billing_message("service_plan_changed", 5, plan="hosting-pro", previous_plan="hosting-start",
                        direction="upgrade"),
        billing_message("service_activated", 1, BOB, "s2", "hosting-biznes"),
        billing_message("service_cancelled", 4, BOB, "s2", "hosting-biznes", reason="customer"),
    )]  # fmt: skip
    deps = Deps(support.worker.events)
    assert backfill(deps, stored) == 4  # held, held (the change), held and dropped; the renewal says nothing
    assert plans_of(ALICE) == ["hosting-pro"] and plans_of(BOB) == []
    assert backfill(deps, stored) == 0  # a second run records nothing
    # what the consumers hear afterwards, already known, records nothing either
    support.worker.on_service_plan_changed(billing_message(
        "service_plan_changed", 5, plan="hosting-pro", previous_plan="hosting-start", direction="upgrade"))  # fmt: skip
    assert support.worker.events.store.load(plans_stream(ALICE))[-1].version == 2


def test_the_one_off_migration_reads_billings_store_and_drops_the_old_collection(support, mongo_alias):
    mongo_alias("billing")
    billing = EventStore("billing")
    billing.ensure_indexes()
    facts = [billing_message("service_activated", 1, plan="hosting-start"),
             billing_message("service_plan_changed", 2, plan="hosting-pro", previous_plan="hosting-start",
                             direction="upgrade"),
             billing_message("service_activated", 1, BOB, "s2", "hosting-biznes")]  # fmt: skip
    for m in facts:
        billing.append(m["stream_id"], m["version"] - 1, [NewEvent(m["type"], m["data"])], {})
    old = db.database("support")["customer_services"]
    old.insert_one({"_id": "s1", "account_id": ALICE, "plan": "hosting-start"})  # what support kept before
    assert migrate() == 3
    assert plans_of(ALICE) == ["hosting-pro"] and plans_of(BOB) == ["hosting-biznes"]
    assert "customer_services" not in db.database("support").list_collection_names()
    stored = support.worker.events.store.load(plans_stream(ALICE))
    assert [e.data["plan"] for e in stored] == ["hosting-start", "hosting-pro"]
    assert migrate() == 0  # run again: nothing new
