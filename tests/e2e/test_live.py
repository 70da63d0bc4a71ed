"""The live dashboard against the whole stack: SSE scoped to one account, fragments, broker drops."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.parse

import requests

from gateway import live
from kernel.caller import SignedClusterRpcProxy
from tests.conftest import RABBIT_API
from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, token_from_mail, unique_email, wait_for

ACCEPT_RE = re.compile(r"/contacts/accept\?token=([A-Za-z0-9_\-]+)")
STAFF = {"actor": {"type": "staff", "id": "staff-live-e2e"}}
HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}


class EventStream:
    """An open /live/events stream, read by a thread into `events` as (event name, data) pairs."""

    def __init__(self, response: requests.Response):
        self.response = response
        assert self.response.status_code == 200, (self.response.status_code, self.response.headers)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self._socket = self.response.raw.connection.sock
        self.events: list[tuple[str, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name, data = "message", ""
        try:
            for raw in self.response.iter_lines(chunk_size=None):
                line = raw.decode()
                if not line:
                    if data:
                        self.events.append((name, json.loads(data)))
                    name, data = "message", ""
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    name = value if field == "event" else name
                    data = data + value if field == "data" else data
        except (requests.RequestException, AttributeError):  # closed by the test
            return

    def of_type(self, event_type: str) -> list[dict]:
        return [data for name, data in list(self.events) if name == "change" and data.get("type") == event_type]

    def names(self) -> list[str]:
        return [name for name, _ in list(self.events)]

    def close(self) -> None:
        """Hang up as a closed tab does. Closing the socket alone would not: Linux sends the FIN only once the
        reader thread's blocked recv returns, at the gateway's next heartbeat, so the stream would hold its
        gateway thread up to LIVE_HEARTBEAT_SECONDS longer; shutdown wakes the reader and hangs up now."""
        with contextlib.suppress(OSError):  # already closed by the gateway
            self._socket.shutdown(socket.SHUT_RDWR)
        self.response.close()


def _page_session(base: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10)
    form = {"csrf_token": csrf(page.text), "email": email, "password": PASSWORD}
    logged_in = session.post(f"{base}/login", data=form, timeout=10)
    assert logged_in.status_code == 200 and logged_in.url.rstrip("/") == base, logged_in.url
    return session


def _open(base: str, email: str) -> EventStream:
    session = _page_session(base, email)

    def served() -> EventStream | None:
        """A stream, or None while the gateway is busy: streams an earlier test closed free their threads
        within about a second, and a browser told 204 comes back later just the same."""
        response = session.get(f"{base}/live/events", stream=True, timeout=(5, 60))
        if response.status_code == 204 and response.headers.get("X-Live-Refused") == "busy":
            return None
        return EventStream(response)

    stream = wait_for(served, what="a stream slot")
    wait_for(lambda: "ready" in stream.names(), what="the stream to say ready")
    return stream


def _change_phone(base: str, token: str, phone: str) -> None:
    saved = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), json={"phone": phone}, timeout=10)
    assert saved.status_code == 200, saved.text


def test_stream_carries_only_the_logged_in_accounts_changes(stack):
    base = stack.gateway_url
    email_a, token_a = register_verified(base, stack.var / "mail")
    email_b, token_b = register_verified(base, stack.var / "mail")
    stream_a, stream_b = _open(base, email_a), _open(base, email_b)
    try:
        _change_phone(base, token_b, "+48 600 200 300")
        b_saw = wait_for(lambda: stream_b.of_type("profile_updated"), what="B's change on B's stream")
        assert b_saw[0]["sections"] == ["profile"]

        _change_phone(base, token_a, "+48 600 100 200")
        a_saw = wait_for(lambda: stream_a.of_type("profile_updated"), what="A's change on A's stream")
        # One consumer, one queue: B's event was handed out before A's, yet A's stream holds only A's change.
        assert len(a_saw) == 1 and a_saw[0]["sections"] == ["profile"]
        assert "data" not in a_saw[0]  # the event's own data (addresses, tokens) never goes to the browser

        catalog = requests.get(f"{base}/api/v1/catalog", headers=bearer(token_a), timeout=15)  # as a person would
        assert catalog.status_code == 200, catalog.text
        added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token_a), json=HOSTING, timeout=15)
        assert added.status_code == 201, added.text
        headers = {**bearer(token_a), "Idempotency-Key": f"live-{email_a}"}
        body = {"payment_method": "bank_transfer"}
        placed = requests.post(f"{base}/api/v1/cart/checkout", headers=headers, json=body, timeout=30)
        assert placed.status_code == 200, placed.text
        issued = wait_for(lambda: stream_a.of_type("invoice_issued"), what="the invoice on A's stream")
        assert "tiles" in issued[0]["sections"]
        assert not stream_b.of_type("invoice_issued") and len(stream_b.of_type("profile_updated")) == 1
    finally:
        stream_a.close()
        stream_b.close()


def _contact_with_login(base: str, mail_dir, owner_token: str, permissions: list[str]) -> str:
    """The owner invites a contact with a login; the contact sets a password. Returns the contact's e-mail."""
    email, since = unique_email("kontakt"), time.time() - 1
    body = {"first_name": "Ewa", "last_name": "Księgowa", "email": email, "login": True, "permissions": permissions,
            "categories": []}  # fmt: skip
    created = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), json=body, timeout=15)
    assert created.status_code == 201, created.text
    token = token_from_mail(mail_dir, email, ACCEPT_RE, since, subject="Zaproszenie")
    session = requests.Session()
    page = session.get(f"{base}/contacts/accept", params={"token": token}, timeout=10)
    form = {"csrf_token": csrf(page.text), "token": token, "password": PASSWORD, "password_repeat": PASSWORD}
    assert session.post(f"{base}/contacts/accept", data=form, timeout=10).status_code == 200
    return email


