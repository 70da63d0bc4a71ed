"""Append-only event store on MongoEngine.

One command's events are written as ONE commit document, so a command is
atomic without multi-document transactions. A unique index on
(stream_id, version) — version being the commit's first event version — turns
two writers racing from the same expected version into a ConcurrencyError for
the loser; the head check before the insert rejects any stale expectation.

The head check is skipped when the expected version is known to end a stored
commit (0, the start of every stream, or the end of a commit this store read
or wrote: commits are never changed nor removed, so that stays true). The next
commit then starts right after an existing one: if the stream moved on, a
commit already starts there and the unique index refuses ours (stale); if not,
ours is the head. Only an expectation inside a commit or past the head could be
written without the index noticing, and those are still checked.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Iterator

import mongoengine as me
from pymongo import ReturnDocument

from kernel import clock
from kernel.events import Event, NewEvent, new_id, stamp


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int):
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


_commit_classes: dict[str, type[me.Document]] = {}


def commit_document(alias: str) -> type[me.Document]:
    """The commit document class bound to one service's database."""
    if alias not in _commit_classes:
        _commit_classes[alias] = type(
            f"{alias.title()}EventCommit",
            (me.Document,),
            {
                "id": me.StringField(primary_key=True),
                "stream_id": me.StringField(required=True),
                "version": me.IntField(required=True),
                "last_version": me.IntField(required=True),
                "position": me.IntField(required=True),
                "events": me.ListField(me.DictField()),
                "recorded_at": me.DateTimeField(required=True),
                "published_at": me.DateTimeField(null=True),
                # epoch seconds: a number compares the same on every MongoDB-compatible server
                "publish_lease_until": me.FloatField(null=True),
                "meta": {
                    "db_alias": alias,
                    "collection": "event_commits",
                    "indexes": [
                        {"fields": ["stream_id", "version"], "unique": True},
                        "position",
                        "published_at",
                    ],
                    "auto_create_index": False,
                },
            },
        )
    return _commit_classes[alias]


def _of_stream(stream_id: str) -> dict:
    """The query for one stream's commits. `$eq` means the same as a plain value to MongoDB; nx-27017
    (neosqlite) answers a plain value with array semantics (`= x OR x IN the array`), which no index
    serves, so every stream read scanned every commit (66 ms at 6,000 commits); `$eq` is one index search."""
    return {"stream_id": {"$eq": stream_id}}


# How many streams' known commit ends (and fresh commits) a store keeps (the oldest is forgotten first).
KNOWN_ENDS = 10_000
# How long a commit this store appended counts as fresh for its projections (kernel.projections): well
# under OUTBOX_GRACE_SECONDS, so an outbox sweep never offers a commit its projections still take as fresh.
FRESH_SECONDS = 1.0


