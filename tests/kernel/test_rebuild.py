"""The rebuild path (Projection.replay / rebuild, `python -m kernel rebuild`) ends where the live path does.

Same read models, same checkpoints; after it a live `apply` of an old event is a
no-op, and a checkpoint a live worker wrote meanwhile is neither lowered nor applied twice.
"""

from __future__ import annotations

import mongoengine as me
import pyotp
import pytest

import kernel.__main__ as kernel_main
from kernel import db, projections
from kernel.dependencies import EventsApi
from kernel.events import NewEvent
from kernel.eventstore import EventStore
from kernel.projections import Projection
from services.accounts import domain
from services.accounts.domain import Account, account_stream
from services.accounts.projections import PROJECTIONS as ACCOUNT_PROJECTIONS

# The rebuild writes in bulk (UpdateOne with sort, pymongo 4.9+), which mongomock lacks: real server only.
INTEGRATION = True

ALIAS = "rebuildtest"


class Tally(me.Document):
    id = me.StringField(primary_key=True)
    total = me.IntField(default=0)  # incremented: applying an event twice shows
    last = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "tallies_view"}


tallying = Projection("tallying", ALIAS, [Tally])


@tallying.on("added")
def _added(event):
    Tally.objects(id=event.stream_id).update_one(inc__total=event.data["n"], set__last=event.event_id, upsert=True)


def _state(alias: str, collections: list[str]) -> dict[str, list[dict]]:
    database = db.database(alias)
    return {name: sorted(database[name].find(), key=lambda d: str(d["_id"])) for name in collections}


@pytest.fixture
def live(mongo_alias, monkeypatch):
    """Five streams projected live, commits of one and several events, some events without a handler."""
    monkeypatch.setattr(projections, "REBUILD_BATCH", 4)  # many batches, streams split across them
    mongo_alias(ALIAS)
    store = EventStore(ALIAS)
    store.ensure_indexes()
    events_api = EventsApi(ALIAS, store, [tallying], lambda kind, message: None)
    for i in range(1, 23):
        stream = f"t-{i % 5}"
        new = [NewEvent("added", {"n": i})] + ([NewEvent("noted", {}), NewEvent("added", {"n": 100})] if i % 3 else [])
        events_api.append(stream, store.current_version(stream), new, {})
    return store


def test_a_rebuild_gives_the_live_read_model_and_checkpoints(live):
    before = _state(ALIAS, ["tallies_view", "projection_checkpoints"])
    assert len(before["projection_checkpoints"]) == 5

    replayed = tallying.rebuild(live)

    assert replayed == sum(1 for _ in live.all_events())
    assert _state(ALIAS, ["tallies_view", "projection_checkpoints"]) == before


def test_after_a_rebuild_a_live_apply_of_an_old_event_is_a_no_op(live):
    tallying.rebuild(live)
    after = _state(ALIAS, ["tallies_view", "projection_checkpoints"])
    events = list(live.all_events())

    tallying.apply(events[0], live)  # e.g. the outbox sweep offering it again
    tallying.apply_all(events, live)
    tallying.replay(events)

    assert _state(ALIAS, ["tallies_view", "projection_checkpoints"]) == after


def test_a_rebuild_skips_what_a_live_worker_applied_meanwhile_and_keeps_its_checkpoint(live):
    before = _state(ALIAS, ["tallies_view", "projection_checkpoints"])
    tallying.reset()
    head = live.load("t-3")[-1]
    tallying.apply(head, live)  # a live worker projects t-3 (filling its gap from the store) mid-rebuild

    tallying.replay(live.all_events())

    assert _state(ALIAS, ["tallies_view", "projection_checkpoints"]) == before


def test_a_rebuild_never_lowers_a_checkpoint_a_live_worker_raised_within_its_batch(mongo_alias):
    mongo_alias(ALIAS)
    store = EventStore(ALIAS)
    store.ensure_indexes()
    store.append("r-1", 0, [NewEvent("seen", {}), NewEvent("seen", {})], {})
    racing = Projection("racing", ALIAS, [])

    @racing.on("seen")
    def _seen(event):  # meanwhile a live worker projects v3..v5, appended after the rebuild read the store
        db.database(ALIAS)["projection_checkpoints"].update_one({"_id": "racing:r-1"}, {"$set": {"version": 5}},
                                                                upsert=True)  # fmt: skip

    racing.rebuild(store)
    assert db.database(ALIAS)["projection_checkpoints"].find_one({"_id": "racing:r-1"})["version"] == 5


def test_a_failing_handler_leaves_the_checkpoints_of_what_was_applied(mongo_alias):
    mongo_alias(ALIAS)
    store = EventStore(ALIAS)
    store.ensure_indexes()
    store.append("f-1", 0, [NewEvent("ok", {}), NewEvent("boom", {})], {})
    failing = Projection("failing", ALIAS, [])
    failing.on("ok")(lambda event: None)

    @failing.on("boom")
    def _boom(event):
        raise RuntimeError("read model unavailable")

    with pytest.raises(RuntimeError):
        failing.rebuild(store)
    assert db.database(ALIAS)["projection_checkpoints"].find_one({"_id": "failing:f-1"})["version"] == 1


def test_python_m_kernel_rebuild_gives_the_accounts_read_models_of_the_live_path(mongo_alias, monkeypatch, capsys):
    mongo_alias("accounts")
    monkeypatch.setattr(projections, "REBUILD_BATCH", 3)
    monkeypatch.setattr(kernel_main.db, "connect", lambda service: None)  # the fixture connected it
    store = EventStore("accounts")
    store.ensure_indexes()
    for projection in ACCOUNT_PROJECTIONS:
        for document in projection.documents:
            document.ensure_indexes()
    events_api = EventsApi("accounts", store, ACCOUNT_PROJECTIONS, lambda kind, message: None)
    profile = {"first_name": "Jan", "last_name": "Kowal", "phone": "", "language": "pl"}
    contact = {"first_name": "Ewa", "last_name": "Płatnik", "email": "ewa@example.pl", "phone": "", "language": "pl",
               "address": {}, "login": True, "permissions": ["invoices.view"], "categories": ["billing"]}  # fmt: skip
    for n in range(3):
        stream = account_stream(f"a-{n}")

        def step(decide, stream=stream):
            account = Account.from_events(stream, store.load(stream))
            return events_api.append(stream, account.version, decide(account), {})

        requested = step(lambda a, n=n: a.register(f"jan{n}@example.pl", "hash", profile))[1]
        step(lambda a, token=requested.data["token"]: a.verify_email(token))
        step(lambda a: a.update_settings({"first_name": "Janek", "mailing_list": True}))
        step(lambda a, n=n: a.add_contact(f"c-{n}", {**contact, "email": f"ewa{n}@example.pl"}, {"type": "account"}))
        secret = pyotp.random_base32()
        step(lambda a, s=secret: a.enable_two_factor(s, pyotp.TOTP(s).now(), domain.new_recovery_codes()))
    collections = sorted(db.database("accounts").list_collection_names())
    collections = [c for c in collections if c not in ("event_commits", "event_positions")]
    before = _state("accounts", collections)
    assert before["accounts"] and before["contacts"] and before["projection_checkpoints"]

    assert kernel_main.rebuild("accounts") == 0

    assert "rebuilt accounts" in capsys.readouterr().out
    assert _state("accounts", collections) == before
