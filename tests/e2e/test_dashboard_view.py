"""The dashboard from the gateway's own view (issue #17), against the whole stack: read your own writes
after each customer command, a staff change within a second, the page with the backing services stopped,
a revoked session refused within a second, and a rebuild giving the view the live path gave."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import pymongo
import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, wait_for

HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
TICKET = {"department": "technical", "priority": "low", "subject": "Strona nie działa", "message": "Od rana."}
STAFF = {"actor": {"type": "staff", "id": "staff-view-e2e"}}
BACKING = ("accounts", "billing", "domains", "support")


def _dashboard(base: str, token: str) -> dict:
    answer = requests.get(f"{base}/api/v1/dashboard", headers=bearer(token), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _from_view(base: str, token: str) -> dict:
    """The dashboard once the view knows the account (its first page may ask the services)."""
    return wait_for(lambda: (d := _dashboard(base, token))["served_from"] == "view" and d, what="the view")


def _views(stack) -> pymongo.collection.Collection:
    return pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}gateway"]["dashboard_views"]


def _sources(stack, account_id: str) -> dict:
    """What the view holds for the account: each source's stored answer."""
    rows = _views(stack).find({"account_id": account_id, "key": {"$ne": "applied"}})
    return {row["key"]: row["data"] for row in rows}


def _login(base: str, email: str) -> str:
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["token"]


def _order(base: str, token: str, method: str) -> dict:
    assert (
        requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=30).status_code == 201
    )
    headers = {**bearer(token), "Idempotency-Key": f"view-{uuid.uuid4().hex}"}
    placed = requests.post(f"{base}/api/v1/cart/checkout", headers=headers, json={"payment_method": method}, timeout=30)
    assert placed.status_code == 200, placed.text
    return placed.json()


def test_each_customer_command_shows_on_the_next_dashboard_read_from_the_view(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    before = _from_view(base, token)
    assert before["tiles"]["tickets"] == 0 and before["tiles"]["unpaid_invoices"] == 0

    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=TICKET, timeout=30)
    assert opened.status_code == 201, opened.text
    after_ticket = _dashboard(base, token)  # no waiting: the gateway waits for its view itself
    assert after_ticket["tiles"]["tickets"] == 1
    assert [t["subject"] for t in after_ticket["recent_tickets"]] == [TICKET["subject"]]

    _order(base, token, "bank_transfer")
    after_order = _dashboard(base, token)
    assert after_order["tiles"]["unpaid_invoices"] == 1

    saved = requests.patch(
        f"{base}/api/v1/profile", headers=bearer(token), json={"phone": "+48 601 002 003"}, timeout=30
    )
    assert saved.status_code == 200, saved.text
    assert _dashboard(base, token)["profile"]["phone"] == "+48 601 002 003"

    invoice_id = after_order_invoice(base, token)
    paid = requests.post(f"{base}/api/v1/invoices/{invoice_id}/pay", headers=bearer(token),
                         json={"payment_method": "card"}, timeout=30)  # fmt: skip
    assert paid.status_code == 200, paid.text
    payment_id = paid.json()["payment_id"]
    browser = requests.Session()
    page = browser.get(f"{base}/sandbox-pay/{payment_id}", timeout=30)
    decided = browser.post(f"{base}/sandbox-pay/{payment_id}", data={"csrf_token": csrf(page.text), "outcome": "success"},
                           allow_redirects=False, timeout=30)  # fmt: skip
    assert decided.status_code in (200, 302, 303), decided.text
    # the provider's webhook, posted by billing after the click, settles it: in the view within 1.5 s of the click
    wait_for(lambda: _dashboard(base, token)["tiles"]["unpaid_invoices"] == 0, timeout=1.5, what="the payment")
    assert _dashboard(base, token)["served_from"] == "view"


def after_order_invoice(base: str, token: str) -> str:
    invoices = requests.get(f"{base}/api/v1/invoices", headers=bearer(token), params={"status": "unpaid"}, timeout=30)
    assert invoices.status_code == 200, invoices.text
    return invoices.json()["items"][0]["invoice_id"]


def test_a_staff_change_is_in_the_view_within_a_second(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=TICKET, timeout=30)
    assert opened.status_code == 201, opened.text
    assert _from_view(base, token)["recent_tickets"][0]["status"] != "closed"
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=30) as services:
        services.support.staff_set_status(opened.json()["ticket_id"], "closed", ctx=STAFF)
    changed = time.monotonic()
    wait_for(lambda: _dashboard(base, token)["recent_tickets"][0]["status"] == "closed", timeout=1.0,
             what="the staff change on the dashboard")  # fmt: skip
    assert time.monotonic() - changed < 1.0
    assert _dashboard(base, token)["served_from"] == "view"


