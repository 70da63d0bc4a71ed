"""The HostingAccount aggregate without servers (unit tier): what billing's plan changes record, in
whatever order they arrive, and the step they leave to take."""

from __future__ import annotations

import datetime as dt

from kernel.events import stamp
from services.hosting import plans
from services.hosting.domain import HostingAccount, hosting_stream

NOW = dt.datetime(2026, 11, 10, 12, 0)
IDS = {"account_id": "acc-1", "service_id": "svc-1"}


def record(account: HostingAccount, new_events: list) -> HostingAccount:
    for event in stamp(account.stream_id, account.version + 1, new_events, {}):
        account.apply(event)
    return account


def created(plan: str = "hosting-start") -> HostingAccount:
    account = HostingAccount(hosting_stream("svc-1"))
    record(account, account.request("acc-1", "svc-1", plan, "a.example.test", "local", plans.limits(plan)))
    return record(account, account.done(account.next_step(NOW)))


def change(account: HostingAccount, plan: str, hours: float) -> list:
    return account.change_plan(plan, plans.limits(plan), NOW + dt.timedelta(hours=hours), IDS)


def test_a_plan_change_is_one_step_and_the_same_change_again_records_nothing():
    account = created()
    record(account, change(account, "hosting-pro", 1))
    assert (account.plan, account.applied_plan, account.next_step(NOW)) == (
        "hosting-pro",
        "hosting-start",
        "change_plan",
    )
    assert change(account, "hosting-pro", 1) == []  # delivered again
    record(account, account.done("change_plan"))
    assert account.next_step(NOW) is None and account.applied_plan == "hosting-pro"
    assert change(account, "hosting-pro", 1) == [] and change(account, "hosting-biznes", 0.5) == []  # late, older


def test_the_newest_change_wins_when_an_older_one_arrives_after_it():
    account = created()
    record(account, change(account, "hosting-start", 2))  # a downgrade back, arriving before the upgrade it undoes
    assert account.next_step(NOW) is None
    assert change(account, "hosting-pro", 1) == []
    assert account.plan == "hosting-start"


def test_a_change_before_the_activation_is_the_plan_the_account_is_created_with():
    account = HostingAccount(hosting_stream("svc-1"))
    record(account, change(account, "hosting-biznes", 1))
    assert account.next_step(NOW) is None and not account.requested
    [requested] = account.request(
        "acc-1", "svc-1", "hosting-start", "a.example.test", "local", plans.limits("hosting-start")
    )
    assert requested.data["plan"] == "hosting-biznes" and requested.data["limits"] == plans.limits("hosting-biznes")
    record(account, [requested])
    assert account.next_step(NOW) == "create"
    record(account, account.done("create"))
    assert account.next_step(NOW) is None


def test_a_change_back_to_the_servers_plan_drops_the_failing_step():
    account = created()
    record(account, change(account, "hosting-pro", 1))
    record(account, account.failed("change_plan", "hosting_server_unreachable", True, NOW))
    assert account.attempts == 1 and not account.due(NOW)
    record(account, change(account, "hosting-start", 2))
    assert account.attempts == 0 and account.next_step(NOW) is None


def test_no_change_for_an_account_being_removed_and_staff_changes_carry_no_time():
    account = created()
    assert account.change_plan("hosting-start", plans.limits("hosting-start")) == []  # staff: the same plan
    [staff] = account.change_plan("hosting-pro", plans.limits("hosting-pro"))
    assert "changed_at" not in staff.data
    record(account, account.remove("cancelled", NOW))
    assert change(account, "hosting-biznes", 3) == []
