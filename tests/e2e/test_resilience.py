"""What survives: crash between store and publish, duplicate delivery, rebuilds, a service down.

These tests stop and start real service processes of the session's stack and
leave every service running again when they finish.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from email import policy

import pymongo
import requests
from nameko.standalone.events import event_dispatcher

from tests.e2e.helpers import RESET_RE, bearer, register_verified, token_from_mail, wait_for
from tools.devstack import ROOT
from tools.seed import find_mail, mail_text


def _db(stack, service: str):
    return pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}{service}"]


def _restart(stack, service: str) -> None:
    stack.start_process(service, stack.service_argv(service))
    stack.wait_healthy(timeout=60)


def _account_id(stack, token: str) -> str:
    return requests.get(f"{stack.gateway_url}/api/v1/profile", headers=bearer(token), timeout=10).json()["account_id"]


def test_event_stored_by_a_crashed_process_is_published_after_restart(stack):
    """accounts is killed (-9); a commit it had stored but not published is delivered once it is back."""
    email, token = register_verified(stack.gateway_url, stack.var / "mail")
    account_id = _account_id(stack, token)
    os.killpg(stack.pid("accounts"), 9)
    wait_for(lambda: stack.pid("accounts") is None or not _alive(stack.pid("accounts")), what="accounts to die")
    (stack.run_dir / "accounts.pid").unlink(missing_ok=True)

    commits = _db(stack, "accounts")["event_commits"]
    stream = f"account-{account_id}"
    head = commits.find_one({"stream_id": stream}, sort=[("version", -1)])
    version = head["last_version"] + 1
    reset_token = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=10)
    event = {
        "event_id": str(uuid.uuid4()), "stream_id": stream, "version": version, "type": "password_reset_requested",
        "occurred_at": now, "meta": {"actor": {"type": "system"}},
        "data": {"email": email, "token": reset_token, "token_hash": __import__("hashlib").sha256(reset_token.encode()).hexdigest(),
                 "expires_at": (now + dt.timedelta(hours=1)).isoformat(), "language": "pl"},
    }  # fmt: skip
    commits.insert_one({"_id": str(uuid.uuid4()), "stream_id": stream, "version": version, "last_version": version,
                        "position": 10**9, "events": [event], "recorded_at": now, "published_at": None,
                        "publish_lease_until": None})  # fmt: skip
    since = time.time() - 1
    _restart(stack, "accounts")
    mailed = token_from_mail(stack.var / "mail", email, RESET_RE, since, subject="hasło")
    assert mailed == reset_token
    wait_for(lambda: commits.find_one({"events.event_id": event["event_id"], "published_at": {"$ne": None}}),
             what="the commit to be marked published")  # fmt: skip
    # and the read model caught up too: the token works
    confirm = requests.post(f"{stack.gateway_url}/api/v1/auth/password-reset/confirm",
                            json={"token": reset_token, "password": "Po-Awarii-2026"}, timeout=10)  # fmt: skip
    assert confirm.status_code == 200, confirm.text


def test_an_event_delivered_twice_is_applied_once(stack):
    email, token = register_verified(stack.gateway_url, stack.var / "mail")
    account_id = _account_id(stack, token)

    def reset_event(secret: str) -> dict:  # without token_hash: private, never on the broker
        return {"event_id": str(uuid.uuid4()), "stream_id": f"account-{account_id}", "version": 99,
                "type": "password_reset_requested", "occurred_at": "2026-01-01T00:00:00Z", "meta": {},
                "data": {"email": email, "token": secret, "expires_at": "2030-01-01T00:00:00",
                         "language": "pl"}}  # fmt: skip

    duplicate, marker = reset_event("duplicate-" + uuid.uuid4().hex), reset_event("marker-" + uuid.uuid4().hex)
    since = time.time() - 1
    dispatch = event_dispatcher({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"})
    for message in (duplicate, duplicate, marker):
        dispatch("accounts", "password_reset_requested", message)
    mail_dir = stack.var / "mail"
    wait_for(lambda: find_mail(mail_dir, email, since=since) and _count_mails(mail_dir, marker["data"]["token"]) == 1,
             what="the marker mail")  # fmt: skip
    assert _count_mails(mail_dir, duplicate["data"]["token"]) == 1
    recorded = _db(stack, "notifications")["sent_mails"].count_documents(
        {"account_id": account_id, "template": "password_reset"}
    )
    assert recorded == 2  # the duplicate once, the marker once


def test_rebuild_gives_the_same_read_model_as_live_projection(stack):
    register_verified(stack.gateway_url, stack.var / "mail")
    _, token = register_verified(stack.gateway_url, stack.var / "mail", language="en")
    requests.patch(f"{stack.gateway_url}/api/v1/profile", headers=bearer(token), timeout=10, json={
        "billing_address": {"street": "Polna 1", "postcode": "00-001", "city": "Opole"}, "mailing_list": True})  # fmt: skip
    accounts = _db(stack, "accounts")["accounts"]
    live = {d["_id"]: d for d in accounts.find()}
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "kernel", "rebuild", "accounts"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rebuilt accounts" in result.stdout
    rebuilt = {d["_id"]: d for d in accounts.find()}
    assert rebuilt == live and len(live) >= 2


def test_a_service_down_costs_only_its_own_sections(stack):
    _, token = register_verified(stack.gateway_url, stack.var / "mail")
    stack.stop_process("support")
    try:
        response = requests.get(f"{stack.gateway_url}/api/v1/dashboard", headers=bearer(token), timeout=30)
        assert response.status_code == 200
        body = response.json()
        assert {"tiles.tickets", "recent_tickets", "news"} <= set(body["unavailable"])
        assert body["profile"]["first_name"] == "Zofia"
        health = requests.get(f"{stack.gateway_url}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["services"]["support"] == "down"
    finally:
        _restart(stack, "support")


def _rpc_timeout(stack) -> float:
    return float(stack.environment().get("RPC_TIMEOUT", "5"))  # the gateway's default


def _freeze(stack, *services: str) -> list[int]:
    """SIGSTOP the services' processes: running but silent, the way a hung service looks."""
    pids = [stack.pid(service) for service in services]
    assert all(pids), f"not running: {services}"
    for pid in pids:
        os.killpg(pid, signal.SIGSTOP)
    return pids


