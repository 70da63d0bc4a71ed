"""The whole panel with PAYMENT_PROVIDER=stripe against localstripe (issue #15): a stack of its own
(vhost, databases, ports, clock) whose billing talks to a localstripe on a free port, which posts
its signed events to the stack's gateway (`/payments/stripe/webhook`). The card is typed into Stripe.js
in a browser; here the test does what localstripe's stand-in of Stripe.js does (tests/localstripe.py)."""

from __future__ import annotations

import re
import uuid

import pymongo
import pytest
import requests

from tests.conftest import RABBIT_API, free_port
from tests.e2e.helpers import bearer, csrf, register_verified, wait_for
from tests.e2e.test_billing_pages import Person, advance_clock, run_billing_cycle
from tests.localstripe import confirm_card_setup, localstripe, register_webhook, sign, stripe_env
from tools.devstack import Stack

INTEGRATION = True
SETUP_SECRET_RE = re.compile(r'data-setup-secret="([^"]+)"')
VISA, CHARGE_DECLINED = "4242424242424242", "4000000000000341"


@pytest.fixture(scope="module")
def stripe_stack(mongo_uri, tmp_path_factory):
    var = tmp_path_factory.mktemp("stripe-stack")
    vhost, auth = f"panel-stripe-{uuid.uuid4().hex[:8]}", ("guest", "guest")
    requests.put(f"{RABBIT_API}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    prefix = f"s{uuid.uuid4().hex[:6]}_"
    clock_file = var / "clock"
    clock_file.write_text("0")
    with localstripe(free_port(), var / "localstripe") as base:
        stack = Stack(var=var, gateway_port=free_port(), smtp_port=free_port(), pdns_dns_port=free_port(),
                      pdns_api_port=free_port())  # fmt: skip
        stack.env = {"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}", "MONGO_URI": mongo_uri,
                     "DB_PREFIX": prefix, "SECRET_KEY": uuid.uuid4().hex, "GUNICORN_WORKERS": "1",
                     "CLOCK_FILE": str(clock_file), "OUTBOX_GRACE_SECONDS": "1",
                     "PDNS_API_URL": f"http://127.0.0.1:{stack.pdns_api_port}", **stripe_env(base)}  # fmt: skip
        try:
            stack.up(seed_demo=False)
            stack.clock_file, stack.db_prefix, stack.stripe_base = clock_file, prefix, base
            register_webhook(base, "panel", f"{stack.gateway_url}/payments/stripe/webhook")
            yield stack
        finally:
            stack.down()
            stack.remove_broker_users()
            requests.delete(f"{RABBIT_API}/vhosts/{vhost}", auth=auth, timeout=10)
            client = pymongo.MongoClient(mongo_uri)
            for name in client.list_database_names():
                if name.startswith(prefix):
                    client.drop_database(name)


def _stripe_events(stack) -> pymongo.collection.Collection:
    return pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}billing"]["stripe_events"]


def _pay_on_the_page(person: Person, stack, redirect: requests.Response, number: str, save: bool) -> requests.Response:
    """The payment page: Stripe.js takes the card into the SetupIntent, then the form is posted."""
    assert redirect.status_code == 302 and "/pay/" in redirect.headers["Location"], redirect.text
    page = person.browser.get(redirect.headers["Location"], timeout=30)
    assert page.status_code == 200
    assert f'src="{stack.stripe_base}/js.stripe.com/v3/"' in page.text  # localstripe's stand-in of Stripe.js
    assert f"script-src 'self' {stack.stripe_base}" in page.headers["Content-Security-Policy"]
    secret = SETUP_SECRET_RE.search(page.text).group(1)
    assert confirm_card_setup(stack.stripe_base, secret, number).ok
    form = {"csrf_token": csrf(page.text), "payment_method_id": "", "setup_intent_id": secret.split("_secret_")[0]}
    if save:
        form["save_card"] = "yes"
    return person.browser.post(page.url, data=form, timeout=30)


def test_a_card_payment_on_the_page_and_stripes_own_event_through_the_gateway(stripe_stack):
    person = Person(stripe_stack)
    person.add_plan()
    back = _pay_on_the_page(person, stripe_stack, person.checkout("card"), VISA, save=True)
    assert back.status_code == 200 and "/payments/return" in back.url
    assert 'data-payment-status="paid"' in back.text
    payment_id = back.url.split("payment_id=")[1]
    session = pymongo.MongoClient(stripe_stack.env["MONGO_URI"])[f"{stripe_stack.db_prefix}billing"][
        "payment_intents"
    ].find_one({"_id": payment_id})
    # localstripe posts payment_intent.succeeded a second later; the gateway hands it to billing, which
    # checks its signature with the SDK and records its id (applying nothing more: already paid)
    wait_for(lambda: _stripe_events(stripe_stack).find_one({"type": "payment_intent.succeeded"}), 15,
             "Stripe's event to reach billing through the gateway")  # fmt: skip
    assert session["provider_ref"].startswith("pi_")
    cards = person.get("/billing/cards")
    assert cards.status_code == 200 and 'data-card="4242"' in cards.text
    ledger = person.get("/billing/ledger")
    assert 'data-kind="payment_received"' in ledger.text and 'data-amount="1845"' in ledger.text


