"""Payments through Stripe (issue #15), against localstripe (PyPI) on a free port: billing in-process
on the real database, the stripe SDK talking to localstripe over HTTP, what Stripe.js does in the
browser done as localstripe's own stand-in of it does, and localstripe's signed events caught by
a webhook endpoint of the test and handed to billing."""

from __future__ import annotations

import json
import uuid

import pytest

from kernel import clock
from kernel.errors import CommandError, Invalid
from services.billing import payments, stripe_provider
from services.billing.domain import parse
from tests.billing.conftest import STAFF, customer
from tests.billing.test_service import DAY, order_plan
from tests.conftest import free_port
from tests.localstripe import (
    WebhookInbox,
    authenticate_payment,
    confirm_card_setup,
    event_body,
    localstripe,
    register_webhook,
    sign,
    stripe_env,
)

INTEGRATION = True
VISA, CHARGE_DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002500003155"


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    with localstripe(free_port(), tmp_path_factory.mktemp("localstripe")) as base:
        inbox = WebhookInbox()
        register_webhook(base, "billing-tests", inbox.url)
        yield base, inbox
        inbox.close()


@pytest.fixture
def billing_stripe(billing, peer, monkeypatch):
    for name, value in stripe_env(peer[0]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYMENT_RETRY_DAYS", "1,3,5")
    return billing


def _account() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def _card_collected(billing, base: str, account_id: str, payment_id: str, number: str) -> str:
    """The payment page's SetupIntent given a card, as Stripe.js does; returns the SetupIntent id."""
    page = billing.stripe_payment_page(account_id, payment_id)
    answer = confirm_card_setup(base, page["setup"]["client_secret"], number)
    assert answer.ok, answer.text
    return page["setup"]["setup_intent_id"]


def _ordered(billing, account_id: str) -> dict:
    result = order_plan(billing, account_id, f"key-{uuid.uuid4().hex}")
    assert result["payment"]["status"] == "redirect"
    assert result["payment"]["redirect_url"].endswith(f"/pay/{result['payment']['payment_id']}")
    return result


def _pay_with(billing, base: str, account_id: str, payment_id: str, number: str, save: bool = False) -> dict:
    setup_id = _card_collected(billing, base, account_id, payment_id, number)
    return billing.stripe_confirm(account_id, payment_id, setup_intent_id=setup_id, save_card=save)


def _session(payment_id: str) -> payments.PaymentIntent:
    return payments.PaymentIntent.objects(id=payment_id).first()


def test_an_invoice_paid_by_card_once_though_its_event_comes_too(billing_stripe, peer, published):
    base, inbox = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    payment_id, invoice_id = result["payment"]["payment_id"], result["invoice_id"]
    page = billing_stripe.stripe_payment_page(account, payment_id)
    assert page["amount"] == result["payment"]["amount"] == 1845 and page["js_url"] == f"{base}/js.stripe.com/v3/"

    answer = _pay_with(billing_stripe, base, account, payment_id, VISA)
    assert answer["status"] == "succeeded" and answer["return_url"] == "https://panel/return"
    session = _session(payment_id)
    assert session.provider_ref.startswith("pi_") and session.status == "succeeded"
    assert billing_stripe.get_invoice(account, invoice_id)["status"] == "paid"
    [paid] = published.of("payment_received")
    assert (paid["data"]["amount"], paid["data"]["method"], paid["data"]["payment_id"]) == (1845, "card", payment_id)

    body, signature = inbox.wait("payment_intent.succeeded", id=session.provider_ref)
    assert json.loads(body)["data"]["object"]["amount"] == 1845
    assert billing_stripe.handle_stripe_webhook(body, signature)["status"] == "duplicate"  # applied by our answer
    assert billing_stripe.handle_stripe_webhook(body, signature)["status"] == "duplicate"  # the same event again
    assert len(published.of("payment_received")) == 1
    assert billing_stripe.get_payment(account, payment_id)["all_paid"] is True
    assert billing_stripe.list_cards(account)["cards"] == []  # not asked to be saved: used once


def test_a_declined_card_leaves_the_invoice_unpaid_and_a_retry_pays_it(billing_stripe, peer, published):
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    declined = _pay_with(billing_stripe, base, account, result["payment"]["payment_id"], CHARGE_DECLINED)
    assert declined == {**declined, "status": "failed", "code": "card_declined"}
    shown = billing_stripe.get_payment(account, result["payment"]["payment_id"])
    assert (shown["status"], shown["failure_code"], shown["all_paid"]) == ("failed", "card_declined", False)
    assert billing_stripe.get_invoice(account, result["invoice_id"])["status"] == "unpaid"
    with pytest.raises(CommandError) as closed:  # the failed session is over: a retry is a new one
        billing_stripe.stripe_confirm(account, result["payment"]["payment_id"], payment_method_id="pm_x")
    assert closed.value.code == "payment_not_open"

    retry = billing_stripe.pay_invoice(account, result["invoice_id"], "card", "https://panel/return", customer(account))
    assert retry["payment_id"] != result["payment"]["payment_id"]
    assert _pay_with(billing_stripe, base, account, retry["payment_id"], VISA)["status"] == "succeeded"
    assert billing_stripe.get_invoice(account, result["invoice_id"])["status"] == "paid"
    assert [m["data"]["payment_id"] for m in published.of("payment_received")] == [retry["payment_id"]]


def test_three_d_secure_round_trip_completed_and_failed(billing_stripe, peer):
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    payment_id = result["payment"]["payment_id"]
    answer = _pay_with(billing_stripe, base, account, payment_id, THREE_D_SECURE)
    assert answer["status"] == "requires_action" and answer["client_secret"].startswith("pi_")
    assert billing_stripe.stripe_return(account, payment_id)["status"] == "created"  # not yet authenticated
    assert authenticate_payment(base, answer["client_secret"], success=False).ok  # "Fail authentication"
    back = billing_stripe.stripe_return(account, payment_id)
    assert (back["status"], back["failure_code"]) == ("failed", "payment_intent_authentication_failure")
    assert billing_stripe.get_invoice(account, result["invoice_id"])["status"] == "unpaid"

    retry = billing_stripe.pay_invoice(account, result["invoice_id"], "card", None, customer(account))
    again = _pay_with(billing_stripe, base, account, retry["payment_id"], THREE_D_SECURE)
    assert authenticate_payment(base, again["client_secret"], success=True).ok  # "Complete authentication"
    back = billing_stripe.stripe_return(account, retry["payment_id"])
    assert back["status"] == "succeeded" and back["all_paid"] is True


def test_webhooks_twice_out_of_order_and_late_apply_once(billing_stripe, peer, published):
    """The customer authenticates but never comes back: only Stripe's events tell. A failure notice
    arriving first, the success twice, and the failure again late change the outcome only once."""
    base, inbox = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    payment_id = result["payment"]["payment_id"]
    answer = _pay_with(billing_stripe, base, account, payment_id, THREE_D_SECURE)
    intent_id = _session(payment_id).provider_ref
    failed_obj = {"id": intent_id, "object": "payment_intent", "amount": 1845, "currency": "pln",
                  "metadata": {"payment_session": payment_id}, "last_payment_error": {"code": "card_declined"}}  # fmt: skip
    failed = event_body("payment_intent.payment_failed", failed_obj, f"evt_{uuid.uuid4().hex}")
    assert billing_stripe.handle_stripe_webhook(failed, sign(failed))["status"] == "recorded"
    assert _session(payment_id).status == "failed"

    assert authenticate_payment(base, answer["client_secret"], success=True).ok
    body, signature = inbox.wait("payment_intent.succeeded", id=intent_id)
    assert billing_stripe.handle_stripe_webhook(body, signature)["status"] == "applied"
    assert billing_stripe.handle_stripe_webhook(body, signature)["status"] == "duplicate"
    late = event_body("payment_intent.payment_failed", failed_obj, f"evt_{uuid.uuid4().hex}")
    assert billing_stripe.handle_stripe_webhook(late, sign(late))["status"] == "recorded"
    assert _session(payment_id).status == "succeeded"  # a late failure never undoes a payment
    assert billing_stripe.get_invoice(account, result["invoice_id"])["status"] == "paid"
    assert len(published.of("payment_received")) == 1


def test_bad_signatures_and_disagreeing_events_change_nothing(billing_stripe, peer, published):
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    payment_id = result["payment"]["payment_id"]
    obj = {"id": "pi_forged", "object": "payment_intent", "amount": 1845, "currency": "pln",
           "metadata": {"payment_session": payment_id}}  # fmt: skip
    body = event_body("payment_intent.succeeded", obj, "evt_forged_1")
    for signature in (sign(body, "whsec_someone_else"), sign(body + " "), sign(body, timestamp=1), "", "t=1,v1=00"):
        with pytest.raises(CommandError) as refused:
            billing_stripe.handle_stripe_webhook(body, signature)
        assert refused.value.code == "invalid_signature"
    cheaper = event_body("payment_intent.succeeded", {**obj, "amount": 1}, "evt_cheaper")
    with pytest.raises(Invalid) as mismatch:  # signed, but not what our session says
        billing_stripe.handle_stripe_webhook(cheaper, sign(cheaper))
    assert mismatch.value.code == "payment_mismatch"
    assert billing_stripe.get_invoice(account, result["invoice_id"])["status"] == "unpaid"
    assert not published.of("payment_received") and _session(payment_id).status == "created"
    unknown = event_body("payment_intent.succeeded", {**obj, "metadata": {}}, "evt_unknown")
    assert billing_stripe.handle_stripe_webhook(unknown, sign(unknown))["status"] == "ignored"


def test_a_staff_refund_goes_back_to_the_card_once(billing_stripe, peer, published):
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    assert _pay_with(billing_stripe, base, account, result["payment"]["payment_id"], VISA)["status"] == "succeeded"
    refunded = billing_stripe.refund_invoice(result["invoice_id"], STAFF)
    assert refunded["status"] == "refunded"
    [event] = published.of("invoice_refunded")
    assert event["data"]["method"] == "card" and event["data"]["refund_id"].startswith("re_")
    assert event["data"]["amount"] == 1845 and billing_stripe.get_credit(account)["credit"] == 0
    # Stripe's own event about the same refund (localstripe sends none for refunds) applies nothing more
    charge = {"id": "ch_1", "object": "charge", "payment_intent": _session(result["payment"]["payment_id"]).provider_ref,
              "refunds": {"data": [{"id": event["data"]["refund_id"], "status": "succeeded",
                                    "metadata": {"invoice_id": result["invoice_id"]}}]}}  # fmt: skip
    body = event_body("charge.refunded", charge, f"evt_{uuid.uuid4().hex}")
    assert billing_stripe.handle_stripe_webhook(body, sign(body))["status"] == "ignored"
    assert len(published.of("invoice_refunded")) == 1
    ledger = billing_stripe.get_ledger(account)["entries"]
    assert [(e["kind"], e["method"], e["amount"]) for e in ledger] == [("refund", "card", -1845),
                                                                        ("payment_received", "card", 1845)]  # fmt: skip


def _service_with_saved_card(billing, base: str, account: str, number: str) -> dict:
    """A plan paid with a card the customer saved (so it is the default), auto-renew switched on."""
    result = _ordered(billing, account)
    payment_id = result["payment"]["payment_id"]
    setup_id = _card_collected(billing, base, account, payment_id, VISA)
    assert (
        billing.stripe_confirm(account, payment_id, setup_intent_id=setup_id, save_card=True)["status"] == "succeeded"
    )
    if number != VISA:  # the card saved for renewals is another one, made the default on the cards page
        setup = billing.start_card_setup(account)
        assert confirm_card_setup(base, setup["client_secret"], number).ok
        billing.save_card(account, setup["setup_intent_id"], make_default=True)
    service = billing.list_services(account)["items"][0]
    assert billing.set_auto_renew(account, service["service_id"], True, customer(account))["auto_renew"] is True
    return service


def _to_renewal(service: dict) -> None:
    clock.advance((parse(service["next_due_date"]) - clock.now()).total_seconds() - 13 * DAY)


def test_saved_cards_are_listed_defaulted_and_removed(billing_stripe, peer):
    base, _ = peer
    account = _account()
    _service_with_saved_card(billing_stripe, base, account, "4000056655665556")
    cards = billing_stripe.list_cards(account)
    assert sorted((c["last4"], c["default"]) for c in cards["cards"]) == [("4242", False), ("5556", True)]
    assert all(c["brand"] == "visa" and (c["exp_month"], c["exp_year"]) == (12, 2030) for c in cards["cards"])
    visa = next(c for c in cards["cards"] if c["last4"] == "4242")
    assert (
        billing_stripe.set_default_card(account, visa["payment_method_id"])["default_payment_method"]
        == visa["payment_method_id"]
    )
    left = billing_stripe.remove_card(account, visa["payment_method_id"])
    assert [c["last4"] for c in left["cards"]] == ["5556"] and left["default_payment_method"] is None
    with pytest.raises(Exception) as other:  # someone else's card is not found
        billing_stripe.remove_card(_account(), left["cards"][0]["payment_method_id"])
    assert type(other.value).__name__ == "NotFound"


def test_the_renewal_is_charged_off_session_to_the_saved_card(billing_stripe, peer, published, clock_file):
    base, _ = peer
    account = _account()
    service = _service_with_saved_card(billing_stripe, base, account, VISA)
    _to_renewal(service)
    stats = billing_stripe.run_billing_cycle()
    assert stats["invoices_issued"] == 1 and stats["auto_charges"] == 1
    renewed = published.of("service_renewed")
    assert [m["data"]["service_id"] for m in renewed] == [service["service_id"]]
    [charged] = [m["data"] for m in published.of("payment_received")][1:]
    session = _session(charged["payment_id"])
    assert session.off_session and session.provider_ref.startswith("pi_") and charged["amount"] == 1845
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 0  # paid: nothing more to charge
    assert not published.of("auto_charge_failed")


def test_a_refused_automatic_charge_is_retried_on_schedule_then_the_overdue_path(billing_stripe, peer, published,
                                                                                  clock_file):  # fmt: skip
    base, _ = peer
    account = _account()
    service = _service_with_saved_card(billing_stripe, base, account, CHARGE_DECLINED)
    _to_renewal(service)
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 1
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 0  # the next attempt is a day later
    for days in (1, 3, 5):
        clock.advance(DAY if days == 1 else 2 * DAY)
        assert billing_stripe.run_billing_cycle()["auto_charges"] == 1, days
    clock.advance(2 * DAY)
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 0  # no attempt left
    failures = [m["data"] for m in published.of("auto_charge_failed")]
    assert [(f["attempt"], f["code"]) for f in failures] == [(n, "card_declined") for n in (1, 2, 3, 4)]
    retries = [parse(f["next_retry_at"]) for f in failures[:3]]  # the first attempt's time plus 1, 3, 5 days
    assert [(r - retries[0]).total_seconds() for r in retries] == [0, 2 * DAY, 4 * DAY]
    assert failures[-1]["next_retry_at"] is None
    invoice_id = failures[0]["invoice_id"]
    assert billing_stripe.get_invoice(account, invoice_id)["status"] == "unpaid"
    clock.advance((parse(service["next_due_date"]) - clock.now()).total_seconds() + 6 * DAY)
    billing_stripe.run_billing_cycle()
    assert [m["data"]["service_id"] for m in published.of("service_suspended")] == [service["service_id"]]
    assert published.of("invoice_overdue_reminder")


def test_a_card_expiring_before_the_renewal_gets_one_notice(billing_stripe, peer, published, clock_file):
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    payment_id = result["payment"]["payment_id"]
    page = billing_stripe.stripe_payment_page(account, payment_id)
    expires = clock.now()
    assert confirm_card_setup(base, page["setup"]["client_secret"], VISA, exp_year=expires.year,
                              exp_month=expires.month).ok  # fmt: skip
    billing_stripe.stripe_confirm(account, payment_id, setup_intent_id=page["setup"]["setup_intent_id"], save_card=True)
    service = billing_stripe.list_services(account)["items"][0]
    billing_stripe.set_auto_renew(account, service["service_id"], True, customer(account))
    billing_stripe.run_billing_cycle()
    billing_stripe.run_billing_cycle()
    [notice] = [m["data"] for m in published.of("card_expiring")]
    assert (notice["last4"], notice["exp_month"], notice["exp_year"]) == ("4242", expires.month, expires.year)


def test_adding_funds_by_card_goes_to_credit_and_the_ledger(billing_stripe, peer):
    base, _ = peer
    account = _account()
    with pytest.raises(Invalid) as small:
        billing_stripe.add_funds(account, 5)
    assert small.value.fields == {"amount": "invalid_amount"}
    started = billing_stripe.add_funds(account, 5000, "https://panel/ledger")
    assert _pay_with(billing_stripe, base, account, started["payment_id"], VISA)["status"] == "succeeded"
    assert billing_stripe.get_credit(account)["credit"] == 5000
    [entry, top_up] = billing_stripe.get_ledger(account)["entries"]
    assert (entry["kind"], entry["amount"], entry["balance"]) == ("top_up", 5000, 5000)
    assert (top_up["kind"], top_up["method"], top_up["amount"]) == ("payment_received", "card", 5000)


def test_without_the_keys_the_stripe_provider_does_not_start(monkeypatch):
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="STRIPE_WEBHOOK_SECRET"):
        stripe_provider.check_configuration()
    monkeypatch.setenv("PAYMENT_PROVIDER", "paypal")
    with pytest.raises(RuntimeError, match="stripe or sandbox"):
        stripe_provider.check_configuration()


