"""A consumer's withdrawal gives back everything paid for the service less what was credited back less
the days used (services.billing.app.services.withdraw): after a paid upgrade, after a downgrade, after a
renewal paid early, with one correcting invoice (KOR) per corrected invoice. Every amount is worked out
here from the catalogue's prices and the dates, with Decimal and half-up rounding, not with billing's code.

The clock starts on 1 March 2027 10:00: the monthly period runs to 1 April, 31 days."""

from __future__ import annotations

import base64
from decimal import ROUND_HALF_UP, Decimal

import pytest

from kernel import clock
from kernel.errors import CommandError
from tests.billing.conftest import STAFF, customer
from tests.billing.test_lifecycle import DAY, START, active_service, consumer, events_of
from tests.billing.test_stripe import VISA, _ordered, _pay_with, billing_stripe, peer  # noqa: F401 (fixtures)

START_NET, BIZNES_NET, RATE, DAYS = 1500, 3999, 23, 31  # the demo catalogue's monthly net prices, VAT 23%


@pytest.fixture
def at_start(clock_file):
    clock.advance((START - clock.now()).total_seconds())


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gross(net: int) -> int:
    return net + half_up(Decimal(net) * RATE / 100)


def share(net: int, days: int, of: int) -> int:
    """`net` for `days` of `of` days."""
    return half_up(Decimal(net) * days / of)


def pay_from_credit(billing, account_id: str, amount: int) -> None:
    billing.add_credit(account_id, amount, STAFF)
    billing.pay_all_unpaid(account_id, "credit", None, customer(account_id))


def kor_numbers(corrections: list[dict]) -> list[int]:
    return [int(c["number"].rsplit("/", 1)[1]) for c in corrections]


