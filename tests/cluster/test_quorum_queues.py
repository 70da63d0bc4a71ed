"""On the real broker: with AMQP_QUEUE_TYPE=quorum a service's queues are quorum queues, a message the
broker handed out as often as the delivery limit allows lands in `dead_letters` without running its
handler again, and an AMQP_URI naming several nodes connects to one that answers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pymongo
import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from tests.conftest import RABBIT_API, free_port, own_vhost
from tests.e2e.helpers import wait_for
from tests.faults.poison_service import SOURCE
from tools.devstack import ROOT

QUEUE = "evt-poisonsource-thing_happened--poisontest.on_thing"
LIMIT = 3


class PoisonProcess:
    def __init__(self, amqp: str, env: dict[str, str], log: Path):
        self.amqp, self.env, self.log, self.process = amqp, env, log, None

    def start(self) -> None:
        argv = [sys.executable, "-m", "nameko", "run", "tests.faults.poison_service:PoisonService",
                "--config", "tests/faults/poison.yml"]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _queue(vhost: str) -> dict:
    response = requests.get(f"{RABBIT_API}/queues/{vhost}/{QUEUE}", auth=("guest", "guest"), timeout=10)
    return response.json() if response.ok else {}


@pytest.fixture
def quorum_vhost():
    """A vhost of its own: the quorum queues declared here must not meet the classic ones that later
    tests declare under the same names in the session's shared vhost (a redeclare would be refused)."""
    with own_vhost("panel-quorum") as name:
        yield name


@pytest.fixture
def quorum_poison(mongo_uri, quorum_vhost, tmp_path):
    rabbit_vhost = quorum_vhost
    prefix = f"qq{uuid.uuid4().hex[:6]}_"
    amqp = f"pyamqp://guest:guest@127.0.0.1:5672/{rabbit_vhost}"
    env = {**os.environ, "AMQP_URI": amqp, "MONGO_URI": mongo_uri, "DB_PREFIX": prefix, "PYTHONPATH": str(ROOT),
           "AMQP_QUEUE_TYPE": "quorum", "AMQP_DELIVERY_LIMIT": str(LIMIT)}  # fmt: skip
    process = PoisonProcess(amqp, env, tmp_path / "poison.log")
    database = pymongo.MongoClient(mongo_uri)[f"{prefix}poisontest"]
    try:
        yield process, database, rabbit_vhost
    finally:
        process.stop()
        database.client.drop_database(database.name)
        requests.delete(f"{RABBIT_API}/queues/{rabbit_vhost}/{QUEUE}", auth=("guest", "guest"), timeout=10)


def test_quorum_queue_and_a_message_past_the_delivery_limit_goes_to_dead_letters(quorum_poison):
    process, database, vhost = quorum_poison
    process.start()
    wait_for(lambda: _queue(vhost).get("consumers", 0) > 0, timeout=60, what="the poison consumer's queue")
    declared = _queue(vhost)
    assert declared["type"] == "quorum"
    assert declared["arguments"] == {"x-queue-type": "quorum", "x-delivery-limit": LIMIT}
    process.stop()
    wait_for(lambda: _queue(vhost).get("consumers") == 0, timeout=30, what="the consumer to go")

    event = {"event_id": str(uuid.uuid4()), "stream_id": "thing-1", "version": 1, "type": "thing_happened",
             "occurred_at": "2026-01-01T00:00:00Z", "meta": {}, "data": {"n": 1}}  # fmt: skip
    event_dispatcher({"AMQP_URI": process.amqp, "serializer": "json"})(SOURCE, "thing_happened", event)
    # handed out and returned LIMIT times, as a worker dying before its ack would do
    with Connection(process.amqp) as connection:
        queue = Queue(QUEUE, Exchange(f"{SOURCE}.events", type="topic"), no_declare=True)(connection.default_channel)
        for expected in range(LIMIT):
            message = wait_for(lambda q=queue: q.get(no_ack=False), timeout=10, what="the message")
            assert int(message.headers.get("x-delivery-count") or 0) == expected
            message.requeue()

    process.start()
    letter = wait_for(lambda: database["dead_letters"].find_one({"event_id": event["event_id"]}), timeout=60,
                      what="the dead letter")  # fmt: skip
    assert letter["attempts"] == LIMIT and "x-delivery-limit" in letter["error"]
    assert database["attempts"].count_documents({}) == 0, "the handler ran on the last delivery"
    wait_for(lambda: _queue(vhost).get("messages") == 0, timeout=30, what="the queue to be empty")


def test_a_uri_naming_several_nodes_connects_to_one_that_answers():
    nothing_there = f"pyamqp://guest:guest@127.0.0.1:{free_port()}/"
    with Connection(f"{nothing_there};pyamqp://guest:guest@127.0.0.1:5672/", connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=3, interval_start=0, interval_step=0.2)
        assert connection.connected
        assert connection.as_uri().endswith("@127.0.0.1:5672//")
