"""Billing decisions without I/O: numbering, orders, payments, renewals and overdue handling."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel.errors import CommandError, NotFound
from kernel.events import NewEvent, stamp
from kernel.money import invoice_line, totals
from services.billing.catalog import add_months
from services.billing.domain import (
    Customer,
    InvoiceLedger,
    Offer,
    Policy,
    det_id,
    iso,
    offer_active,
    validate_offer,
)

T0 = dt.datetime(2026, 11, 10, 12, 0, 0)
POLICY = Policy(renewal_days=14, grace_days=5, termination_days=30, payment_days=7, reminder_days=(1, 3))


def run(aggregate, new_events: list[NewEvent]):
    for event in stamp(aggregate.stream_id, aggregate.version + 1, new_events, {}):
        aggregate.apply(event)
    return new_events


def types(new_events: list[NewEvent]) -> list[str]:
    return [e.type for e in new_events]


def order(order_id: str = "o1", invoice_id: str = "i1", cycle: str = "monthly") -> dict:
    params = {"plan": "hosting-start", "cycle": cycle, "domain": "example.pl", "name": "Hosting Start — example.pl"}
    lines = [invoice_line("hosting", "Hosting Start", params, 1500, 23)]
    return {"order_id": order_id, "invoice_id": invoice_id, "lines": lines, **totals(lines), "month": "2026-11",
            "issue_date": iso(T0), "due_date": iso(T0 + dt.timedelta(days=7)), "buyer": {}, "items": []}  # fmt: skip


# --- numbering --------------------------------------------------------------
def test_ledger_numbers_are_consecutive_per_month_and_idempotent_per_invoice():
    ledger = InvoiceLedger("invoices-2026-11")
    run(ledger, ledger.issue("a", {}))
    run(ledger, ledger.issue("b", {}))
    assert ledger.issued == {"a": "FV/2026/11/0001", "b": "FV/2026/11/0002"}
    assert ledger.issue("a", {}) == []  # a retry never takes a second number
    assert ledger.issue("c", {})[0].data["number"] == "FV/2026/11/0003"
    assert InvoiceLedger("invoices-2027-01").issue("x", {})[0].data["number"] == "FV/2027/01/0001"


def test_number_follows_stream_version_so_a_lost_race_takes_the_next_one():
    ledger = InvoiceLedger("invoices-2026-11")
    decided_by_both = ledger.issue("a", {})  # two writers read version 0
    run(ledger, decided_by_both)  # one append wins ...
    retry = ledger.issue("b", {})  # ... the other re-decides on the fresh state
    assert retry[0].data["number"] == "FV/2026/11/0002" and ledger.version == 1


# --- orders and payments ------------------------------------------------------
def test_same_order_id_places_nothing_twice():
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    assert customer.place_order(order()) == []


def test_card_payment_applies_once_activates_service_and_overpayment_becomes_credit():
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    events = run(customer, customer.receive_payment("p1", "card", 2000, ["i1"], {"i1": "FV/2026/11/0001"}, T0))
    assert types(events) == ["payment_received", "invoice_paid", "service_activated", "credit_added"]
    assert events[-1].data["amount"] == 2000 - 1845 and customer.credit == 155
    service = next(iter(customer.services.values()))
    assert service["next_due_date"] == add_months(T0, 1) and service["status"] == "active"
    assert customer.receive_payment("p1", "card", 2000, ["i1"], {"i1": "FV/2026/11/0001"}, T0) == []
    # a late second payment for a paid invoice is not lost: all of it becomes credit
    late = run(customer, customer.receive_payment("p2", "card", 1845, ["i1"], {"i1": "FV/2026/11/0001"}, T0))
    assert types(late) == ["payment_received", "credit_added"] and customer.credit == 155 + 1845


def test_partial_payment_leaves_invoice_unpaid():
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    events = run(customer, customer.receive_payment("p1", "bank_transfer", 1000, ["i1"], {"i1": "N"}, T0))
    assert types(events) == ["payment_received"]
    assert customer.outstanding("i1") == 845 and customer.invoices["i1"]["status"] == "unpaid"


def test_credit_pays_whole_invoices_or_refuses():
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    with pytest.raises(CommandError) as refused:
        customer.pay_from_credit(["i1"], {"i1": "N"}, T0)
    assert refused.value.code == "insufficient_credit"
    run(customer, customer.add_credit(2000, "manual", "r1"))
    events = run(customer, customer.pay_from_credit(["i1"], {"i1": "N"}, T0))
    assert types(events) == ["credit_used", "invoice_paid", "service_activated"] and customer.credit == 155
    assert customer.pay_from_credit(["i1"], {"i1": "N"}, T0) == []


def test_unissued_or_foreign_invoice_cannot_be_paid():
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    with pytest.raises(CommandError) as not_issued:
        customer.receive_payment("p1", "card", 100, ["i1"], {}, T0)
    assert not_issued.value.code == "invoice_not_issued"
    with pytest.raises(NotFound):
        customer.receive_payment("p1", "card", 100, ["someone-elses"], {}, T0)


# --- renewals and overdue -------------------------------------------------------
def active_customer() -> tuple[Customer, str]:
    customer = Customer("customer-acc")
    run(customer, customer.place_order(order()))
    run(customer, customer.receive_payment("p1", "card", 1845, ["i1"], {"i1": "N1"}, T0))
    return customer, next(iter(customer.services))


def renewal_request(customer: Customer, service_id: str, now: dt.datetime) -> str:
    due = customer.services[service_id]["next_due_date"]
    invoice_id = det_id("renewal", service_id, iso(due))
    lines = [invoice_line("hosting_renewal", "Odnowienie", {"service_id": service_id}, 1500, 23)]
    request = {"invoice_id": invoice_id, "lines": lines, **totals(lines), "month": "2026-12", "issue_date": iso(now),
               "due_date": iso(due), "buyer": {}, "order_id": None}  # fmt: skip
    run(customer, customer.request_renewal(service_id, due, request))
    assert customer.request_renewal(service_id, due, request) == []  # once per period
    return invoice_id


def test_renewal_is_due_only_within_renewal_days():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    assert customer.renewals_due(due - dt.timedelta(days=15), POLICY) == []
    assert customer.renewals_due(due - dt.timedelta(days=14), POLICY) == [(service_id, due)]
    renewal_request(customer, service_id, due - dt.timedelta(days=14))
    assert customer.renewals_due(due - dt.timedelta(days=13), POLICY) == []


def test_paying_the_renewal_extends_the_due_date_exactly_once():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    invoice_id = renewal_request(customer, service_id, due - dt.timedelta(days=14))
    run(customer, customer.receive_payment("p2", "card", 1845, [invoice_id], {invoice_id: "N2"}, due))
    assert customer.services[service_id]["next_due_date"] == add_months(due, 1)
    again = run(customer, customer.receive_payment("p3", "card", 1845, [invoice_id], {invoice_id: "N2"}, due))
    assert types(again) == ["payment_received", "credit_added"]
    assert customer.services[service_id]["next_due_date"] == add_months(due, 1)


def test_overdue_reminds_then_suspends_then_payment_unsuspends():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    invoice_id = renewal_request(customer, service_id, due - dt.timedelta(days=14))
    numbers = {invoice_id: "N2"}
    assert customer.overdue(due, POLICY, numbers) == []  # not late yet
    first = run(customer, customer.overdue(due + dt.timedelta(days=1), POLICY, numbers))
    assert types(first) == ["invoice_overdue_reminder"] and first[0].data["reminder_no"] == 1
    assert customer.overdue(due + dt.timedelta(days=2), POLICY, numbers) == []
    late = run(customer, customer.overdue(due + dt.timedelta(days=5), POLICY, numbers))
    assert types(late) == ["service_suspended", "invoice_overdue_reminder"]
    assert customer.services[service_id]["status"] == "suspended"
    assert customer.overdue(due + dt.timedelta(days=5), POLICY, numbers) == []  # a second run: nothing
    paid = run(
        customer, customer.receive_payment("p2", "card", 1845, [invoice_id], numbers, due + dt.timedelta(days=6))
    )
    assert types(paid) == ["payment_received", "invoice_paid", "service_renewed", "service_unsuspended"]
    assert customer.services[service_id]["status"] == "active"


def test_termination_after_termination_days_cancels_the_renewal_invoice():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    invoice_id = renewal_request(customer, service_id, due - dt.timedelta(days=14))
    run(customer, customer.overdue(due + dt.timedelta(days=6), POLICY, {invoice_id: "N2"}))
    events = run(customer, customer.overdue(due + dt.timedelta(days=30), POLICY, {invoice_id: "N2"}))
    assert types(events) == ["service_terminated", "invoice_cancelled"]
    assert customer.renewals_due(due + dt.timedelta(days=31), POLICY) == []


def test_cancellation_end_of_period_and_immediate():
    customer, service_id = active_customer()
    due = customer.services[service_id]["next_due_date"]
    invoice_id = renewal_request(customer, service_id, due - dt.timedelta(days=14))
    events = run(customer, customer.request_cancellation(service_id, "end_of_period", T0))
    assert types(events) == ["service_cancellation_requested", "invoice_cancelled"]
    assert customer.invoices[invoice_id]["status"] == "cancelled"
    assert customer.overdue(due - dt.timedelta(days=1), POLICY, {}) == []
    assert types(customer.overdue(due, POLICY, {})) == ["service_cancelled"]
    other, other_id = active_customer()
    assert types(other.request_cancellation(other_id, "immediate", T0)) == ["service_cancelled"]
    with pytest.raises(CommandError):
        other.request_cancellation(other_id, "tomorrow", T0)


# --- offer ------------------------------------------------------------------------
def test_offer_validation_and_window():
    offer = validate_offer(
        "Promocja", "Hosting -20%", "/sklep", iso(T0), iso(T0 + dt.timedelta(days=7)), "jesien20", 20
    )
    assert offer["discount_code"] == "JESIEN20"
    assert offer_active(offer, T0) and not offer_active(offer, T0 + dt.timedelta(days=7))
    assert not offer_active(None, T0)
    with pytest.raises(CommandError) as bad:
        validate_offer("", "", "javascript:x", iso(T0), iso(T0), "X", 0)
    assert set(bad.value.fields) == {"title", "link", "ends_at", "discount_percent"}


def test_offer_english_texts_are_optional_and_validated_like_the_polish_ones():
    window = (iso(T0), iso(T0 + dt.timedelta(days=7)), None, None)
    polish_only = validate_offer("Promocja", "Hosting -20%", "/order", *window)
    assert polish_only["title_en"] == "" and polish_only["text_en"] == ""
    both = validate_offer("Promocja", "Hosting -20%", "/order", *window, " Sale ", " Hosting 20% off ")
    assert (both["title"], both["title_en"], both["text_en"]) == ("Promocja", "Sale", "Hosting 20% off")
    assert validate_offer("Promocja", "", "/order", *window, "Sale", "")["title_en"] == "Sale"  # a title is enough
    assert validate_offer("Promocja", "", "/order", *window, "x" * 120, "y" * 1000)["text_en"] == "y" * 1000
    for title_en, text_en, fields in (
        ("x" * 121, "", {"title_en": "too_long"}),
        ("Sale", "y" * 1001, {"text_en": "invalid_text"}),
        ("", "Hosting 20% off", {"title_en": "title_en_required"}),  # English text needs an English title
        ("   ", "Hosting 20% off", {"title_en": "title_en_required"}),
    ):
        with pytest.raises(CommandError) as bad:
            validate_offer("Promocja", "", "/order", *window, title_en, text_en)
        assert bad.value.fields == fields, (title_en, text_en)


def test_an_offer_stored_before_the_english_texts_reads_as_having_none():
    offer = Offer("offer")
    old = {"title": "Promocja", "text": "Tekst", "link": "/order", "starts_at": iso(T0),
           "ends_at": iso(T0 + dt.timedelta(days=7)), "discount_code": None, "discount_percent": 0}  # fmt: skip
    run(offer, [NewEvent("offer_set", old)])
    assert offer.current["title_en"] == "" and offer.current["text_en"] == ""
    same = validate_offer("Promocja", "Tekst", "/order", old["starts_at"], old["ends_at"], None, None)
    assert offer.set(same) == []  # the same offer again: nothing happened
    english = validate_offer("Promocja", "Tekst", "/order", old["starts_at"], old["ends_at"], None, None, "Sale", "")
    assert [e.data["title_en"] for e in offer.set(english)] == ["Sale"]