def test_a_contacts_stream_carries_only_what_their_permissions_show(stack):
    base = stack.gateway_url
    owner_email, owner_token = register_verified(base, stack.var / "mail")
    contact_email = _contact_with_login(base, stack.var / "mail", owner_token, ["invoices.view", "invoices.pay"])
    owner, contact = _open(base, owner_email), _open(base, contact_email)
    try:
        _change_phone(base, owner_token, "+48 600 500 600")  # section 1: not for a billing contact
        wait_for(lambda: owner.of_type("profile_updated"), what="the owner's own change on the owner's stream")
        assert requests.get(f"{base}/api/v1/catalog", headers=bearer(owner_token), timeout=15).status_code == 200
        added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(owner_token), json=HOSTING, timeout=15)
        assert added.status_code == 201, added.text
        headers = {**bearer(owner_token), "Idempotency-Key": f"live-contact-{owner_email}"}
        body = {"payment_method": "bank_transfer"}
        assert requests.post(f"{base}/api/v1/cart/checkout", headers=headers, json=body, timeout=30).status_code == 200
        # The invoice came after the profile change through the same queue: had the contact's stream been
        # going to get the profile change, it would have it by now.
        wait_for(lambda: contact.of_type("invoice_issued"), what="the owner's invoice on the billing contact's stream")
        assert contact.of_type("profile_updated") == []
        ready = next(data for name, data in contact.events if name == "ready")
        assert "tiles" in ready["sections"] and "profile" not in ready["sections"]
        session = _page_session(base, contact_email)
        fragment = session.get(f"{base}/dashboard/fragment", params={"sections": "profile,tiles"}, timeout=15)
        assert 'data-section="tiles"' in fragment.text and 'data-section="profile"' not in fragment.text
    finally:
        owner.close()
        contact.close()


def test_a_staff_answer_reaches_the_customer_live_and_a_staff_note_never_does(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    stream = _open(base, email)
    ticket = {"department": "technical", "priority": "low", "subject": "Poczta nie działa", "message": "Od rana."}
    try:
        opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=ticket, timeout=15)
        assert opened.status_code == 201, opened.text
        seen = wait_for(lambda: stream.of_type("ticket_opened"), what="the new ticket on the stream")
        assert set(seen[0]["sections"]) == {"tiles", "recent_tickets"}
        with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as services:
            ticket_id = opened.json()["ticket_id"]
            services.support.staff_add_note(ticket_id, "Klient VIP, tylko dla zespołu.", ctx=STAFF)
            services.support.staff_reply(ticket_id, "Sprawdziliśmy: już działa.", ctx=STAFF)
        # The note was stored before the reply and travels the same queue: it is not coming.
        wait_for(lambda: stream.of_type("ticket_replied"), what="the staff answer on the customer's stream")
        assert "ticket_note_added" not in json.dumps(list(stream.events))
    finally:
        stream.close()