def test_a_domain_renewal_invoice_is_charged_to_the_default_card(billing_stripe, peer, published):
    """Domains asks for a renewal invoice only while the domain's own auto-renew is on: billing charges
    it to the default card on its next cycle; a hosting service with auto-renew off is not charged."""
    base, _ = peer
    account = _account()
    result = _ordered(billing_stripe, account)
    assert _pay_with(billing_stripe, base, account, result["payment"]["payment_id"], VISA, save=True)["status"] == (
        "succeeded"
    )
    billing_stripe.domains.quote_cart_item.return_value = {
        "description": "Odnowienie domeny firma.pl na 1 rok", "net": 8900, "vat_rate": 23, "currency": "PLN",
        "params": {"domain_id": "d1", "domain": "firma.pl", "years": 1}}  # fmt: skip
    invoice = billing_stripe.issue_item_invoice(account, "domain_renewal", {"domain_id": "d1", "years": 1},
                                                f"renew:d1:{uuid.uuid4().hex}", STAFF)  # fmt: skip
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 1
    assert billing_stripe.get_invoice(account, invoice["invoice_id"])["status"] == "paid"
    [charged] = [m["data"] for m in published.of("payment_received")][1:]
    assert charged["invoice_ids"] == [invoice["invoice_id"]] and charged["amount"] == invoice["total_gross"]


def test_an_automatic_charge_stripe_did_not_answer_is_sent_again(billing_stripe, peer, published, monkeypatch,
                                                                  clock_file):  # fmt: skip
    base, _ = peer
    account = _account()
    service = _service_with_saved_card(billing_stripe, base, account, VISA)
    _to_renewal(service)
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert billing_stripe.run_billing_cycle()["errors"] == 1
    [unsent] = payments.PaymentIntent.objects(account_id=account, off_session=True)
    assert (unsent.status, unsent.provider_ref) == ("created", None)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    assert billing_stripe.run_billing_cycle()["auto_charges"] == 1  # the same attempt, the same key
    assert [s.id for s in payments.PaymentIntent.objects(account_id=account, off_session=True)] == [unsent.id]
    assert _session(unsent.id).status == "succeeded" and not published.of("auto_charge_failed")