def test_a_plain_withdrawal_gives_back_the_unused_days_through_one_correction(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    order_invoice = billing.list_services("c1")["items"][0]
    clock.advance(12 * DAY)  # 13 March: 12 of 31 days used, 19 left
    kept = START_NET - share(START_NET, 19, DAYS)  # 1500 - 919 = 581 net kept
    expected = gross(START_NET) - gross(kept)  # 1845 - 715 = 1130
    assert billing.get_service("c1", service_id)["terms"]["withdrawal"]["refund"] == expected
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert (done["refund"], done["refund_method"]) == (expected, "credit")
    [correction] = done["corrections"]
    assert correction["total_gross"] == -expected and correction["total_net"] == -(START_NET - kept)
    [withdrawn] = events_of(billing, "c1", "service_withdrawn")
    [part] = withdrawn["refunds"]
    assert (part["invoice_id"], part["correction_id"], part["amount"]) == (
        withdrawn["invoice_id"],
        correction["invoice_id"],
        expected,
    )
    assert correction["correction"]["invoice_id"] == withdrawn["invoice_id"]
    assert order_invoice["service_id"] == service_id
    [credit] = events_of(billing, "c1", "credit_added")
    assert (credit["reason"], credit["amount"], credit["invoice_id"]) == (
        "withdrawal",
        expected,
        correction["invoice_id"],
    )


def test_after_a_paid_upgrade_both_invoices_are_corrected_and_the_upgrade_is_not_lost(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(10 * DAY)  # 11 March: 21 days left, the upgrade is prorated on them
    upgrade = billing.change_service_plan("c1", service_id, "hosting-biznes", customer("c1"))["invoice"]
    upgrade_net = share(BIZNES_NET - START_NET, 21, DAYS)  # 2499 * 21 / 31 = 1692.87 -> 1693
    assert upgrade["total_gross"] == gross(upgrade_net) == 2082
    pay_from_credit(billing, "c1", upgrade["total_gross"])
    assert billing.get_service("c1", service_id)["plan"] == "hosting-biznes"

    # At once, the same day: the order's 21 unused days of Start plus the whole upgrade, which is what
    # cancelling at once would credit: Biznes for 21 of 31 days (4919 * 21 / 31 = 3332.23).
    same_day = gross(START_NET) - gross(START_NET - share(START_NET, 21, DAYS)) + gross(upgrade_net)
    terms = billing.get_service("c1", service_id)["terms"]
    assert terms["withdrawal"]["refund"] == same_day == terms["cancellation"]["immediate_credit"] == 3332

    clock.advance(2 * DAY)  # 13 March: 19 days left; 10 days of Start and 2 of Biznes used
    order_back = gross(START_NET) - gross(START_NET - share(START_NET, 19, DAYS))  # 1845 - gross(581) = 1130
    upgrade_back = gross(upgrade_net) - gross(upgrade_net - share(upgrade_net, 19, 21))  # 2082 - gross(161) = 1884
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert (done["refund"], order_back, upgrade_back) == (order_back + upgrade_back, 1130, 1884)
    # Cancelling at once rounds Biznes's 19 days once (4919 * 19 / 31 = 3014.87 -> 3015); each invoice
    # line rounds on its own here: one grosz apart.
    assert done["refund"] == 3014
    [withdrawn] = events_of(billing, "c1", "service_withdrawn")
    parts = {p["invoice_id"]: p for p in withdrawn["refunds"]}
    assert parts[upgrade["invoice_id"]]["amount"] == upgrade_back
    assert parts[withdrawn["invoice_id"]]["amount"] == order_back
    order_kor, upgrade_kor = done["corrections"]
    assert order_kor["correction"]["invoice_id"] == withdrawn["invoice_id"] != upgrade["invoice_id"]
    assert upgrade_kor["correction"]["number"] == upgrade["number"]
    assert (order_kor["total_gross"], upgrade_kor["total_gross"]) == (-order_back, -upgrade_back)
    assert kor_numbers(done["corrections"]) == [1, 2]  # the month's KOR series, gapless
    assert billing.get_credit("c1")["credit"] == order_back + upgrade_back
    credits = [(c["reason"], c["amount"], c.get("invoice_id")) for c in events_of(billing, "c1", "credit_added")]
    assert credits[-2:] == [("withdrawal", order_back, order_kor["invoice_id"]),
                            ("withdrawal", upgrade_back, upgrade_kor["invoice_id"])]  # fmt: skip


def test_after_a_downgrade_its_credit_is_not_given_twice(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1", plan="hosting-biznes")
    clock.advance(10 * DAY)  # 11 March: 21 days left
    down_net = share(BIZNES_NET - START_NET, 21, DAYS)  # 1693
    down_back = gross(BIZNES_NET) - gross(BIZNES_NET - down_net)  # 4919 - gross(2306) = 4919 - 2836 = 2083
    plans = {p["plan"]: p for p in billing.get_service("c1", service_id)["terms"]["plans"]}
    assert plans["hosting-start"]["gross"] == down_back == 2083  # said before confirming
    billing.change_service_plan("c1", service_id, "hosting-start", customer("c1"))
    assert billing.get_credit("c1")["credit"] == down_back
    [changed] = events_of(billing, "c1", "service_plan_changed")
    [down_kor] = changed["corrections"]
    assert (down_kor["net"], down_kor["gross"], down_kor["days"]) == (down_net, down_back, 21)

    clock.advance(2 * DAY)  # 13 March: 19 days left; 10 days of Biznes and 2 of Start used
    # The order's line: Biznes's 19 days ahead, less the same share of the downgrade's credit (its 21 days).
    unused = share(BIZNES_NET, 19, DAYS) - share(down_net, 19, 21)  # 2451 - 1532 = 919
    kept = BIZNES_NET - down_net - unused  # 2306 - 919 = 1387 net: 10 days of Biznes + 2 of Start (1386.8)
    assert kept == half_up(Decimal(BIZNES_NET) * 10 / DAYS + Decimal(START_NET) * 2 / DAYS)
    expected = gross(BIZNES_NET - down_net) - gross(kept)  # 2836 - 1706 = 1130
    assert billing.get_service("c1", service_id)["terms"]["withdrawal"]["refund"] == expected == 1130
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert done["refund"] == expected
    assert down_back + done["refund"] == gross(BIZNES_NET) - gross(kept)  # back in all: paid less the days used
    [withdrawal_kor] = done["corrections"]
    downgrade_kor = billing.get_invoice("c1", down_kor["correction_id"])
    # Both correct the order's invoice; the second starts where the first left it.
    assert withdrawal_kor["correction"]["invoice_id"] == downgrade_kor["correction"]["invoice_id"]
    assert withdrawal_kor["correction"]["pairs"][0]["before"] == downgrade_kor["correction"]["pairs"][0]["after"]
    assert withdrawal_kor["correction"]["pairs"][0]["after"]["net"] == kept
    assert kor_numbers([downgrade_kor, withdrawal_kor]) == [1, 2]
    order_invoice = billing.get_invoice("c1", downgrade_kor["correction"]["invoice_id"])
    assert order_invoice["correction_numbers"] == {down_kor["correction_id"]: downgrade_kor["number"],
                                                   withdrawal_kor["invoice_id"]: withdrawal_kor["number"]}  # fmt: skip
    assert billing.get_credit("c1")["credit"] == down_back + expected


def test_a_renewal_paid_early_within_14_days_comes_back_whole(billing, at_start):
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(3 * DAY)  # 4 March: renewed early for 1 April - 1 May
    cart = billing.add_cart_item("c1", "hosting_renewal", {"service_id": service_id}, customer("c1"))
    [renewal_item] = [i for i in cart["items"] if i["kind"] == "hosting_renewal"]
    pay_from_credit(billing, "c1", gross(START_NET))
    assert billing.get_service("c1", service_id)["next_due_date"].startswith("2027-05-01")

    clock.advance(2 * DAY)  # 6 March: 26 days of March's period left, April not begun
    order_back = gross(START_NET) - gross(START_NET - share(START_NET, 26, DAYS))  # 1845 - gross(242) = 1547
    expected = order_back + gross(START_NET)  # the renewal whole: 1547 + 1845 = 3392
    assert billing.get_service("c1", service_id)["terms"]["withdrawal"]["refund"] == expected == 3392
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    assert done["refund"] == expected
    order_kor, renewal_kor = done["corrections"]
    assert renewal_kor["correction"]["invoice_id"] == renewal_item["invoice_id"]
    assert renewal_kor["total_gross"] == -gross(START_NET)
    assert renewal_kor["correction"]["pairs"][0]["after"]["net"] == 0
    assert order_kor["total_gross"] == -order_back
    assert kor_numbers(done["corrections"]) == [1, 2]
    assert billing.get_credit("c1")["credit"] == expected


def test_no_plan_change_while_a_renewal_is_paid_in_advance_until_that_period_begins(billing, at_start):
    """After a renewal paid early the difference would be owed for the rest of March at one price and for
    April at another, taken off two invoices: not built, so the change is refused (409) and the terms say
    from when it is possible; once April begins it is priced for April as usual."""
    service_id = active_service(billing, "a1", plan="hosting-biznes")
    clock.advance(3 * DAY)
    billing.add_cart_item("a1", "hosting_renewal", {"service_id": service_id}, customer("a1"))
    pay_from_credit(billing, "a1", gross(BIZNES_NET))
    terms = billing.get_service("a1", service_id)["terms"]
    assert terms["plans"] == []
    assert terms["plan_change"]["refused"] == "renewed_in_advance"
    assert terms["plan_change"]["possible_from"].startswith("2027-04-01T10:00")  # when March's period ends
    for plan in ("hosting-start", "hosting-pro"):
        with pytest.raises(CommandError) as refused:
            billing.change_service_plan("a1", service_id, plan, customer("a1"))
        assert refused.value.code == "renewed_in_advance"
    assert events_of(billing, "a1", "service_plan_changed") == [] and billing.get_credit("a1")["credit"] == 0

    clock.advance(29 * DAY)  # 2 April: the paid-ahead period is the current one
    terms = billing.get_service("a1", service_id)["terms"]
    assert terms["plan_change"] is None and (terms["days_left"], terms["days_in_period"]) == (29, 30)
    billing.change_service_plan("a1", service_id, "hosting-start", customer("a1"))
    assert billing.get_credit("a1")["credit"] == gross(BIZNES_NET) - gross(
        BIZNES_NET - share(BIZNES_NET - START_NET, 29, 30)
    )


def test_card_and_credit_in_one_withdrawal(billing_stripe, peer, published, at_start):  # noqa: F811
    """The order paid by card, the upgrade from credit: each part goes back the way it was paid."""
    consumer(billing_stripe, "c2")
    result = _ordered(billing_stripe, "c2")
    assert _pay_with(billing_stripe, peer[0], "c2", result["payment"]["payment_id"], VISA)["status"] == "succeeded"
    [service] = billing_stripe.list_services("c2")["items"]
    clock.advance(10 * DAY)
    upgrade = billing_stripe.change_service_plan("c2", service["service_id"], "hosting-biznes", customer("c2"))
    pay_from_credit(billing_stripe, "c2", upgrade["invoice"]["total_gross"])
    order_back = gross(START_NET) - gross(START_NET - share(START_NET, 21, DAYS))
    done = billing_stripe.withdraw_from_service("c2", service["service_id"], True, customer("c2"))
    assert (done["refund"], done["refund_method"]) == (order_back + 2082, "mixed")
    [withdrawn] = events_of(billing_stripe, "c2", "service_withdrawn")
    methods = {p["invoice_id"]: (p["method"], p["amount"]) for p in withdrawn["refunds"]}
    assert methods == {
        withdrawn["invoice_id"]: ("card", order_back),
        upgrade["invoice"]["invoice_id"]: ("credit", 2082),
    }
    assert withdrawn["refund_method"] == "mixed" and withdrawn["refund_id"].startswith("re_")
    assert billing_stripe.get_credit("c2")["credit"] == 2082  # only the upgrade's part went to credit
    # The money ledger lists each part against its correcting invoice (KOR), not the corrected FV.
    order_kor, upgrade_kor = done["corrections"]
    entries = [(e["kind"], e["method"], e["amount"], e["invoices"]) for e in billing_stripe.get_ledger("c2")["entries"]]
    assert ("refund", "card", -order_back, [order_kor["number"]]) in entries, entries
    assert ("refund_to_credit", "credit", 2082, [upgrade_kor["number"]]) in entries, entries


@pytest.mark.parametrize("days", [0, 5, 11])
def test_within_one_period_the_refund_is_the_current_plans_price_for_the_days_left(billing, at_start, days):
    """Start, upgraded to Pro on day 2, down to Biznes the same day: the refund is Biznes's gross for the
    days left (what cancelling at once credited before it used these lines), up to a grosz or two that
    each line rounds on its own; cancelling at once now credits exactly the refund."""
    consumer(billing, "c1")
    service_id = active_service(billing, "c1")
    clock.advance(2 * DAY)
    to_pro = billing.change_service_plan("c1", service_id, "hosting-pro", customer("c1"))["invoice"]
    pay_from_credit(billing, "c1", to_pro["total_gross"])
    billing.change_service_plan("c1", service_id, "hosting-biznes", customer("c1"))
    clock.advance(days * DAY)
    left = DAYS - 2 - days
    terms = billing.get_service("c1", service_id)["terms"]
    assert terms["days_left"] == left
    by_plan = share(gross(BIZNES_NET), left, DAYS)
    assert abs(terms["withdrawal"]["refund"] - by_plan) <= 2, (terms["withdrawal"]["refund"], by_plan)
    assert terms["cancellation"]["immediate_credit"] == terms["withdrawal"]["refund"]


def test_cancelling_at_once_after_an_early_renewal_credits_both_through_corrections(billing, at_start):
    """A business buyer (no withdrawal) renews early and cancels at once: the rest of March and the whole
    of April come back (before, only April did: the current period's 26 days were lost)."""
    service_id = active_service(billing, "a1")
    clock.advance(3 * DAY)
    billing.add_cart_item("a1", "hosting_renewal", {"service_id": service_id}, customer("a1"))
    pay_from_credit(billing, "a1", gross(START_NET))
    clock.advance(2 * DAY)  # 6 March: 26 days of March left
    expected = gross(START_NET) - gross(START_NET - share(START_NET, 26, DAYS)) + gross(START_NET)  # 1547 + 1845
    assert billing.get_service("a1", service_id)["terms"]["cancellation"]["immediate_credit"] == expected == 3392
    billing.request_cancellation("a1", service_id, "immediate", customer("a1"))
    assert billing.get_credit("a1")["credit"] == expected
    credits = [c for c in events_of(billing, "a1", "credit_added") if c["reason"] == "cancellation"]
    assert [c["amount"] for c in credits] == [1547, 1845]
    kors = [billing.get_invoice("a1", c["invoice_id"]) for c in credits]
    assert [k["total_gross"] for k in kors] == [-1547, -1845] and kor_numbers(kors) == [1, 2]
    assert kors[0]["correction"]["invoice_id"] != kors[1]["correction"]["invoice_id"]


def test_the_chained_corrections_are_valid_fa3_documents(billing, at_start):
    """A downgrade's KOR then the withdrawal's KOR of the same invoice: each one's FA(3) document passes the
    official XSD (billing validates when it builds; a failure raises) and names the corrected invoice."""
    consumer(billing, "c1")
    service_id = active_service(billing, "c1", plan="hosting-biznes")
    clock.advance(10 * DAY)
    billing.change_service_plan("c1", service_id, "hosting-start", customer("c1"))
    [changed] = events_of(billing, "c1", "service_plan_changed")
    done = billing.withdraw_from_service("c1", service_id, True, customer("c1"))
    for correction_id in (changed["corrections"][0]["correction_id"], done["corrections"][0]["invoice_id"]):
        xml = base64.b64decode(billing.invoice_xml("c1", correction_id)["data"]).decode("utf-8")
        corrected = billing.get_invoice("c1", correction_id)["correction"]["number"]
        assert "<RodzajFaktury>KOR</RodzajFaktury>" in xml and f"<NrFaKorygowanej>{corrected}<" in xml, xml[:3000]
