"""Private event fields (kernel.contracts.PRIVATE_FIELDS): kept in the event store, never published.

First the declared list against what the Account decisions really store (so it
cannot silently rot), then EventsApi with a recording dispatch (live path and
outbox sweep), then two `nameko run` services on a real RabbitMQ vhost of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pymongo
import pyotp
import pytest
import requests

from kernel import contracts, db, settings
from kernel.caller import SignedClusterRpcProxy
from kernel.dependencies import EventsApi, public_message
from kernel.events import Event, NewEvent, new_id
from kernel.eventstore import EventStore
from services.accounts import domain
from services.accounts.domain import Account
from services.domains.domain import Domain
from tests.conftest import RABBIT_API
from tests.e2e.helpers import wait_for
from tests.fakes import RecordingDispatch
from tools.devstack import ROOT

# Publishes on a real broker.
INTEGRATION = True

PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-salt$not-a-real-hash"
CONTACT = {"first_name": "Ewa", "last_name": "Płatnik", "email": "ewa@example.pl", "phone": "", "language": "pl",
           "address": {}, "login": True, "permissions": ["invoices.view"], "categories": ["billing"]}  # fmt: skip


def _apply(account: Account | Domain, new_events: list[NewEvent], stored: dict[str, list[dict]]) -> list[NewEvent]:
    for new in new_events:
        version = account.version + 1
        account.apply(Event(f"e{version}", account.stream_id, version, new.type, dt.datetime(2026, 1, 1), new.data, {}))
        stored.setdefault(new.type, []).append(new.data)
    return new_events


def _every_account_event() -> dict[str, list[dict]]:
    """The `data` of every event type the Account decisions store, by type."""
    account, stored = Account("account-1"), {}
    profile = {"first_name": "Jan", "last_name": "Kowal", "phone": "", "language": "pl"}
    _, requested = _apply(account, account.register("jan@example.pl", PASSWORD_HASH, profile), stored)
    _apply(account, account.verify_email(requested.data["token"]), stored)
    [reset] = _apply(account, account.request_password_reset(), stored)
    _apply(account, account.complete_password_reset(reset.data["token"], PASSWORD_HASH), stored)
    _apply(account, account.change_password(lambda _: True, None, PASSWORD_HASH), stored)
    _, invited = _apply(account, account.add_contact("c-1", CONTACT, {"type": "account"}), stored)
    _apply(account, account.accept_invitation("c-1", invited.data["token"], PASSWORD_HASH), stored)
    [contact_reset] = _apply(account, account.request_contact_password_reset("c-1"), stored)
    _apply(account, account.complete_contact_password_reset("c-1", contact_reset.data["token"], PASSWORD_HASH), stored)
    secret, codes = pyotp.random_base32(), domain.new_recovery_codes()
    _apply(account, account.enable_two_factor(secret, pyotp.TOTP(secret).now(), codes), stored)
    _apply(account, account.second_factor(codes[0]), stored)
    return stored


# --- the declared list ----------------------------------------------------------
def _every_domain_transfer_event() -> dict[str, list[dict]]:
    """What a Domain stores on the transfer path, where the EPP code and the registrant (holder) travel: ordered, requested,
    rejected (wrong code), requested again with a new code."""
    stored: dict[str, list[dict]] = {}
    transfer = Domain("domain-d-1")
    details = {"account_id": "a-1", "name": "example.pl", "unicode_name": "example.pl", "tld": "pl",
               "kind": "transfer", "years": 1, "invoice_id": "i-1", "epp_code": "Old-Code-1",
               "holder": {"name": "Jan Kowalski", "person": "Jan Kowalski", "company": "", "nip": "", "street": "ul. Polna 1",
                          "postcode": "00-001", "city": "Warszawa", "country": "PL", "email": "jan@example.pl"}}  # fmt: skip
    _apply(transfer, transfer.order(details), stored)
    _apply(transfer, transfer.request("i-1"), stored)
    _apply(transfer, transfer.transfer_rejected("domains_invalid_epp_code"), stored)
    _apply(transfer, transfer.retry("New-Code-2"), stored)
    return stored


def test_every_declared_private_field_is_one_its_event_type_really_stores():
    decisions = {contracts.ACCOUNTS: _every_account_event, contracts.DOMAINS: _every_domain_transfer_event}
    assert set(contracts.PRIVATE_FIELDS) <= set(decisions), "another service's list needs its decisions here"
    for service, private in contracts.PRIVATE_FIELDS.items():
        stored = decisions[service]()
        for event_type, fields in private.items():
            assert event_type in stored, f"no {service} decision stores {event_type}"
            for field in fields:
                assert any(field in data for data in stored[event_type]), f"{event_type} never stores {field}"


def test_no_stored_account_secret_is_left_off_the_list():
    """A secret-looking key (kernel.contracts.SECRET_FIELDS) is either private or mailed on purpose."""
    mailed = {"token"}  # notifications puts the link token in the mail it sends
    for event_type, datas in _every_account_event().items():
        keys = {k for data in datas for k in data} & contracts.SECRET_FIELDS - mailed
        assert keys <= set(contracts.ACCOUNT_PRIVATE_FIELDS.get(event_type, ())), (event_type, keys)


def test_the_public_message_leaves_out_only_the_private_keys_and_the_event_keeps_them():
    data = {"email": "jan@example.pl", "password_hash": PASSWORD_HASH, "role": "customer"}
    event = Event("e1", "account-1", 1, "account_registered", dt.datetime(2026, 1, 1), data, {})
    message = public_message(event, contracts.ACCOUNT_PRIVATE_FIELDS)
    assert message["data"] == {"email": "jan@example.pl", "role": "customer"}
    assert event.data["password_hash"] == PASSWORD_HASH
    other = Event("e2", "account-1", 2, "profile_updated", dt.datetime(2026, 1, 1), {"changes": {}}, {})
    assert public_message(other, contracts.ACCOUNT_PRIVATE_FIELDS) == other.to_message()


# --- EventsApi: live path and outbox sweep --------------------------------------
def test_live_and_swept_publishes_leave_the_secret_out_and_the_store_keeps_it(mongo_alias, monkeypatch):
    mongo_alias("accounts")
    store = EventStore("accounts")
    store.ensure_indexes()
    dispatch = RecordingDispatch()
    events_api = EventsApi("accounts", store, [], dispatch)
    registered = NewEvent("account_registered", {"email": "a@example.pl", "password_hash": PASSWORD_HASH})
    events_api.append("account-live", 0, [registered], {})
    store.append("account-swept", 0, [registered], {})  # stored, never published: the sweep's job
    monkeypatch.setattr(settings, "OUTBOX_GRACE_SECONDS", -5)
    assert events_api.publish_pending() == 1

    messages = dispatch.of("account_registered")
    assert [m["stream_id"] for m in messages] == ["account-live", "account-swept"]
    assert all(m["data"] == {"email": "a@example.pl"} for m in messages)
    for stream_id in ("account-live", "account-swept"):
        assert store.load(stream_id)[0].data["password_hash"] == PASSWORD_HASH


# --- the real broker --------------------------------------------------------------
@pytest.fixture
def own_vhost():
    """A vhost of this test's own: its `accounts` events reach no other test's services."""
    name, auth = f"panel-private-{uuid.uuid4().hex[:8]}", ("guest", "guest")
    requests.put(f"{RABBIT_API}/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{name}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    yield name
    requests.delete(f"{RABBIT_API}/vhosts/{name}", auth=auth, timeout=10)


@pytest.fixture
def probes(mongo_uri, own_vhost, tmp_path):
    prefix = f"pf{uuid.uuid4().hex[:6]}_"
    amqp = f"pyamqp://guest:guest@127.0.0.1:5672/{own_vhost}"
    env = {**os.environ, "AMQP_URI": amqp, "MONGO_URI": mongo_uri, "DB_PREFIX": prefix, "PYTHONPATH": str(ROOT),
           "OUTBOX_GRACE_SECONDS": "1", "OUTBOX_SWEEP_SECONDS": "1"}  # fmt: skip
    log = open(tmp_path / "probes.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "tests.kernel.private_fields_service:AccountsProbe",
         "tests.kernel.private_fields_service:SinkProbe", "--config", "tests/kernel/private_fields.yml"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = pymongo.MongoClient(mongo_uri)
    try:
        wait_for(lambda: _consumers(own_vhost) >= 6 or process.poll() is not None, timeout=60, what="the probes")
        assert process.poll() is None, (tmp_path / "probes.log").read_text()
        yield amqp, client[f"{prefix}accounts"], client[f"{prefix}privsink"], f"{prefix}accounts"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        for name in (f"{prefix}accounts", f"{prefix}privsink"):
            client.drop_database(name)


def _consumers(vhost: str) -> int:
    queues = requests.get(f"{RABBIT_API}/queues/{vhost}", auth=("guest", "guest"), timeout=10).json()
    return sum(q.get("consumers", 0) for q in queues)  # two rpc- queues, privsink's four evt- queues


def _received(sink, event_type: str) -> list[dict]:
    return [json.loads(d["raw"]) for d in sink["received"].find({"type": event_type})]


def test_on_the_broker_the_message_and_its_dead_letter_lack_the_secret_the_store_keeps_it(probes, mongo_uri):
    amqp, accounts_db, sink, accounts_db_name = probes
    account_id, secret, codes = new_id(), pyotp.random_base32(), domain.new_recovery_codes()
    with SignedClusterRpcProxy({"AMQP_URI": amqp, "serializer": "json"}, timeout=30) as rpc:
        rpc.accounts.register(account_id, "jan@example.pl", PASSWORD_HASH)
        rpc.accounts.enable_two_factor(account_id, secret, pyotp.TOTP(secret).now(), codes)
    # and one commit stored but not published (a crash before publishing): the outbox sweep publishes it
    swept_id = new_id()
    db.connect("pf_accounts", mongo_uri, accounts_db_name)
    try:
        decided = Account(f"account-{swept_id}").register("ewa@example.pl", PASSWORD_HASH, {})
        EventStore("pf_accounts").append(f"account-{swept_id}", 0, decided, {})
    finally:
        db.disconnect("pf_accounts")

    wait_for(lambda: len(_received(sink, "account_registered")) == 2, timeout=30, what="both registrations")
    wait_for(lambda: _received(sink, "two_factor_enabled"), timeout=30, what="two_factor_enabled")
    wait_for(lambda: sink["dead_letters"].count_documents({}) == 2, timeout=30, what="the dead letters")

    registered = {m["stream_id"]: m for m in _received(sink, "account_registered")}
    assert set(registered) == {f"account-{account_id}", f"account-{swept_id}"}
    for message in registered.values():
        assert "password_hash" not in message["data"] and message["data"]["email"]
    [verification] = [m for m in _received(sink, "email_verification_requested") if account_id in m["stream_id"]]
    assert verification["data"]["token"] and "token_hash" not in verification["data"]  # the mail needs the token
    [two_factor] = _received(sink, "two_factor_enabled")
    assert two_factor["data"] == {}
    raw = [d["raw"] for d in sink["received"].find()] + [d["message"] for d in sink["dead_letters"].find()]
    for kept in (PASSWORD_HASH, secret, *(domain.recovery_hash(c) for c in codes)):
        assert not any(kept in text for text in raw)

    stored = {e["type"]: e["data"] for c in accounts_db["event_commits"].find() for e in c["events"]
              if e["stream_id"] == f"account-{account_id}"}  # fmt: skip
    assert stored["account_registered"]["password_hash"] == PASSWORD_HASH
    assert stored["two_factor_enabled"]["secret"] == secret
    assert stored["two_factor_enabled"]["recovery_code_hashes"] == [domain.recovery_hash(c) for c in codes]
