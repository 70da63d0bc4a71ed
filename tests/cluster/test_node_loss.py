"""Losing a broker node under load: the whole panel on a three-node RabbitMQ cluster with quorum queues.

A customer opens support tickets through the gateway without pause (each one a command to support and an
event that notifications consumes) while node 1, the one every process connected to first, is killed with
-9, later restarted, and then every node is restarted in turn. Per phase the test prints the commands
sent, acknowledged (201), applied (in support's event store), lost (acknowledged, not applied) and doubled
(applied twice), and how long the gateway answered errors. Asserted: nothing acknowledged is lost, nothing
is applied twice, every ticket_opened event is consumed by notifications (its processed marker, no dead
letter), no queue holds a message or an unacknowledged delivery at the end, and the gateway answered
errors only in the phase that loses a node.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pymongo
import pytest
import requests

from tests.conftest import _dump_logs, free_port
from tests.e2e.helpers import bearer, register_verified, wait_for
from tools.cluster import Cluster
from tools.devstack import Stack

CONSUMER = "services.notifications.service.on_ticket_opened"


@pytest.fixture(scope="module")
def cluster_stack(mongo_uri, tmp_path_factory):
    cluster = Cluster()
    stack = Stack(var=tmp_path_factory.mktemp("cluster"), gateway_port=free_port(), smtp_port=free_port())
    prefix = f"cl{uuid.uuid4().hex[:6]}_"
    stack.env = {"AMQP_URI": cluster.uri, "AMQP_QUEUE_TYPE": "quorum", "RABBIT_MANAGEMENT_URL": cluster.nodes[0].api,
                 "MONGO_URI": mongo_uri, "DB_PREFIX": prefix, "SECRET_KEY": uuid.uuid4().hex, "RPC_TIMEOUT": "5",
                 "OUTBOX_GRACE_SECONDS": "1", "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "8"}  # fmt: skip
    started = time.monotonic()
    try:
        cluster.up()
        print(f"\ncluster of three up in {time.monotonic() - started:.1f}s")
        stack.up(seed_demo=False)
    except BaseException:
        _dump_logs(stack)
        stack.down()
        cluster.down()
        raise
    stack.cluster, stack.prefix = cluster, prefix
    yield stack
    stack.down()
    cluster.down()
    client = pymongo.MongoClient(mongo_uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


@dataclass
class Load:
    """One customer opening tickets one after another; each answer recorded with its phase and time."""

    base: str
    token: str
    phase: str = "steady"
    sent: list[tuple[str, str, int, float]] = field(default_factory=list)  # phase, subject, status, time
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            phase, subject = self.phase, f"load {self.phase} {n}"
            body = {"department": "technical", "priority": "low", "subject": subject, "message": "cluster test"}
            try:
                status = requests.post(f"{self.base}/api/v1/tickets", headers=bearer(self.token), json=body,
                                       timeout=15).status_code  # fmt: skip
            except requests.RequestException:
                status = 0
            self.sent.append((phase, subject, status, time.monotonic()))
            self.stopping.wait(0.1)  # a steady pace, not a flood: two cores carry three nodes and the panel

    def acked_since(self, since: float) -> int:
        return sum(1 for _, _, status, at in self.sent if status == 201 and at > since)


def _opened(stack) -> list[dict]:
    database = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.prefix}support"]
    return [
        e
        for c in database["event_commits"].find({}, {"events": 1})
        for e in c["events"]
        if e["type"] == "ticket_opened"
    ]


def _consumed(stack, event_ids: list[str]) -> int:
    database = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.prefix}notifications"]
    return database["processed_events"].count_documents({"_id": {"$in": [f"{CONSUMER}:{e}" for e in event_ids]}})


def _queues(cluster: Cluster) -> list[dict]:
    node = next(n for n in cluster.nodes if n.pid())
    return requests.get(f"{node.api}/queues/%2F", auth=("guest", "guest"), timeout=10).json()


def _phase(load: Load, name: str, action, clock: dict) -> None:
    load.phase = name
    started = time.monotonic()
    action()
    done = time.monotonic()
    wait_for(lambda: load.acked_since(done) >= 5, timeout=60, what=f"five answered commands after {name}")
    clock[name] = time.monotonic() - started


def test_losing_a_node_under_load_loses_and_doubles_nothing(cluster_stack):
    stack, cluster = cluster_stack, cluster_stack.cluster
    _, token = register_verified(stack.gateway_url, stack.var / "mail")
    declared = {q["name"]: q.get("type") for q in _queues(cluster)}
    assert (
        declared["rpc-support"] == "quorum"
        and declared[f"evt-support-ticket_opened--notifications.{CONSUMER.rsplit('.', 1)[1]}"] == "quorum"
    )

    load = Load(stack.gateway_url, token)
    worker = threading.Thread(target=load.run, daemon=True)
    worker.start()
    durations: dict[str, float] = {}
    first, nodes = cluster.nodes[0], cluster.nodes

    def rolling() -> None:
        for node in nodes:
            cluster.wait_quorum_safe(node)
            node.stop()
            cluster.restart(node)

    try:
        _phase(load, "steady", lambda: wait_for(lambda: load.acked_since(0) >= 10, 60, "ten tickets"), durations)
        _phase(load, "node 1 killed (-9)", first.kill, durations)
        _phase(load, "node 1 back", lambda: cluster.restart(first), durations)
        _phase(load, "rolling restart", rolling, durations)
    finally:
        load.stopping.set()
        worker.join(timeout=30)

    opened = _opened(stack)
    applied = Counter(e["data"]["subject"] for e in opened)
    event_ids = [e["event_id"] for e in opened]
    wait_for(lambda: _consumed(stack, event_ids) == len(event_ids), timeout=60, what="notifications to consume them")

    def busy() -> list[str]:
        return [f'{q["name"]}: {q.get("messages")} messages, {q.get("messages_unacknowledged")} unacked'
                for q in _queues(cluster) if not q["name"].startswith("rpc.reply-")
                and (q.get("messages") or q.get("messages_unacknowledged"))]  # fmt: skip

    # nothing left unacknowledged: a request whose reply could not be sent (its publisher's node died)
    # is still acknowledged on the consumer's live connection (kernel.service)
    try:
        wait_for(lambda: not busy(), timeout=30, what="every queue empty and acknowledged")
    except AssertionError:
        raise AssertionError(f"left in the queues after the restarts: {busy()}") from None
    letters = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.prefix}notifications"]["dead_letters"]

    print(f"\n{'phase':<22}{'sent':>6}{'acked':>7}{'applied':>9}{'lost':>6}{'doubled':>9}{'errors':>8}"
          f"{'errors for':>12}{'took':>8}")  # fmt: skip
    lost_total = doubled_total = 0
    errors_by_phase = {}
    for phase in durations:
        rows = [r for r in load.sent if r[0] == phase]
        acked = {subject for _, subject, status, _ in rows if status == 201}
        errors = [at for _, _, status, at in rows if status != 201]
        lost = [s for s in acked if applied[s] == 0]
        doubled = [s for _, s, _, _ in rows if applied[s] > 1]
        in_store = sum(1 for _, s, _, _ in rows if applied[s])
        window = errors[-1] - errors[0] + 0.1 if errors else 0.0
        errors_by_phase[phase] = len(errors)
        lost_total, doubled_total = lost_total + len(lost), doubled_total + len(doubled)
        print(f"{phase:<22}{len(rows):>6}{len(acked):>7}{in_store:>9}{len(lost):>6}{len(doubled):>9}{len(errors):>8}"
              f"{window:>11.1f}s{durations[phase]:>7.1f}s")  # fmt: skip
    print(f"events ticket_opened: {len(event_ids)}, consumed by notifications: {_consumed(stack, event_ids)}, "
          f"dead letters: {letters.count_documents({})}")  # fmt: skip

    assert lost_total == 0, "an acknowledged command was not applied"
    assert doubled_total == 0, "a command was applied twice"
    assert len(event_ids) == sum(applied.values()) and letters.count_documents({}) == 0
    assert errors_by_phase["steady"] == 0 and errors_by_phase["node 1 back"] == 0
