"""Two instances of every service against one broker vhost and one database.

- competing consumers: each RPC call and each event is handled by exactly one
  instance of a service, and both instances take a share;
- stopping an instance mid-load (SIGTERM, graceful; SIGKILL, a crash) loses no
  accepted command and applies none twice;
- the billing cycle run by both instances at once (their timers and concurrent
  RPC calls) issues one renewal invoice per service, with gapless numbers.

The tests run in this order and share one stack; the billing test moves the
stack's clock, so it comes last.
"""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from kernel.caller import SignedClusterRpcProxy
from kernel.errors import Conflict
from tests.e2e.helpers import PASSWORD, unique_email, wait_for
from tests.scale.conftest import mails, mails_to, sender_pid
from tools.devstack import _alive

VERIFY_SUBJECT = "Potwierdź swój adres e-mail"
STAFF = {"actor": {"type": "staff", "id": "scale-test"}}
DAY = 86400
VERIFY_QUEUE = "evt-accounts-email_verification_requested--notifications.on_verification_requested"


def register(base: str, address: str) -> int:
    body = {"email": address, "password": PASSWORD, "first_name": "Jan", "last_name": "Skala", "language": "pl"}
    return requests.post(f"{base}/api/v1/auth/register", json=body, timeout=90).status_code


def register_telling_new_from_known(stack, address: str) -> int:
    """Register over RPC as the gateway would, mapped to 201 (a new account) or 409 (the address was taken,
    e.g. by a replay of this very registration, or `already_applied`: a replay of a request whose worker stored
    the account and died before answering). The gateway answers both the same way (no account
    enumeration), so these tests ask the service, whose internal answer names a new account's id."""
    anonymous = {"actor": {"type": "anonymous", "id": None}, "ip": "127.0.0.1"}
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, anonymous,
                               timeout=90) as cluster:  # fmt: skip
        try:
            answer = cluster.accounts.register(address, PASSWORD, "Jan", "Skala", "pl")
        except Conflict as refused:  # a redelivery of a request whose worker died after storing its events
            assert refused.code == "already_applied", refused
            return 409
    return 201 if answer.get("account_id") else 409


def register_all(base: str, addresses: list[str], threads: int = 8) -> dict[str, int]:
    with ThreadPoolExecutor(threads) as pool:
        return dict(zip(addresses, pool.map(lambda a: register(base, a), addresses), strict=True))


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: count - before.get(name, 0) for name, count in after.items()}


def wait_verification_mails(stack, addresses: list[str]) -> None:
    wait_for(lambda: set(addresses) <= set(mails_to(stack.mail_dir, VERIFY_SUBJECT)), timeout=60,
             what=f"{len(addresses)} verification mails")  # fmt: skip
    wait_for(lambda: stack.settled("notifications", "on_verification_requested", VERIFY_QUEUE), timeout=30,
             what="every verification event handled and acknowledged")  # fmt: skip


def assert_once_each(stack, addresses: list[str]) -> None:
    """One account, one verification mail in the sink and one mail record per address."""
    received = mails_to(stack.mail_dir, VERIFY_SUBJECT)
    assert {a: received[a] for a in addresses} == dict.fromkeys(addresses, 1)
    accounts = stack.db("accounts")["accounts"]
    assert {a: accounts.count_documents({"email": a}) for a in addresses} == dict.fromkeys(addresses, 1)
    records = stack.db("notifications")["sent_mails"]
    counts = {a: records.count_documents({"to": a, "template": "verify_email"}) for a in addresses}
    assert counts == dict.fromkeys(addresses, 1)


def senders(mail_dir: Path, addresses: list[str]) -> dict[int, int]:
    """pid of the sending notifications process -> how many of these addresses' mails it sent."""
    wanted, out = set(addresses), {}
    for message in mails(mail_dir):
        if str(message["To"]).lower() in wanted:
            pid = sender_pid(message)
            out[pid] = out.get(pid, 0) + 1
    return out


def test_each_command_and_event_is_handled_by_one_instance_and_both_take_a_share(scaled):
    count = 16
    before_rpc, before_events = (
        scaled.handled("accounts", "register"),
        scaled.handled("notifications", "on_verification_requested"),
    )
    addresses = [unique_email("scale") for _ in range(count)]
    codes = register_all(scaled.gateway_url, addresses)
    assert set(codes.values()) == {201}, codes
    wait_verification_mails(scaled, addresses)
    assert_once_each(scaled, addresses)

    registered = delta(scaled.handled("accounts", "register"), before_rpc)
    notified = delta(scaled.handled("notifications", "on_verification_requested"), before_events)
    by_instance = {scaled.name_of(pid): n for pid, n in senders(scaled.mail_dir, addresses).items()}
    print(f"\nregister calls per accounts instance: {registered}; verification events delivered per "
          f"notifications instance: {notified}; mails sent per instance: {by_instance}")  # fmt: skip
    assert sum(registered.values()) == count and all(registered.values()), registered
    # An event can be delivered twice (the outbox sweep may publish a commit whose worker is
    # still publishing it); the consumer's marker turns the second delivery into nothing.
    assert sum(notified.values()) >= count and all(notified.values()), notified
    assert set(by_instance) == set(notified) and sum(by_instance.values()) == count, by_instance