def test_the_dashboard_renders_the_last_known_state_with_every_backing_service_stopped(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=TICKET, timeout=30)
    assert opened.status_code == 201, opened.text
    page = requests.Session()
    form = page.get(f"{base}/login", timeout=30)
    page.post(f"{base}/login", data={"csrf_token": csrf(form.text), "email": email, "password": PASSWORD}, timeout=30)
    assert TICKET["subject"] in page.get(base, timeout=30).text
    _from_view(base, token)
    pids = [stack.pid(name) for name in BACKING]
    assert all(pids)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        html = wait_for(lambda: (p := page.get(base, timeout=30)).status_code == 200 and 'id="known-at"' in p.text and p.text,
                        timeout=15, what="the page saying since when its state is known")  # fmt: skip
        assert TICKET["subject"] in html and "section_unavailable" not in html
        assert "Część usług chwilowo nie odpowiada" in html
        d = wait_for(lambda: (d := _dashboard(base, token))["known_at"] and d, what="the API saying since when")
        assert d["served_from"] == "view" and d["unavailable"] == []
        refused = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=TICKET, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["message"]
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    wait_for(lambda: not _dashboard(base, token)["known_at"], timeout=15, what="the services back")


def test_a_revoked_session_is_refused_within_a_second(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    kept, other = _login(base, email), _login(base, email)
    _dashboard(base, other)
    _dashboard(base, other)  # authenticated from the gateway's session view now
    kept_id = requests.get(f"{base}/api/v1/account/sessions", headers=bearer(kept), timeout=30)
    assert kept_id.status_code == 200, kept_id.text
    ended = requests.post(f"{base}/api/v1/account/sessions/end-others", headers=bearer(kept), timeout=30)
    assert ended.status_code == 200, ended.text
    at = time.monotonic()
    wait_for(lambda: requests.get(f"{base}/api/v1/dashboard", headers=bearer(other), timeout=30).status_code == 401,
             timeout=1.0, what="the ended session refused")  # fmt: skip
    assert time.monotonic() - at < 1.0
    assert requests.get(f"{base}/api/v1/dashboard", headers=bearer(kept), timeout=30).status_code == 200
    out = requests.post(f"{base}/api/v1/auth/logout", headers=bearer(kept), timeout=30)
    assert out.status_code in (200, 204), out.text
    wait_for(lambda: requests.get(f"{base}/api/v1/dashboard", headers=bearer(kept), timeout=30).status_code == 401,
             timeout=1.0, what="the logged-out session refused")  # fmt: skip


def test_a_rebuild_gives_the_view_the_live_path_gave(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=TICKET, timeout=30)
    assert opened.status_code == 201, opened.text
    _order(base, token, "bank_transfer")
    live = _from_view(base, token)
    account_id = live["profile"]["account_id"]
    every_source = {"contacts", "billing", "domains", "support"}
    stored = wait_for(lambda: (v := _sources(stack, account_id)).keys() == every_source and v,
                      what="every source in the view")  # fmt: skip
    env = {**stack.environment(), "AMQP_URI": stack.env["AMQP_URI"]}
    rebuilt = subprocess.run([sys.executable, "-m", "gateway.readmodel", "rebuild"], env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert _sources(stack, account_id) == stored
    assert {k: v for k, v in _dashboard(base, token).items() if k != "served_from"} == {
        k: v for k, v in live.items() if k != "served_from"
    }


def test_a_gateway_database_that_failed_is_left_alone_for_a_while(monkeypatch):
    """After one failed read the session view is skipped (accounts answers) instead of every request
    waiting for the database's server selection timeout."""
    from pymongo.errors import ServerSelectionTimeoutError

    from gateway import auth, readmodel

    asked: list[str] = []

    def failing(token: str) -> None:
        asked.append(token)
        raise ServerSelectionTimeoutError("away")

    monkeypatch.setattr(readmodel, "session", failing)
    monkeypatch.setattr(readmodel, "_down_until", 0.0)
    assert auth._session_view("t1") is None and asked == ["t1"]
    assert not readmodel.available()
    assert auth._session_view("t2") is None and asked == ["t1"]  # not asked again while marked down
    monkeypatch.setattr(readmodel, "_down_until", 0.0)
    assert readmodel.available()