def _thaw(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)


def test_two_hung_services_cost_one_timeout_not_two(stack):
    """billing and support frozen: the dashboard answers within one RPC_TIMEOUT (not two), and is whole
    again once they run. It comes from the gateway's view (their last known state) or, where the view
    cannot serve, from the fan-out with exactly their sections unavailable."""
    _, token = register_verified(stack.gateway_url, stack.var / "mail")
    timeout = _rpc_timeout(stack)

    def dashboard() -> dict:
        response = requests.get(f"{stack.gateway_url}/api/v1/dashboard", headers=bearer(token), timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    assert dashboard()["unavailable"] == []
    pids = _freeze(stack, "billing", "support")
    try:
        started = time.monotonic()
        body = dashboard()
        elapsed = time.monotonic() - started
        frozen = {"offer", "tiles.services", "tiles.unpaid_invoices", "active_services", "renewals",
                  "tiles.tickets", "recent_tickets", "news"}  # fmt: skip
        if body["served_from"] == "services":
            assert set(body["unavailable"]) == frozen
        else:
            assert body["served_from"] == "view" and body["unavailable"] == []
        assert body["profile"]["first_name"] == "Zofia"
        assert elapsed < 1.6 * timeout, f"{elapsed:.1f}s: the waits added up (RPC_TIMEOUT {timeout:g}s)"
    finally:
        _thaw(pids)
        wait_for(lambda: dashboard()["unavailable"] == [], timeout=60, what="the dashboard to be whole again")


def test_a_late_reply_is_dropped_and_never_answers_a_later_call(stack, monkeypatch):
    """The gateway's RPC client in this process, on the stack's broker: a call abandoned at the
    deadline gets its reply late; that reply is acknowledged and dropped, and the next call on the
    same proxy gets its own answer."""
    from gateway import rpc
    from kernel import settings

    monkeypatch.setattr(settings, "AMQP_URI", stack.env["AMQP_URI"])
    monkeypatch.setattr(rpc, "RPC_TIMEOUT", 1.0)
    monkeypatch.setattr(rpc, "_local", threading.local())  # a proxy of this test's own
    pids = _freeze(stack, "domains")
    try:
        late = rpc.start("domains", "check", "pierwsza.pl")
        calls = {"late": late, "accounts": rpc.start("accounts", "health"), "support": rpc.start("support", "health")}
        started = time.monotonic()
        results, failures = rpc.gather(calls)
        elapsed = time.monotonic() - started
        assert failures == {"late": "unavailable"}
        assert results["accounts"]["status"] == results["support"]["status"] == "up"
        assert elapsed < 1.6 * rpc.RPC_TIMEOUT
    finally:
        _thaw(pids)
    try:
        consumer = rpc._local.runner._reply_listener.queue_consumer
        stale = late.reply.reply_event.correlation_id
        assert stale not in consumer.provider._reply_events  # nobody waits for it any more

        def late_reply_received() -> bool:
            with contextlib.suppress(socket.timeout):
                consumer.consumer.connection.drain_events(timeout=0.2)
            return stale in consumer.replies

        wait_for(late_reply_received, timeout=30, what="domains' late reply")
        _, late_message = consumer.replies[stale]
        assert rpc.call("domains", "check", "druga.pl")["query"] == "druga.pl"
        assert consumer.replies == {} and consumer.provider._reply_events == {}  # the late one dropped
        assert late_message.acknowledged  # not left unacknowledged on the reply queue
    finally:
        rpc._discard()


def test_a_proxy_whose_broker_connection_is_gone_is_rebuilt_before_a_call(stack, monkeypatch):
    """A broker node that dies leaves the gateway thread's reply socket open on our side. The next call
    must not go out on that proxy (its reply would be bound for a connection nobody reads): the gateway
    sees the socket's end-of-stream and builds a new proxy first. The peer going away is made here by
    shutting down the socket's reading side, which reads as the broker's end of stream."""
    from gateway import rpc
    from kernel import settings

    monkeypatch.setattr(settings, "AMQP_URI", stack.env["AMQP_URI"])
    monkeypatch.setattr(rpc, "_local", threading.local())
    try:
        assert rpc.call("accounts", "health")["status"] == "up"
        broken = rpc._local.runner
        assert rpc._reply_connection_alive(broken)
        broken._reply_listener.queue_consumer.connection.connection.sock.shutdown(socket.SHUT_RD)
        assert not rpc._reply_connection_alive(broken)
        assert rpc.call("support", "health")["status"] == "up"  # answered on a new proxy
        assert rpc._local.runner is not broken and rpc._reply_connection_alive(rpc._local.runner)
    finally:
        rpc._discard()


def _count_mails(mail_dir, needle: str) -> int:
    """Mails whose decoded text contains `needle` (the raw file is quoted-printable)."""
    count = 0
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        count += needle in mail_text(message)
    return count


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except (ProcessLookupError, ChildProcessError):
        return False
