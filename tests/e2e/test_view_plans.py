"""News targeted by plan, on the dashboard served from the gateway's view, when the customer's plan changes
(the whole stack). Support learns the plans a customer holds from billing's service events and records
them as its own events (customer_plan_held/dropped, carrying account_id), so the view asks support again
for that account's news by itself: after a paid upgrade the dashboard shows the news for the new plan, and
no longer those for the old one, with no further customer command."""

from __future__ import annotations

import time
import uuid

import pymongo
import requests

from kernel.caller import rpc_proxy
from tests.e2e.helpers import bearer, wait_for
from tests.e2e.test_checkout_races import _checkout, _customer
from tests.e2e.test_dashboard_view import _dashboard, _from_view

STAFF = {"type": "staff", "id": "staff-view-plans-e2e"}
VIEW_WAIT = 15  # seconds: billing's event reaches support, support's event reaches the view


def _titles(dashboard: dict) -> list[str]:
    return [n["title"] for n in dashboard["news"]]


def _pay_with_credit(base: str, token: str, invoice_id: str) -> None:
    paid = requests.post(f"{base}/api/v1/invoices/{invoice_id}/pay", headers=bearer(token),
                         json={"payment_method": "credit"}, timeout=30)  # fmt: skip
    assert paid.status_code == 200, paid.text


def _plan_events(stack, account_id: str) -> list[dict]:
    commits = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}support"]["event_commits"]
    return [e for c in commits.find({"stream_id": f"plans-{account_id}"}).sort("version", 1) for e in c["events"]]


def test_after_an_upgrade_the_view_shows_the_news_of_the_new_plan_with_no_further_command(stack):
    base = stack.gateway_url
    token, account_id = _customer(stack)
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=30,
                          json={"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    order = _checkout(base, token, f"view-plans-{time.time_ns()}")
    assert order.status_code == 200, order.text
    with rpc_proxy(stack.env["AMQP_URI"], actor=STAFF, timeout=30) as cluster:
        cluster.billing.add_credit(account_id, 50_000)
    _pay_with_credit(base, token, order.json()["invoice_id"])
    active = wait_for(lambda: (d := _from_view(base, token))["active_services"] and d, timeout=VIEW_WAIT,
                      what="the hosting-start service in the view")  # fmt: skip
    [service] = active["active_services"]
    service_id = service["service_id"]

    tag = uuid.uuid4().hex[:6]
    for_pro, for_start = f"Tylko dla Pro {tag}", f"Tylko dla Start {tag}"
    with rpc_proxy(stack.env["AMQP_URI"], actor=STAFF, timeout=30) as cluster:
        cluster.support.publish_news(for_pro, "Więcej PHP.", "pl", ["hosting-pro"], None)
        cluster.support.publish_news(for_start, "Nowy panel.", "pl", ["hosting-start"], None)
    before = wait_for(lambda: (d := _dashboard(base, token))["served_from"] == "view" and for_start in _titles(d)
                      and d, timeout=VIEW_WAIT, what="the hosting-start news in the view")  # fmt: skip
    assert for_pro not in _titles(before)
    assert [(e["type"], e["data"]["plan"]) for e in _plan_events(stack, account_id)] == [
        ("customer_plan_held", "hosting-start")]  # fmt: skip

    up = requests.post(f"{base}/api/v1/services/{service_id}/plan", headers=bearer(token),
                       json={"plan": "hosting-pro"}, timeout=30)  # fmt: skip
    assert up.status_code == 200, up.text
    assert up.json()["plan"] == "hosting-start" and up.json()["invoice"]["status"] == "unpaid"
    _pay_with_credit(base, token, up.json()["invoice"]["invoice_id"])

    # from here on only reads: the view must learn the new plan's news by itself
    after = wait_for(lambda: (d := _dashboard(base, token))["served_from"] == "view" and for_pro in _titles(d)
                     and d, timeout=VIEW_WAIT, what="the hosting-pro news in the view after the upgrade")  # fmt: skip
    assert for_start not in _titles(after)
    shown = requests.get(f"{base}/api/v1/services/{service_id}", headers=bearer(token), timeout=30).json()
    assert shown["plan"] == "hosting-pro"
    held = _plan_events(stack, account_id)
    assert [(e["type"], e["data"]["plan"], e["data"]["previous_plan"]) for e in held] == [
        ("customer_plan_held", "hosting-start", None), ("customer_plan_held", "hosting-pro", "hosting-start")]  # fmt: skip
    assert all(e["data"]["service_id"] == service_id for e in held)
    # the news list marks the pro item as concerning the customer
    listed = requests.get(f"{base}/api/v1/news", headers=bearer(token), timeout=30)
    assert listed.status_code == 200, listed.text
    relevant = {n["title"]: n["relevant"] for n in listed.json()["items"] if tag in n["title"]}
    assert relevant == {for_pro: True, for_start: False}
