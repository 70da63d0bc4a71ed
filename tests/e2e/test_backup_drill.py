"""Backup drill: destroy services' databases under the running stack, restore from the last backup,
let the broker replay what it held, and compare the read models with those taken before.

support (tickets, with an attachment file) and notifications (the e-mail history) are destroyed while the
gateway and the other services keep serving. The read models after the restore equal those before,
except for documents explained by the events stored after the backup (lost: listed) or by the events the
broker held for the stopped services and delivered once they were back (replayed)."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid

import pymongo
import pytest
import requests

from tests.e2e.helpers import PASSWORD, bearer, register_verified, unique_email, wait_for
from tests.faults.conftest import isolated_stack  # noqa: F401 (a stack of its own: this test destroys databases)
from tools import backup
from tools.devstack import ROOT

DRILLED = ("support", "notifications")
TICKET = {"department": "technical", "priority": "low", "subject": "Kopia zapasowa", "message": "Przed kopią."}
ATTACHMENT = b"log line before the backup\n" * 40


def _database(stack, service: str):
    return pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.env['DB_PREFIX']}{service}"]


def _read_models(stack) -> dict[str, dict[str, dict]]:
    """Every read-model document of the drilled services, by collection and _id (checkpoints aside)."""
    models = {}
    for service in DRILLED:
        database = _database(stack, service)
        for name in sorted(backup.derived_collections(service) - backup.ALWAYS_DERIVED):
            models[f"{service}.{name}"] = {str(d["_id"]): d for d in database[name].find()}
    return models


def _events(stack) -> dict[str, dict]:
    events = {}
    for service in DRILLED:
        for commit in _database(stack, service)["event_commits"].find({}, {"events": 1}):
            for event in commit["events"]:
                events[event["event_id"]] = {**event, "service": service}
    return events


def _ids(event: dict) -> set[str]:
    """What a read-model document touched by `event` may be keyed by."""
    stream = event["stream_id"]
    values = {v for v in (event.get("data") or {}).values() if isinstance(v, str)}
    return {event["event_id"], stream, stream.partition("-")[2], *values}


def _differences(before: dict, after: dict) -> list[tuple[str, str]]:
    changed = []
    for collection in before.keys() | after.keys():
        old, new = before.get(collection, {}), after.get(collection, {})
        changed += [(collection, key) for key in old.keys() | new.keys() if old.get(key) != new.get(key)]
    return sorted(changed)


def _mails(stack, email: str) -> int:
    return _database(stack, "notifications")["sent_mails"].count_documents({"to": email})


def _stop(stack) -> None:
    for service in DRILLED:
        assert stack.stop_process(service), f"{service} was not running"


def _start(stack) -> None:
    for service in DRILLED:
        stack.start_process(service, stack.service_argv(service))
    stack.wait_healthy()


def test_restore_from_the_last_backup_loses_only_what_came_after_it(isolated_stack, tmp_path):  # noqa: F811
    stack, base, mail = isolated_stack, isolated_stack.gateway_url, isolated_stack.var / "mail"
    target = backup.Target(stack.env["MONGO_URI"], stack.env["DB_PREFIX"], ROOT / "var" / "attachments")

    before_email, token = register_verified(base, mail)
    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), data=TICKET, timeout=15,
                           files=[("attachments", ("log.txt", ATTACHMENT, "text/plain"))])  # fmt: skip
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    wait_for(lambda: _mails(stack, before_email) >= 1, timeout=30, what="the first account's mail in the history")

    archive = backup.backup(target, tmp_path / "backups")
    manifest, _ = backup.read_archive(archive)
    assert manifest["attachments"] == {"count": 1, "missing": []}

    # after the backup: a reply to the ticket and another account's mails (lost by the restore)
    reply = requests.post(f"{base}/api/v1/tickets/{ticket['ticket_id']}/replies", headers=bearer(token),
                          json={"message": "Po kopii."}, timeout=15)  # fmt: skip
    assert reply.status_code == 201, reply.text
    after_email, _ = register_verified(base, mail)
    wait_for(lambda: _mails(stack, after_email) >= 1, timeout=30, what="the second account's mail in the history")
    read_before, events_before = _read_models(stack), _events(stack)

    # destroyed: the two services stop, their databases and the attachment file are gone; the panel serves on
    _stop(stack)
    client = pymongo.MongoClient(stack.env["MONGO_URI"])
    for service in DRILLED:
        client.drop_database(f"{stack.env['DB_PREFIX']}{service}")
    attachment_id = next(iter(backup._attachment_ids(ticket)), None) or _attachment_of(events_before)
    attachment_file = target.attachments / attachment_id[:2] / attachment_id
    attachment_file.unlink()
    held_email = _register_unverified(base)  # its events wait on the broker for notifications

    started = time.perf_counter()
    report = backup.restore(target, backup.latest(tmp_path / "backups"), DRILLED)
    restore_seconds = time.perf_counter() - started
    _start(stack)
    wait_for(lambda: _mails(stack, held_email) >= 1, timeout=60, what="the held registration's mail (replayed)")

    read_after, events_after = _read_models(stack), _events(stack)
    lost = [events_before[e] for e in events_before.keys() - events_after.keys()]
    replayed = [events_after[e] for e in events_after.keys() - events_before.keys()]
    explained = set().union(*(_ids(e) for e in lost + replayed)) if lost + replayed else set()
    differences = _differences(read_before, read_after)
    print(f"\nbackup drill: restored {report} in {restore_seconds:.2f}s; "
          f"{sum(len(v) for v in read_before.values())} read-model documents compared")  # fmt: skip
    for event in sorted(lost, key=lambda e: e["occurred_at"]):
        print(f"  lost (after the backup): {event['service']} {event['type']} {event['stream_id']} v{event['version']}")
    for event in sorted(replayed, key=lambda e: e["occurred_at"]):
        print(f"  replayed from the broker: {event['service']} {event['type']} {event['stream_id']}")
    print(f"  read-model documents that differ: {differences}")

    assert {e["service"] for e in lost} == set(DRILLED), "the reply and the second account's mails were after it"
    assert all(e["data"].get("to") == after_email for e in lost if e["type"] == "mail_sent")
    assert replayed and all(e["data"].get("to") == held_email for e in replayed if e["type"] == "mail_sent")
    unexplained = [(c, key) for c, key in differences if key not in explained]
    assert not unexplained, f"read models differ beyond the events after the backup: {unexplained}"
    assert all(any(key in _ids(e) for _, key in differences) for e in lost if e["type"] == "mail_sent")
    assert attachment_file.read_bytes() == ATTACHMENT
    shown = requests.get(f"{base}/api/v1/tickets/{ticket['ticket_id']}", headers=bearer(token), timeout=15)
    assert shown.status_code == 200
    messages = json.dumps(shown.json()["messages"], ensure_ascii=False)
    assert TICKET["message"] in messages and "Po kopii." not in messages, "the reply came after the backup"
    download = requests.get(f"{base}/api/v1/tickets/{ticket['ticket_id']}/attachments/{attachment_id}",
                            headers=bearer(token), timeout=15)  # fmt: skip
    assert download.status_code == 200 and download.content == ATTACHMENT


def _attachment_of(events: dict[str, dict]) -> str:
    return next(a for e in events.values() for a in backup._attachment_ids(e.get("data")))


def _register_unverified(base: str) -> str:
    email = unique_email("held")
    body = {"email": email, "password": PASSWORD, "first_name": "Jan", "last_name": "Kopia", "language": "pl"}
    created = requests.post(f"{base}/api/v1/auth/register", json=body, timeout=30)
    assert created.status_code == 201, created.text
    return email


def test_an_archive_that_was_altered_or_a_database_in_use_is_refused(mongo_uri, tmp_path):
    target = backup.Target(mongo_uri, f"bk{uuid.uuid4().hex[:6]}_", tmp_path / "attachments")
    client = pymongo.MongoClient(mongo_uri)
    try:
        database = client[f"{target.prefix}support"]
        database["event_commits"].insert_one({"_id": "c1", "position": 1, "events": []})
        database["event_positions"].insert_one({"_id": "commits", "n": 1})
        archive = backup.backup(target, tmp_path / "out", services=["support"])
        with pytest.raises(backup.BackupError, match="not empty"):
            backup.restore(target, archive)
        assert backup.read_archive(archive)[0]["services"]["support"]["collections"]["event_commits"] == 1
        altered = tmp_path / "altered.tar.gz"
        with tarfile.open(archive) as src, tarfile.open(altered, "w:gz") as dst:
            for member in src.getmembers():
                data = src.extractfile(member).read()
                if member.name == "support/event_commits.jsonl":
                    data = data.replace(b"c1", b"c2")
                dst.addfile(member, io.BytesIO(data))
        with pytest.raises(backup.BackupError, match="checksum"):
            backup.read_archive(altered)
    finally:
        client.drop_database(f"{target.prefix}support")