class EventStore:
    def __init__(self, alias: str):
        self.alias = alias
        self.Commit = commit_document(alias)
        # stream -> a version known to end one of its stored commits (the head last read or written)
        self._known_ends: dict[str, int] = {}
        self._known_lock = threading.Lock()
        # (stream, first version) -> when this store appended that commit (monotonic clock)
        self._fresh: dict[tuple[str, int], float] = {}
        self._guarded = False  # the unique index is in place (ensure_indexes): only then is a check skipped
        # (stream, first version) -> the commit's _id, for the commits this store wrote or claimed
        self._commit_ids: dict[tuple[str, int], str] = {}
        # published commits not marked yet (batch_marks); None: each is marked at once
        self._marks: list[tuple[str, int]] | None = None

    def ensure_indexes(self) -> None:
        self.Commit.ensure_indexes()
        self._guarded = True

    def current_version(self, stream_id: str) -> int:
        last = self._commits().find_one(_of_stream(stream_id), {"last_version": 1}, sort=[("version", -1)])
        return int(last["last_version"]) if last else 0

    def load(self, stream_id: str, after_version: int = 0) -> list[Event]:
        """The stream's events in order (only those after `after_version`, e.g. a snapshot's).

        Read with pymongo directly: building MongoEngine documents cost two
        thirds of the time of loading a long stream."""
        query = _of_stream(stream_id)
        if after_version:
            query["last_version"] = {"$gt": after_version}
        commits = list(self._commits().find(query, {"events": 1, "last_version": 1}).sort("version", 1))
        if commits:
            self._know_end(stream_id, int(commits[-1]["last_version"]))
        return [Event.from_message(e) for c in commits for e in c["events"] if e["version"] > after_version]

    def _know_end(self, stream_id: str, version: int) -> None:
        with self._known_lock:
            self._known_ends.pop(stream_id, None)
            self._known_ends[stream_id] = version
            if len(self._known_ends) > KNOWN_ENDS:
                del self._known_ends[next(iter(self._known_ends))]

    def appended_recently(self, stream_id: str, version: int) -> bool:
        """Whether this store appended the commit starting at `version` less than FRESH_SECONDS ago."""
        at = self._fresh.get((stream_id, version))
        return at is not None and time.monotonic() - at < FRESH_SECONDS

    def _ends_a_commit(self, stream_id: str, version: int) -> bool:
        """Whether `version` is known to end a stored commit of the stream (0: before the first)."""
        return self._guarded and (version == 0 or self._known_ends.get(stream_id) == version)

    def _commits(self):
        return self.Commit._get_collection()

    # --- snapshots (derived, deletable at any time: see Aggregate.snapshot_every) ---
    def load_snapshot(self, key: str) -> tuple[int, bytes] | None:
        doc = self.Commit._get_db()["snapshots"].find_one({"_id": key})
        return (int(doc["version"]), base64.b64decode(doc["state"])) if doc else None

    def save_snapshot(self, key: str, version: int, state: bytes) -> None:
        """Keep the newest snapshot: an older one never replaces a newer one. The state is stored
        as base64 text: nx-27017 cannot replace a document holding binary data."""
        snapshots = self.Commit._get_db()["snapshots"]
        current = snapshots.find_one({"_id": key}, {"version": 1})
        if current is None or int(current["version"]) < version:
            snapshots.replace_one(
                {"_id": key}, {"_id": key, "version": version, "state": base64.b64encode(state).decode()}, upsert=True
            )

    def append(self, stream_id: str, expected_version: int, new_events: list[NewEvent], meta: dict) -> list[Event]:
        """Store one command's events atomically or raise ConcurrencyError."""
        if not new_events:
            return []
        if not self._ends_a_commit(stream_id, expected_version):
            actual = self.current_version(stream_id)
            if actual != expected_version:
                raise ConcurrencyError(stream_id, expected_version, actual)
        events = stamp(stream_id, expected_version + 1, new_events, meta)
        commit = self.Commit(
            id=new_id(),
            stream_id=stream_id,
            version=expected_version + 1,
            last_version=expected_version + len(events),
            position=self._next_position(),
            events=[e.to_document() for e in events],
            recorded_at=clock.now(),
        )
        try:
            commit.save(force_insert=True)
        except me.NotUniqueError:
            raise ConcurrencyError(stream_id, expected_version, self.current_version(stream_id)) from None
        self._know_end(stream_id, commit.last_version)
        with self._known_lock:
            self._fresh[(stream_id, commit.version)] = time.monotonic()
            if len(self._fresh) > KNOWN_ENDS:
                del self._fresh[next(iter(self._fresh))]
        self._remember_id(stream_id, commit.version, commit.id)
        return events

    def _remember_id(self, stream_id: str, version: int, commit_id: str) -> None:
        with self._known_lock:
            self._commit_ids[(stream_id, version)] = commit_id
            if len(self._commit_ids) > KNOWN_ENDS:
                del self._commit_ids[next(iter(self._commit_ids))]

    def _next_position(self) -> int:
        counters = self.Commit._get_db()["event_positions"]
        doc = counters.find_one_and_update(
            {"_id": "commits"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(doc["n"])

    def all_events(self, batch_size: int = 500) -> Iterator[Event]:
        """Every event in the order it was stored (for rebuilds)."""
        for commit in self._commits().find({}, {"events": 1}).sort("position", 1).batch_size(batch_size):
            for e in commit["events"]:
                yield Event.from_message(e)

    # --- outbox -----------------------------------------------------------
    def mark_published(self, events: list[Event]) -> None:
        """The commit of `events` was published: marked at once, or noted for `flush_marks` (batch_marks)."""
        if not events:
            return
        key = (events[0].stream_id, events[0].version)
        with self._known_lock:
            if self._marks is not None and key in self._commit_ids:
                self._marks.append(key)
                return
        self._commits().update_one(
            {**_of_stream(key[0]), "version": {"$eq": key[1]}}, {"$set": {"published_at": clock.now()}}
        )

    def batch_marks(self) -> None:
        """From now on a published commit is only noted; `flush_marks` (a service's dependency calls it every
        OUTBOX_MARK_MS) marks all noted in one write. A note lost with the process only means the outbox
        sweep publishes that commit again after OUTBOX_GRACE_SECONDS, and consumers apply an event once."""
        with self._known_lock:
            if self._marks is None:
                self._marks = []

    def flush_marks(self) -> int:
        """Mark every noted commit published in one write; how many. On failure they stay noted."""
        with self._known_lock:
            if not self._marks:
                return 0
            noted, self._marks = self._marks, []
            ids = {key: self._commit_ids.pop(key) for key in noted if key in self._commit_ids}
        try:
            self._commits().update_many({"_id": {"$in": list(ids.values())}}, {"$set": {"published_at": clock.now()}})
        except Exception:
            with self._known_lock:  # tried again at the next flush
                self._commit_ids.update(ids)
                self._marks[:0] = list(ids)
            raise
        return len(ids)

    def claim_unpublished(
        self, older_than: dt.datetime, lease_seconds: int = 30, limit: int = 100
    ) -> list[list[Event]]:
        """Claim stored-but-unpublished commits (after a crash) for re-publishing.

        A lease keeps two sweeping instances from publishing the same commit at
        once; consumers are idempotent, so a rare double publish is harmless.
        """
        now = clock.now().timestamp()
        claimed = []
        candidates = self.Commit.objects(published_at=None, recorded_at__lt=older_than).order_by("position")
        for commit in candidates.limit(limit):
            lease_free = me.Q(publish_lease_until=None) | me.Q(publish_lease_until__lt=now)
            won = self.Commit.objects(me.Q(id=commit.id, published_at=None) & lease_free).update_one(
                set__publish_lease_until=now + lease_seconds
            )
            if won:
                claimed.append([Event.from_message(e) for e in commit.events])
                self._remember_id(commit.stream_id, commit.version, commit.id)
        return claimed
