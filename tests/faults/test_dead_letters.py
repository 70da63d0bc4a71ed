"""A poison message is set aside in `dead_letters` and does not block the queue behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pymongo
import pytest
import requests
from nameko.standalone.events import event_dispatcher

from tests.conftest import RABBIT_API
from tests.e2e.helpers import wait_for
from tests.faults.poison_service import SOURCE
from tools.devstack import ROOT

CONSUMER = "tests.faults.poison_service.on_thing"


@pytest.fixture
def poison_service(mongo_uri, rabbit_vhost, tmp_path):
    prefix = f"dl{uuid.uuid4().hex[:6]}_"
    amqp = f"pyamqp://guest:guest@127.0.0.1:5672/{rabbit_vhost}"
    env = {**os.environ, "AMQP_URI": amqp, "MONGO_URI": mongo_uri, "DB_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "poison.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "tests.faults.poison_service:PoisonService",
         "--config", "tests/faults/poison.yml"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    database = pymongo.MongoClient(mongo_uri)[f"{prefix}poisontest"]
    try:
        wait_for(lambda: _consumers(rabbit_vhost) > 0, timeout=60, what="the poison consumer's queue")
        yield amqp, database
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        database.client.drop_database(database.name)


def _consumers(vhost: str) -> int:
    queues = requests.get(f"{RABBIT_API}/queues/{vhost}", auth=("guest", "guest"), timeout=10).json()
    return sum(q.get("consumers", 0) for q in queues if "poisontest" in q["name"])


def _event(**data) -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": "thing-1", "version": 1, "type": "thing_happened",
            "occurred_at": "2026-01-01T00:00:00Z", "meta": {}, "data": data}  # fmt: skip


def test_malformed_and_always_failing_messages_are_set_aside_and_the_next_event_is_handled(poison_service):
    amqp, database = poison_service
    dispatch = event_dispatcher({"AMQP_URI": amqp, "serializer": "json"})
    malformed = {"hello": "no envelope here"}
    failing, good = _event(fail=True), _event(n=7)
    for message in (malformed, failing, good):
        dispatch(SOURCE, "thing_happened", message)

    wait_for(lambda: database["handled"].find_one({"_id": good["event_id"]}), timeout=30, what="the good event")
    wait_for(lambda: database["dead_letters"].count_documents({}) == 2, timeout=30, what="two dead letters")
    letters = {d["event_id"]: d for d in database["dead_letters"].find()}
    assert letters[failing["event_id"]]["attempts"] == 3
    assert "always fails" in letters[failing["event_id"]]["error"]
    assert letters[None]["attempts"] == 0 and "no envelope here" in letters[None]["message"]
    assert {d["consumer"] for d in letters.values()} == {CONSUMER}
    assert database["attempts"].count_documents({"event_id": failing["event_id"]}) == 3
    # the failed event's processed marker is gone, so replaying it from the dead letter applies it
    assert database["processed_events"].find_one({"_id": f"{CONSUMER}:{failing['event_id']}"}) is None
