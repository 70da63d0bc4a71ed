"""A withdrawal, a cancellation at once or a downgrade issues its correcting invoices (KOR) first and then
records the customer's command (the credit, the service's new state). Should that command fail in between
(a crash, the database away), the corrections carry the action they were issued for, and the invoice
documents timer (`run_invoice_documents`) finishes it SETTLE_AFTER later, as of the moment the customer
asked: the same corrections, the same money, once (services.billing.app.services.finish_unsettled)."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel import clock
from services.billing.app.services import SETTLE_AFTER
from services.billing.domain import Customer, parse
from services.billing.projections import InvoiceView
from tests.billing.conftest import customer
from tests.billing.test_lifecycle import DAY, START, active_service, consumer, events_of

LATER = SETTLE_AFTER.total_seconds() + 60


@pytest.fixture
def at_start(clock_file):
    clock.advance((START - clock.now()).total_seconds())


@pytest.fixture
def crash_once(monkeypatch):
    """Makes the Customer command `name` fail once, as if the process died after the corrections."""

    def crash(name: str) -> None:
        real = getattr(Customer, name)
        calls = {"n": 0}

        def failing(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("the worker died here")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Customer, name, failing)

    return crash


def corrections_of(account_id: str) -> list[InvoiceView]:
    return list(InvoiceView.objects(account_id=account_id, kind="correction"))


def finished(billing) -> int:
    return billing.run_invoice_documents().get("actions_finished", 0)


def test_a_withdrawal_that_failed_after_its_correction_is_finished_once_as_asked(billing, at_start, crash_once):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(12 * DAY)
    asked_at = clock.now()
    expected = billing.get_service("c1", service_id)["terms"]["withdrawal"]["refund"]
    crash_once("withdraw")
    with pytest.raises(RuntimeError):
        billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    [kor] = corrections_of("c1")
    assert kor.total_gross == -expected and not kor.settled
    assert events_of(billing, "c1", "credit_added") == [] and billing.get_credit("c1")["credit"] == 0
    assert finished(billing) == 0  # not yet: the request might still be finishing it

    clock.advance(LATER + 3 * DAY)  # days later: the money is still that of the day it was asked
    assert finished(billing) == 1
    [withdrawn] = events_of(billing, "c1", "service_withdrawn")
    assert withdrawn["refund"] == expected and withdrawn["correction_id"] == kor.id
    # when the customer asked, not when it was finished
    assert withdrawn["withdrawn_at"] == kor.action["at"] and asked_at <= parse(
        kor.action["at"]
    ) < asked_at + dt.timedelta(minutes=1)
    [credit] = events_of(billing, "c1", "credit_added")
    assert (credit["reason"], credit["amount"], credit["invoice_id"]) == ("withdrawal", expected, kor.id)
    assert [c.id for c in corrections_of("c1")] == [kor.id]  # no second KOR
    assert InvoiceView.objects(id=kor.id).first().settled is True
    assert billing.get_service("c1", service_id)["status"] == "cancelled"
    assert finished(billing) == 0 and billing.get_credit("c1")["credit"] == expected  # once


def test_a_downgrade_that_failed_after_its_correction_is_finished_with_the_same_credit(billing, at_start, crash_once):
    service_id = active_service(billing, "a1", plan="hosting-biznes")
    clock.advance(10 * DAY)
    crash_once("change_plan")
    with pytest.raises(RuntimeError):
        billing.change_service_plan("a1", service_id, "hosting-start", customer("a1"))
    [kor] = corrections_of("a1")
    assert kor.total_gross == -2083 and kor.action["plan"] == "hosting-start"  # see test_lifecycle's downgrade
    assert billing.get_service("a1", service_id)["plan"] == "hosting-biznes"
    clock.advance(LATER)
    assert finished(billing) == 1
    assert billing.get_service("a1", service_id)["plan"] == "hosting-start"
    assert billing.get_credit("a1")["credit"] == 2083
    [changed] = events_of(billing, "a1", "service_plan_changed")
    assert [c["correction_id"] for c in changed["corrections"]] == [kor.id]
    assert [c.id for c in corrections_of("a1")] == [kor.id] and finished(billing) == 0


def test_a_cancellation_at_once_that_failed_after_its_correction_is_finished(billing, at_start, crash_once):
    service_id = active_service(billing, "a1")
    clock.advance(10 * DAY)
    crash_once("request_cancellation")
    with pytest.raises(RuntimeError):
        billing.request_cancellation("a1", service_id, "immediate", customer("a1"))
    [kor] = corrections_of("a1")
    clock.advance(LATER)
    assert finished(billing) == 1
    assert [(c["reason"], c["amount"], c["invoice_id"]) for c in events_of(billing, "a1", "credit_added")] == [
        ("cancellation", -kor.total_gross, kor.id)]  # fmt: skip
    assert billing.get_service("a1", service_id)["status"] == "cancelled" and finished(billing) == 0


def test_a_finished_action_is_never_asked_again(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(12 * DAY)
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    [kor] = corrections_of("c1")
    assert kor.settled is True and kor.action == {"kind": "withdrawal", "service_id": service_id,
                                                  "at": kor.action["at"]}  # fmt: skip
    clock.advance(LATER)
    assert finished(billing) == 0
    assert billing.get_credit("c1")["credit"] == done["refund"]


def test_an_action_that_can_no_longer_be_finished_is_left_and_logged(billing, at_start, crash_once, caplog):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(12 * DAY)
    crash_once("withdraw")
    with pytest.raises(RuntimeError):
        billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    billing.request_cancellation("c1", service_id, "immediate", customer("c1"))  # the customer did this instead
    credit = billing.get_credit("c1")["credit"]
    clock.advance(LATER)
    assert finished(billing) == 0
    assert billing.get_credit("c1")["credit"] == credit  # nothing given twice
    assert "cannot be finished" in caplog.text
    assert dt.timedelta(seconds=LATER) > SETTLE_AFTER
