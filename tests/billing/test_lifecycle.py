"""A hosting service's lifecycle (issue #18): plan changes with proration, cancellation's money, a
consumer's withdrawal. Billing's worker with the real event store; the clock is set to fixed dates so
every prorated amount below is computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel import clock
from kernel.errors import CommandError
from tests.billing.conftest import STAFF, customer
from tests.billing.helpers import profile
from tests.billing.test_service import order_plan, pay_by_card
from tests.billing.test_stripe import VISA, _ordered, _pay_with, billing_stripe, peer  # noqa: F401 (fixtures)

DAY = 86_400
START = dt.datetime(2027, 3, 1, 10, 0)  # a monthly period 1 March - 1 April: 31 days


@pytest.fixture
def at_start(clock_file):
    clock.advance((START - clock.now()).total_seconds())


def active_service(billing, account_id: str, plan: str = "hosting-start", key: str = "life-key-1") -> str:
    pay_by_card(billing, order_plan(billing, account_id, key, plan=plan))
    [service] = billing.list_services(account_id)["items"]
    return service["service_id"]


def events_of(billing, account_id: str, kind: str) -> list[dict]:
    return [e.data for e in billing.events.load(f"customer-{account_id}") if e.type == kind]


def consumer(billing, account_id: str) -> None:
    """`account_id` buys as a consumer: no company, no NIP."""

    def lookup(asked: str) -> dict:
        found = profile(asked)
        if asked == account_id:
            found["billing_address"] = {**found["billing_address"], "company": "", "nip": ""}
        return found

    billing.accounts.get_profile.side_effect = lookup


def test_the_terms_show_each_plan_change_prorated_for_the_days_left(billing, at_start):
    service_id = active_service(billing, "a1")
    clock.advance(10 * DAY)  # 11 March: 21 of 31 days left
    terms = billing.get_service("a1", service_id)["terms"]
    assert (terms["days_left"], terms["days_in_period"]) == (21, 31)
    plans = {p["plan"]: p for p in terms["plans"]}
    assert set(plans) == {"hosting-biznes", "hosting-pro"}
    # (3999 - 1500) * 21 / 31 = 1692.87 -> 1693 net, VAT 389.39 -> 389
    assert (plans["hosting-biznes"]["direction"], plans["hosting-biznes"]["net"], plans["hosting-biznes"]["gross"]) == (
        "upgrade",
        1693,
        2082,
    )
    # (9900 - 1500) * 21 / 31 = 5690.32 -> 5690 net, VAT 1308.7 -> 1309
    assert (plans["hosting-pro"]["net"], plans["hosting-pro"]["gross"]) == (5690, 6999)
    # at once: 1845 gross * 21 / 31 = 1249.84 -> 1250 back; at the end: nothing back
    cancellation = terms["cancellation"]
    assert (cancellation["immediate_credit"], cancellation["end_of_period"][:10]) == (1250, "2027-04-01")


def test_an_upgrade_is_invoiced_and_takes_effect_when_paid(billing, at_start, published):
    service_id = active_service(billing, "a1")
    clock.advance(10 * DAY)
    changed = billing.change_service_plan("a1", service_id, "hosting-biznes", customer("a1"))
    invoice = changed["invoice"]
    assert invoice["status"] == "unpaid" and invoice["total_gross"] == 2082
    assert changed["plan"] == "hosting-start"  # not before it is paid
    [line] = billing.get_invoice("a1", invoice["invoice_id"])["lines"]
    assert (line["kind"], line["net"], line["params"]["previous_plan"]) == (
        "hosting_plan_change",
        1693,
        "hosting-start",
    )
    again = billing.change_service_plan("a1", service_id, "hosting-biznes", customer("a1"))
    assert again["invoice"]["invoice_id"] == invoice["invoice_id"]  # asked twice: one invoice
    assert events_of(billing, "a1", "service_plan_changed") == []
    billing.add_credit("a1", 2082, STAFF)
    billing.pay_all_unpaid("a1", "credit", None, customer("a1"))
    [event] = events_of(billing, "a1", "service_plan_changed")
    assert (event["plan"], event["previous_plan"], event["direction"], event["amount"], event["invoice_id"]) == (
        "hosting-biznes",
        "hosting-start",
        "upgrade",
        2082,
        invoice["invoice_id"],
    )
    assert billing.get_service("a1", service_id)["plan"] == "hosting-biznes"


def test_a_downgrade_is_credited_at_once(billing, at_start):
    service_id = active_service(billing, "a1", plan="hosting-biznes")
    clock.advance(10 * DAY)
    changed = billing.change_service_plan("a1", service_id, "hosting-start", customer("a1"))
    assert changed["plan"] == "hosting-start" and changed["invoice"] is None
    # (3999 - 1500) * 21 / 31 -> 1693 net off the order's line through a correction: 3999 net / 920 VAT / 4919
    # before, 2306 net / 530 VAT (530.38) / 2836 after, so 4919 - 2836 = 2083 comes back
    assert billing.get_credit("a1")["credit"] == 2083
    [credit] = events_of(billing, "a1", "credit_added")
    assert (credit["reason"], credit["reference"]) == ("plan_change", service_id)
    [event] = events_of(billing, "a1", "service_plan_changed")
    assert (event["direction"], event["amount"], event["invoice_id"]) == ("downgrade", 2083, None)
    [correction] = event["corrections"]
    assert credit["invoice_id"] == correction["correction_id"]  # the ledger names the correction
    kor = billing.get_invoice("a1", correction["correction_id"])
    assert kor["number"].startswith("KOR/") and kor["total_gross"] == -2083 and kor["total_net"] == -1693
    with pytest.raises(CommandError) as bad:
        billing.change_service_plan("a1", service_id, "hosting-start", customer("a1"))
    assert bad.value.fields == {"plan": "invalid_plan"}


def test_a_yearly_downgrade_counts_the_leap_year(billing, at_start):
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-pro", "cycle": "yearly", "domain": "example.pl"},
                          customer("a1"))  # fmt: skip
    pay_by_card(billing, billing.checkout("a1", "card", "life-yearly-1", customer("a1"), "https://panel/return"))
    [service] = billing.list_services("a1")["items"]
    clock.advance(100 * DAY)  # 9 June 2027: 266 of the 366 days to 1 March 2028 left
    terms = billing.get_service("a1", service["service_id"])["terms"]
    assert (terms["days_left"], terms["days_in_period"]) == (266, 366)
    # (15000 - 99000) * 266 / 366 = -61049.18 -> 61049 net back, VAT 14041.27 -> 14041
    billing.change_service_plan("a1", service["service_id"], "hosting-start", customer("a1"))
    assert billing.get_credit("a1")["credit"] == 75090


def test_cancelling_at_once_credits_the_unused_part_and_at_the_end_nothing(billing, at_start):
    first = active_service(billing, "a1")
    clock.advance(10 * DAY)
    billing.request_cancellation("a1", first, "immediate", customer("a1"))
    assert billing.get_credit("a1")["credit"] == 1250
    assert [(c["reason"], c["amount"]) for c in events_of(billing, "a1", "credit_added")] == [("cancellation", 1250)]
    second = active_service(billing, "a2")
    billing.request_cancellation("a2", second, "end_of_period", customer("a2"))
    assert billing.get_credit("a2")["credit"] == 0


def test_a_consumer_withdraws_within_14_days_through_a_correction(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(10 * DAY)
    assert billing.get_service("c1", service_id)["terms"]["withdrawal"]["available"] is True
    with pytest.raises(CommandError) as unconfirmed:
        billing.withdraw_from_service("c1", service_id, False, customer("c1"))
    assert unconfirmed.value.fields == {"confirm": "required"}
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    # used 10 of 31 days: 1500 - 1016 (1500 * 21 / 31) = 484 net + 111 VAT = 595 kept, 1845 - 595 back
    assert done["refund"] == 1250 and done["status"] == "cancelled"
    assert done["correction"]["total_gross"] == -1250 and done["correction"]["number"].startswith("KOR/")
    assert billing.get_credit("c1")["credit"] == 1250
    [withdrawn] = events_of(billing, "c1", "service_withdrawn")
    assert (withdrawn["refund"], withdrawn["refund_method"]) == (1250, "credit")
    with pytest.raises(CommandError) as twice:
        billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert twice.value.code == "service_not_active"


def test_no_withdrawal_after_14_days(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(14 * DAY + 3600)
    withdrawal = billing.get_service("c1", service_id)["terms"]["withdrawal"]
    assert (withdrawal["available"], withdrawal["refused"]) == (False, "withdrawal_period_over")
    with pytest.raises(CommandError) as late:
        billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert late.value.code == "withdrawal_period_over"
    assert events_of(billing, "c1", "service_withdrawn") == []


def test_a_business_buyer_has_no_withdrawal(billing, at_start):
    service_id = active_service(billing, "a1")  # the default profile has a NIP
    assert billing.get_service("a1", service_id)["terms"]["withdrawal"]["refused"] == "business_buyer"
    with pytest.raises(CommandError) as refused:
        billing.withdraw_from_service("a1", service_id, True, customer("a1"))
    assert refused.value.code == "business_buyer"


def test_a_withdrawal_paid_by_card_goes_back_to_the_card(billing_stripe, peer, published, at_start):  # noqa: F811
    consumer(billing_stripe, "c2")
    result = _ordered(billing_stripe, "c2")
    assert _pay_with(billing_stripe, peer[0], "c2", result["payment"]["payment_id"], VISA)["status"] == "succeeded"
    [service] = billing_stripe.list_services("c2")["items"]
    clock.advance(10 * DAY)
    done = billing_stripe.withdraw_from_service("c2", service["service_id"], True, customer("c2"))
    assert done["refund"] == 1250 and done["correction"]["total_gross"] == -1250
    [withdrawn] = events_of(billing_stripe, "c2", "service_withdrawn")
    assert withdrawn["refund_method"] == "card" and withdrawn["refund_id"].startswith("re_")
    assert billing_stripe.get_credit("c2")["credit"] == 0  # the money went to the card, not to credit
    assert published.of("invoice_refunded") == []  # the invoice itself is not refunded whole


def test_one_upgrade_waits_at_a_time_and_a_cancellation_withdraws_it(billing, at_start):
    service_id = active_service(billing, "a1")
    to_biznes = billing.change_service_plan("a1", service_id, "hosting-biznes", customer("a1"))["invoice"]
    to_pro = billing.change_service_plan("a1", service_id, "hosting-pro", customer("a1"))["invoice"]
    assert billing.get_invoice("a1", to_biznes["invoice_id"])["status"] == "cancelled"
    assert billing.get_invoice("a1", to_pro["invoice_id"])["status"] == "unpaid"
    billing.request_cancellation("a1", service_id, "immediate", customer("a1"))
    assert billing.get_invoice("a1", to_pro["invoice_id"])["status"] == "cancelled"
    assert events_of(billing, "a1", "service_plan_changed") == []