def _stop_mid_load(stack, victims: tuple[str, ...], how: signal.Signals, count: int) -> tuple[dict, dict]:
    """Register `count` accounts from 6 threads; once a third are answered, send `how` to
    each victim process. Returns (address -> HTTP status, victim -> what it held)."""
    addresses = [unique_email(how.name.lower()) for _ in range(count)]
    answered, held = [], {}

    def one(address: str) -> int:
        status = register_telling_new_from_known(stack, address)
        answered.append(address)
        return status

    with ThreadPoolExecutor(6) as pool:
        futures = {a: pool.submit(one, a) for a in addresses}
        wait_for(lambda: len(answered) >= count // 3, timeout=60, what="a third of the registrations")
        wait_for(lambda: stack.in_flight(victims[0], "accounts.register"), timeout=60,
                 what=f"{victims[0]} to be handling a registration")  # fmt: skip
        for name in victims:
            pid = stack.pid(name)
            held[name] = {"register": stack.in_flight(name, "accounts.register"),
                          "verification": stack.in_flight(name, "notifications.on_verification_requested")}  # fmt: skip
            os.killpg(pid, how)
            held[name]["pid"] = pid
        codes = {a: f.result() for a, f in futures.items()}
    for name in victims:
        wait_for(lambda pid=held[name]["pid"]: not _alive(pid), timeout=60, what=f"{name} to exit")
    return codes, held


def test_an_instance_stopped_with_sigterm_finishes_what_it_holds_and_loses_nothing(scaled):
    """SIGTERM: the instance finishes every worker it started. nameko 2.14 closes its
    consumer connection as soon as the last entrypoint stops, before those workers end,
    so the broker requeues their messages and the other instance handles them again:
    a replayed registration meets its own e-mail claim and answers 409, and no address
    ends up with two accounts or two mails (see deploy/README.md, Graceful shutdown)."""
    victims = ("accounts-2", "notifications-2")
    before = scaled.handled("accounts", "register")
    try:
        codes, held = _stop_mid_load(scaled, victims, signal.SIGTERM, 16)
        addresses = list(codes)
        replayed = {a: status for a, status in codes.items() if status != 201}
        assert set(replayed.values()) <= {409}, replayed
        wait_verification_mails(scaled, addresses)
        assert_once_each(scaled, addresses)  # every registration happened, once, replayed or not
        for name in victims:  # every worker it had started ran to the end
            service = name.split("-")[0]
            unfinished = {e: n for e in scaled.entrypoint_log(name) if (n := scaled.in_flight(name, e))}
            assert not unfinished, f"{name} left workers unfinished: {unfinished}"
            assert f"stopped <ServiceContainer [{service}]" in (scaled.log_dir / f"{name}.log").read_text()
        handled = delta(scaled.handled("accounts", "register"), before)
        print(f"\nSIGTERM mid-load: in flight at the signal {held}; register workers per instance {handled} for "
              f"{len(codes)} calls; {len(codes) - len(replayed)} answered 201, {len(replayed)} replayed (409); "
              f"each address registered and mailed once")  # fmt: skip
    finally:
        scaled.restart(*victims)


def test_an_rpc_instance_killed_mid_load_loses_no_accepted_command(scaled):
    """SIGKILL: the broker requeues the messages the dead instance had not acknowledged
    and the other instance handles them; the e-mail claim turns a replayed registration
    into `email_taken` instead of a second account. accounts-2 stays down: the billing
    test after this one needs only billing twice."""
    before = scaled.handled("accounts", "register")
    codes, held = _stop_mid_load(scaled, ("accounts-2",), signal.SIGKILL, 16)
    killed = scaled.in_flight("accounts-2", "accounts.register")  # its last log: workers that never finished
    accepted = [a for a, status in codes.items() if status == 201]
    wait_verification_mails(scaled, accepted)
    assert_once_each(scaled, accepted)
    others = {a: status for a, status in codes.items() if status != 201}
    assert set(others.values()) <= {409}, others  # a replayed registration whose claim the dead one took
    accounts = scaled.db("accounts")["accounts"]
    stored = {a: accounts.count_documents({"email": a}) for a in others}
    assert set(stored.values()) <= {0, 1}, stored  # never two accounts for one address
    if any(stored.values()):  # an account the dead instance stored got its mail once (outbox)
        wait_verification_mails(scaled, [a for a, n in stored.items() if n])
        assert_once_each(scaled, [a for a, n in stored.items() if n])
    handled = delta(scaled.handled("accounts", "register"), before)
    # Every call was answered (201 or 409, none timed out) while accounts-2 stayed dead, so each
    # message whose worker died unacknowledged was delivered again to the other instance. The
    # log cannot say exactly how many died: a worker that had replied and acknowledged when
    # SIGKILL came may not have logged its end. So: every call started somewhere, and the
    # extra starts (redeliveries) are no more than the workers the log shows unfinished.
    redelivered = sum(handled.values()) - len(codes)
    assert 0 <= redelivered <= killed, (handled, killed)
    print(f"\nSIGKILL mid-load: accounts-2 died with {killed} register workers unfinished in its log, "
          f"{redelivered} redelivered; register workers "
          f"started per instance {handled} for {len(codes)} calls; {len(accepted)} accepted; 409 after redelivery "
          f"{len(others)} ({sum(stored.values())} of them registered by the dead instance, "
          f"{len(others) - sum(stored.values())} left with only its e-mail claim)")  # fmt: skip


def _issued_by_ledger(events: list[dict]) -> dict[str, list[int]]:
    ledgers: dict[str, list[int]] = {}
    for event in events:
        if event["type"] == "invoice_issued":
            ledgers.setdefault(event["stream_id"], []).append(event["data"]["sequence"])
    return ledgers


def test_two_billing_instances_bill_each_renewal_once_with_gapless_numbers(scaled):
    """Both billing instances run the cycle every second (BILLING_CYCLE_SECONDS=1) and six
    run_billing_cycle calls race them once the clock makes the renewals due."""
    billing = scaled.db("billing")
    with SignedClusterRpcProxy({"AMQP_URI": scaled.env["AMQP_URI"], "serializer": "json"}, timeout=60) as rpc:
        rpc.billing.seed_demo_catalog()
        accounts = []
        for _ in range(4):  # four customers, each with a paid monthly hosting service
            account_id = rpc.accounts.register(unique_email("bill"), PASSWORD, "Jan", "Skala", "pl")["account_id"]
            rpc.billing.add_cart_item(account_id, "hosting", {"plan": "hosting-start", "cycle": "monthly"})
            placed = rpc.billing.checkout(account_id, "bank_transfer", uuid.uuid4().hex)
            rpc.billing.mark_invoice_paid(placed["invoice_id"], ctx=STAFF)
            accounts.append(account_id)
        services = wait_for(lambda: [s["_id"] for s in billing["services"].find({"account_id": {"$in": accounts},
                                                                                  "status": "active"})]
                            if billing["services"].count_documents({"account_id": {"$in": accounts},
                                                                    "status": "active"}) == 4 else None,
                            what="four active services")  # fmt: skip
        timers_before = scaled.handled("billing", "billing_cycle_timer")
        calls_before = scaled.handled("billing", "run_billing_cycle")

        scaled.clock_file.write_text(str(20 * DAY))  # a monthly service is due in 10 days: renewal time
        pending = [rpc.billing.run_billing_cycle.call_async() for _ in range(6)]
        results = [p.result() for p in pending]

    def renewals_numbered() -> bool:
        found = billing["invoices"].find({"service_id": {"$in": services}, "number": {"$nin": [None, ""]}})
        return {i["service_id"] for i in found} == set(services)

    wait_for(renewals_numbered, timeout=30, what="a numbered renewal invoice for every service")
    # let each instance's timer run the cycle twice more over the finished renewals
    timers_now = scaled.handled("billing", "billing_cycle_timer")
    wait_for(lambda: all(n >= timers_now[i] + 2 for i, n in scaled.handled("billing", "billing_cycle_timer").items()),
             timeout=30, what="both billing timers to run again")  # fmt: skip

    events = [{**e, "stream_id": c["stream_id"]} for c in billing["event_commits"].find() for e in c["events"]]
    requested = [e["data"]["service_id"] for e in events if e["type"] == "renewal_invoice_requested"]
    assert sorted(requested) == sorted(services), "one renewal request per service"
    renewals = list(billing["invoices"].find({"service_id": {"$in": services}, "status": {"$ne": "cancelled"}}))
    assert sorted(i["service_id"] for i in renewals) == sorted(services), "one renewal invoice per service"
    ledgers = _issued_by_ledger(events)
    for ledger, sequences in ledgers.items():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), f"{ledger}: numbers with gaps {sequences}"
    numbers = [i["number"] for i in billing["invoices"].find({"number": {"$nin": [None, ""]}})]
    assert len(numbers) == len(set(numbers)) == sum(map(len, ledgers.values())) == 2 * len(services)

    timers = delta(scaled.handled("billing", "billing_cycle_timer"), timers_before)
    calls = delta(scaled.handled("billing", "run_billing_cycle"), calls_before)
    print(f"\nbilling cycle runs per instance after the clock moved: timer {timers}, RPC {calls}; RPC results: "
          f"renewals requested {[r['renewals_requested'] for r in results]}, "
          f"invoices issued {[r['invoices_issued'] for r in results]}, lost races {[r['errors'] for r in results]}; "
          f"ledgers {ledgers}")  # fmt: skip
    assert all(timers.values()) and sum(calls.values()) == 6, (timers, calls)
