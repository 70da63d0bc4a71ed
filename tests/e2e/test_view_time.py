"""Time-driven facts on the dashboard served from the gateway's view (issue #17), on the whole stack: the
stack's clock moves, the billing cycle runs (as its timer would), and with no customer command the view
shows what became true: a service's renewal window opened, the offer started and then ended. The cycle
tells each as an event once, however often it runs."""

from __future__ import annotations

import datetime as dt
import uuid

import pymongo
import pytest
import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import bearer, register_verified, wait_for
from tests.e2e.test_dashboard_view import _dashboard, _from_view, _login, _order

DAY = 86_400
STAFF = {"actor": {"type": "staff", "id": "staff-view-time-e2e"}}
# seconds: the cycle's events reach the view (a public one, offer or news, refreshes one row every account reads)
VIEW_WAIT = 20


@pytest.fixture
def move_clock(stack):
    """Moves the stack's shared clock by days; puts it back afterwards for the other tests."""
    before = stack.clock_file.read_text()

    def move(days: float) -> None:
        stack.clock_file.write_text(str(float(stack.clock_file.read_text() or 0) + days * DAY))

    yield move
    stack.clock_file.write_text(before)


def _stack_now(stack) -> dt.datetime:
    offset = float(stack.clock_file.read_text() or 0)
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=offset)


def _services(stack) -> SignedClusterRpcProxy:
    return SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60)


def _run_cycle(stack) -> dict:
    """What billing's timer runs (every BILLING_CYCLE_SECONDS); run here right after moving the clock."""
    with _services(stack) as services:
        return services.billing.run_billing_cycle()


def _stored(stack, event_type: str, stream_id: str) -> list[dict]:
    """The events of a type billing stored on a stream."""
    commits = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}billing"]["event_commits"]
    return [e for c in commits.find({"stream_id": stream_id}) for e in c["events"] if e["type"] == event_type]


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z"))


def test_a_renewal_window_opening_reaches_the_view_with_no_customer_command(stack, move_clock):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    placed = _order(base, token, "bank_transfer")
    with _services(stack) as services:
        services.billing.mark_invoice_paid(placed["invoice_id"], ctx=STAFF)  # staff booked the transfer
    d = wait_for(lambda: (d := _from_view(base, token))["active_services"] and d, what="the service in the view")
    account_id = d["profile"]["account_id"]
    [service] = d["active_services"]
    due = _parse(service["next_due_date"])
    assert d["renewals"] == []

    # renewed early: the period's renewal invoice is asked for now, long before its window opens, so no
    # invoice event will come when it does
    early = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=30,
                          json={"kind": "hosting_renewal", "params": {"service_id": service["service_id"]}})  # fmt: skip
    assert early.status_code == 201, early.text
    after_early = _dashboard(base, token)
    assert after_early["served_from"] == "view" and after_early["renewals"] == []  # not due within 14 days yet

    opens = due - dt.timedelta(days=14)
    move_clock((opens - _stack_now(stack)).total_seconds() / DAY + 0.25)  # six hours into the window
    token = _login(base, email)  # a session of the new time (logging in tells billing nothing)
    _run_cycle(stack)
    _run_cycle(stack)  # the timer's next run, or another instance's: nothing new

    shown = wait_for(lambda: (d := _dashboard(base, token))["served_from"] == "view" and d["renewals"] and d,
                     timeout=VIEW_WAIT, what="the renewal on the dashboard served from the view")  # fmt: skip
    [renewal] = shown["renewals"]
    assert renewal["service_id"] == service["service_id"] and renewal["kind"] == "hosting_renewal"
    assert renewal["renewal_invoice"] and renewal["renewal_invoice"]["status"] == "unpaid"
    [told] = _stored(stack, "service_renewal_window_opened", f"customer-{account_id}")  # once for two runs
    assert told["data"]["service_id"] == service["service_id"]
    assert _parse(told["data"]["next_due_date"]) == due and _parse(told["data"]["opens_at"]) == opens
    assert len(_stored(stack, "renewal_invoice_requested", f"customer-{account_id}")) == 1  # the early one only


def test_the_offer_starting_and_ending_reach_the_view_with_no_one_acting(stack, move_clock):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    title = f"Od jutra {uuid.uuid4().hex[:6]}"
    now = _stack_now(stack)
    starts, ends = now + dt.timedelta(days=1), now + dt.timedelta(days=3)
    with _services(stack) as services:
        services.billing.set_offer(title, "Hosting taniej", "/order", starts.isoformat(), ends.isoformat(), ctx=STAFF)
    try:
        wait_for(lambda: (d := _from_view(base, token)) and d["offer"] is None, what="no offer yet")
        move_clock(1.25)
        token_now = token  # a bearer session lasts 14 days: still valid
        _run_cycle(stack)
        _run_cycle(stack)
        wait_for(lambda: (d := _dashboard(base, token_now))["served_from"] == "view"
                 and (d["offer"] or {}).get("title") == title, timeout=VIEW_WAIT,
                 what="the offer on the dashboard served from the view")  # fmt: skip

        move_clock(2)
        _run_cycle(stack)
        _run_cycle(stack)
        wait_for(lambda: (d := _dashboard(base, token_now))["served_from"] == "view" and d["offer"] is None,
                 timeout=VIEW_WAIT, what="the ended offer gone from the view")  # fmt: skip
        assert [e["data"]["title"] for e in _stored(stack, "offer_started", "offer")].count(title) == 1
        assert [e["data"]["title"] for e in _stored(stack, "offer_ended", "offer")].count(title) == 1
    finally:  # no offer left running for the other tests, whatever the clock says
        with _services(stack) as services:
            past = _stack_now(stack) - dt.timedelta(days=400)
            services.billing.set_offer("Koniec", "", "", past.isoformat(), (past + dt.timedelta(days=1)).isoformat(),
                                       ctx=STAFF)  # fmt: skip


def test_scheduled_news_reach_the_view_when_their_time_comes(stack, move_clock):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    title = f"Przerwa serwisowa {uuid.uuid4().hex[:6]}"
    at = _stack_now(stack) + dt.timedelta(hours=1)
    with _services(stack) as services:
        item = services.support.publish_news(title, "W nocy.", "pl", None, at.isoformat(), ctx=STAFF)
    try:
        d = wait_for(lambda: (d := _from_view(base, token)) and d, what="the view")
        assert title not in [n["title"] for n in d["news"]]
        move_clock(1.25 / 24)
        with _services(stack) as services:
            services.support.run_news_timer()  # what support's news timer runs every minute
            services.support.run_news_timer()
        wait_for(lambda: (d := _dashboard(base, token))["served_from"] == "view"
                 and title in [n["title"] for n in d["news"]], timeout=VIEW_WAIT,
                 what="the news on the dashboard served from the view")  # fmt: skip
        support_db = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}support"]["event_commits"]
        told = [e for c in support_db.find({"stream_id": f"news-{item['news_id']}"}) for e in c["events"]
                if e["type"] == "news_went_live"]  # fmt: skip
        assert len(told) == 1
    finally:  # not left to appear in the other tests' news
        with _services(stack) as services:
            services.support.withdraw_news(item["news_id"], ctx=STAFF)