def test_a_declined_card_shows_why_and_offers_a_retry(stripe_stack):
    person = Person(stripe_stack)
    person.add_plan()
    back = _pay_on_the_page(person, stripe_stack, person.checkout("card"), CHARGE_DECLINED, save=False)
    assert back.status_code == 200 and 'data-payment-status="failed"' in back.text
    assert "/invoices/" in back.text  # the retry: the invoice, with its pay form


def test_a_webhook_with_a_bad_signature_is_refused(stripe_stack):
    body = '{"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}'
    url = f"{stripe_stack.gateway_url}/payments/stripe/webhook"
    for signature in (sign(body, "whsec_not_ours"), ""):
        refused = requests.post(url, data=body, headers={"Stripe-Signature": signature}, timeout=30)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_signature"
    assert not _stripe_events(stripe_stack).find_one({"_id": "evt_forged"})


def test_the_next_renewal_is_charged_to_the_saved_card(stripe_stack):
    person = Person(stripe_stack)
    person.add_plan()
    assert _pay_on_the_page(person, stripe_stack, person.checkout("card"), VISA, save=True).status_code == 200
    services = person.get("/services").text
    service_id = re.search(r'href="/services/([0-9a-f-]{36})"', services).group(1)
    switched = person.post(
        f"/services/{service_id}/auto-renew", {"auto_renew": "yes"}, form_page="/billing/cards", allow_redirects=False
    )
    assert switched.status_code == 302
    database = pymongo.MongoClient(stripe_stack.env["MONGO_URI"])[f"{stripe_stack.db_prefix}billing"]
    due = database["services"].find_one({"_id": service_id})["next_due_date"]
    before = stripe_stack.clock_file.read_text()
    try:
        advance_clock(stripe_stack, 31 - 13)  # 13 days before the monthly plan's due date
        stats = run_billing_cycle(stripe_stack)
        assert stats["auto_charges"] >= 1, stats
        charged = database["payment_intents"].find_one({"off_session": True, "status": "succeeded"})
        assert charged and charged["provider_ref"].startswith("pi_")
        wait_for(lambda: database["services"].find_one({"_id": service_id})["next_due_date"] > due, 15,
                 "the service renewed by the automatic charge")  # fmt: skip
    finally:
        stripe_stack.clock_file.write_text(before)


def test_the_api_lists_cards_and_the_ledger_and_names_bad_fields(stripe_stack):
    base = stripe_stack.gateway_url
    _, token = register_verified(base, stripe_stack.var / "mail")
    headers = bearer(token)
    assert requests.get(f"{base}/api/v1/billing/cards", headers=headers, timeout=30).json() == {
        "cards": [], "default_payment_method": None}  # fmt: skip
    setup = requests.post(f"{base}/api/v1/billing/cards/setup", headers=headers, json={}, timeout=30).json()
    assert confirm_card_setup(stripe_stack.stripe_base, setup["client_secret"], VISA).ok
    saved = requests.post(f"{base}/api/v1/billing/cards", headers=headers, timeout=30,
                          json={"setup_intent_id": setup["setup_intent_id"], "make_default": True})  # fmt: skip
    assert saved.status_code == 200 and saved.json()["last4"] == "4242"
    [card] = requests.get(f"{base}/api/v1/billing/cards", headers=headers, timeout=30).json()["cards"]
    assert card["default"] and (card["brand"], card["exp_year"]) == ("visa", 2030)
    small = requests.post(f"{base}/api/v1/billing/ledger/add-funds", headers=headers, json={"amount": 5}, timeout=30)
    assert small.status_code == 422 and small.json()["error"]["fields"]["amount"]["code"] == "invalid_amount"
    started = requests.post(f"{base}/api/v1/billing/ledger/add-funds", headers=headers, json={"amount": 5000},
                            timeout=30)  # fmt: skip
    assert started.status_code == 200 and "/pay/" in started.json()["redirect_url"]
    switch = requests.post(f"{base}/api/v1/services/nope/auto-renew", headers=headers, json={"auto_renew": "yes"},
                           timeout=30)  # fmt: skip
    assert switch.status_code == 422 and switch.json()["error"]["fields"]["auto_renew"]["code"] == "invalid_type"
    assert requests.post(f"{base}/api/v1/services/nope/auto-renew", headers=headers, json={"auto_renew": True},
                         timeout=30).status_code == 404  # fmt: skip
    removed = requests.delete(f"{base}/api/v1/billing/cards/{card['payment_method_id']}", headers=headers, timeout=30)
    assert removed.status_code == 200 and removed.json()["cards"] == []
    ledger = requests.get(f"{base}/api/v1/billing/ledger", headers=headers, timeout=30).json()
    assert ledger == {**ledger, "entries": [], "credit": 0}