def test_fragment_renders_the_asked_sections_of_the_logged_in_account(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail", first_name="Bożena")
    session = _page_session(base, email)
    fragment = session.get(f"{base}/dashboard/fragment", params={"sections": "tiles,profile"}, timeout=15)
    assert fragment.status_code == 200
    assert 'data-section="tiles"' in fragment.text and 'data-section="profile"' in fragment.text
    assert 'data-section="news"' not in fragment.text and email in fragment.text
    assert "<html" not in fragment.text  # sections only, to be swapped into the page
    assert session.get(f"{base}/dashboard/fragment", params={"sections": "nope"}, timeout=10).status_code == 400
    anonymous = requests.get(f"{base}/dashboard/fragment", params={"sections": "tiles"}, allow_redirects=False,
                             timeout=10)  # fmt: skip
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert requests.get(f"{base}/live/events", timeout=10).status_code == 401


def test_a_process_holds_a_bounded_number_of_streams_and_a_closed_one_frees_its_thread(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    session = _page_session(base, email)
    cap = int(stack.env["GUNICORN_THREADS"]) // 2 * int(stack.env["GUNICORN_WORKERS"])  # LIVE_MAX_STREAMS default
    streams: list[requests.Response] = []

    def open_one() -> bool:
        """Open one more stream; True once the gateway says 204 (full) instead."""
        response = session.get(f"{base}/live/events", stream=True, timeout=(5, 30))
        if response.status_code == 204:
            assert response.headers["X-Live-Refused"] == "busy", response.headers
            return True
        assert response.status_code == 200, response.status_code
        streams.append(response)
        assert len(streams) <= cap, "more streams than the thread budget allows"
        return False

    try:
        wait_for(open_one, what="the gateway to refuse a stream over its budget")
        assert streams, "not even one stream was served"
        streams.pop().close()  # a tab closed: its thread comes back
        wait_for(lambda: not open_one(), what="a stream served again after one closed")
    finally:
        for stream in streams:
            stream.close()


def _live_connections(vhost: str) -> list[str]:
    listed = requests.get(f"{RABBIT_API}/vhosts/{urllib.parse.quote(vhost, safe='')}/connections",
                          auth=("guest", "guest"), timeout=10)  # fmt: skip
    listed.raise_for_status()
    names = {c["name"]: (c.get("client_properties") or {}).get("connection_name", "") for c in listed.json()}
    return [name for name, client in names.items() if client.startswith("panel-gateway-live")]


def test_consumer_survives_the_broker_dropping_its_connection(stack, rabbit_vhost):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    stream = _open(base, email)
    try:
        (dropped,) = wait_for(lambda: _live_connections(rabbit_vhost), what="the gateway's live connection listed")
        deleted = requests.delete(f"{RABBIT_API}/connections/{urllib.parse.quote(dropped, safe='')}",
                                  auth=("guest", "guest"), timeout=10)  # fmt: skip
        assert deleted.status_code == 204, deleted.text
        # Back on a new connection, it tells the stream to resync what it may have missed ...
        resync = wait_for(lambda: [d for n, d in list(stream.events) if n == "resync"], what="a resync")
        assert {"tiles", "profile"} <= set(resync[0]["sections"])
        # ... and changes flow again.
        _change_phone(base, token, "+48 600 300 400")
        wait_for(lambda: stream.of_type("profile_updated"), what="a change after the reconnect")
    finally:
        stream.close()


# --- the routing rules, without I/O ------------------------------------------------
def _message(event_type: str, **data) -> dict:
    return {"event_id": f"e-{event_type}", "stream_id": "s-1", "type": event_type, "data": data}


def test_a_contact_stream_gets_only_what_its_permissions_show_and_staff_notes_never_stream():
    hub = live.Hub()
    owner = hub.subscribe("acc-1")
    billing_contact = hub.subscribe("acc-1", ["invoices.view", "invoices.pay"])
    other = hub.subscribe("acc-2")
    events = [("accounts", {"type": "profile_updated", "stream_id": "account-acc-1", "event_id": "p1", "data": {}}),
              ("billing", _message("invoice_paid", account_id="acc-1")),
              ("support", _message("ticket_replied", account_id="acc-1")),
              ("support", _message("ticket_note_added", account_id="acc-1", text="staff only")),
              ("support", _message("news_published", news_id="n1"))]  # fmt: skip
    for service, message in events:
        found = live.change_for(service, message)
        if found:
            hub.deliver(*found)

    def received(subscription) -> list[str]:
        return [subscription.inbox.get_nowait().event_type for _ in range(subscription.inbox.qsize())]

    assert received(owner) == ["profile_updated", "invoice_paid", "ticket_replied", "news_published"]
    assert received(billing_contact) == ["invoice_paid", "news_published"]
    assert received(other) == ["news_published"]  # public news only, nothing of acc-1


def test_a_process_serves_a_bounded_number_of_streams_and_a_stuck_one_never_blocks():
    hub = live.Hub()
    subscriptions = [hub.subscribe(f"acc-{i}") for i in range(live.MAX_STREAMS)]
    assert all(subscriptions) and hub.subscribe("one-too-many") is None
    hub.unsubscribe(subscriptions[0])
    assert hub.subscribe("now-there-is-room") is not None
    stuck = subscriptions[1]
    change = live.Change("change", "invoice_paid", ("tiles",))
    for _ in range(live.SUBSCRIBER_BACKLOG + 5):
        hub.deliver(stuck.account_id, "invoices.view", change)  # returns although nobody reads
    assert stuck.inbox.qsize() == live.SUBSCRIBER_BACKLOG


def test_a_stream_closed_before_its_first_chunk_frees_its_slot(monkeypatch):
    from werkzeug.test import EnvironBuilder

    from gateway.app import create_app
    from gateway.views import live as live_views

    hub = live.Hub()
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setattr(live, "hub", lambda: hub)
    monkeypatch.setattr(live, "consumer_ready", lambda timeout: True)
    monkeypatch.setattr(live_views, "load_account", lambda token: {"account_id": "acc-1"})
    statuses: list[str] = []
    body = create_app()(EnvironBuilder(path="/live/events").get_environ(), lambda status, *_: statuses.append(status))
    assert statuses == ["200 OK"] and hub._targets("acc-1")
    body.close()  # the server hangs up before taking the stream's first chunk: its generator never ran
    assert hub._targets("acc-1") == []
