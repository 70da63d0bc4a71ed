"""The gateway's own read models, in its own database `<DB_PREFIX>gateway` (issue #17).

- `dashboard_views`: per account and dashboard source (`<account_id>:<key>`), what the source last answered
  (`data`, `sent_at` = when that answer was asked for, epoch seconds; one row per source, so answers never
  overwrite each other), and `<account_id>:applied`: the correlation ids of the latest commands whose events
  the view has caught up with (read your own writes). The sources that are the same for every customer
  (the offer, the news of each language: PUBLIC_KEYS) have one row each, owned by PUBLIC (`*:<key>`), read
  with the account's rows in the same query: a news item or an offer changes one row, not one per account.
- `sessions`: per session token (its SHA-256), the account `accounts.authenticate` answered, until
  `valid_until`; `invalid_at` once an accounts event made it stale (logout, ended sessions, a new
  password, a changed profile or contact); `pending`: the correlation ids of this session's latest commands.
- `services_seen`: per service, when it last answered the view process's health check (`ok_at`).

Kept up to date by `python -m gateway.readmodel` (gateway/readmodel/__main__.py), which consumes every
service's events from its durable queue. Everything here is derived: dropping the database loses nothing
(`make rebuild SERVICE=gateway`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from typing import Any

import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

from kernel import settings

# dashboard source -> what it is asked (gateway.dashboard.SOURCES names its sections); news per language
LANGUAGES = ("pl", "en")
PUBLIC = "*"  # the owner of the rows every account reads
PUBLIC_KEYS = frozenset({"offer", *(f"news_{language}" for language in LANGUAGES)})
APPLIED_KEPT = 50  # correlation ids remembered per account
PENDING_KEPT = 10  # per session
SESSION_SECONDS = float(os.environ.get("SESSION_VIEW_SECONDS", "300"))
SEEN_SECONDS = 3.0  # a service not seen answering for longer is taken as away: its sections say since when

_local = threading.local()
_clients: dict[int, pymongo.MongoClient] = {}
_lock = threading.Lock()


def database() -> Any:
    """`<DB_PREFIX>gateway` through one client per process (made after gunicorn forked)."""
    pid = os.getpid()
    with _lock:
        if pid not in _clients:
            _clients[pid] = pymongo.MongoClient(settings.MONGO_URI, serverSelectionTimeoutMS=2000,
                                                connectTimeoutMS=2000, tz_aware=False)  # fmt: skip
    return _clients[pid][settings.database_name("gateway")]


_down_until = 0.0
DOWN_SECONDS = 30.0


def available() -> bool:
    """False for DOWN_SECONDS after the database failed a request: pages then ask the services at once
    instead of each waiting for the server selection timeout."""
    return time.monotonic() >= _down_until


def mark_down() -> None:
    global _down_until
    _down_until = time.monotonic() + DOWN_SECONDS


def source_key(source: str, language: str) -> str:
    return f"news_{language if language in LANGUAGES else 'pl'}" if source == "news" else source


def owner_of(key: str, account_id: str) -> str:
    return PUBLIC if key in PUBLIC_KEYS else account_id


# --- dashboard view: one row per account and source, and one of applied commands ----------------------
def view(account_id: str) -> dict[str, Any] | None:
    """{"sources": {key: {"data", "sent_at"}}, "applied": [...]} with the public rows, read in one query;
    None if the account is unknown."""
    rows = list(database()["dashboard_views"].find({"account_id": {"$in": [account_id, PUBLIC]}}))
    if not any(row["account_id"] == account_id for row in rows):
        return None
    sources = {row["key"]: row for row in rows if row["key"] != "applied"}
    applied = next((row.get("applied") or [] for row in rows if row["key"] == "applied"), [])
    return {"sources": sources, "applied": applied}


def record(account_id: str, answers: dict[str, Any], sent_at: float, correlation: str | None = None) -> None:
    """Store each source's answer unless a newer one (asked later) is there already; a public source's
    answer in the public row."""
    views = database()["dashboard_views"]
    for key, data in answers.items():
        owner = owner_of(key, account_id)
        row = {"account_id": owner, "key": key, "data": data, "sent_at": sent_at}
        # twice: a first write of the row may race ours (the second finds it); a DuplicateKeyError the
        # second time means the view holds a newer answer for this source
        for _ in range(2):
            with contextlib.suppress(DuplicateKeyError):
                views.update_one({"_id": f"{owner}:{key}", "sent_at": {"$lt": sent_at}}, {"$set": row}, upsert=True)
                break
    if correlation:
        mark_applied(account_id, correlation)


def mark_applied(account_id: str, correlation: str) -> None:
    """The view is caught up with this command's events (its answers asked after them are stored)."""
    database()["dashboard_views"].update_one(
        {"_id": f"{account_id}:applied"},
        {"$set": {"account_id": account_id, "key": "applied"},
         "$push": {"applied": {"$each": [correlation], "$slice": -APPLIED_KEPT}}},
        upsert=True,
    )  # fmt: skip


def account_ids() -> list[str]:
    rows = database()["dashboard_views"].find({}, {"account_id": 1})
    return sorted({row["account_id"] for row in rows} - {PUBLIC})


def session_account_ids() -> list[str]:
    return sorted({doc["account_id"] for doc in database()["sessions"].find({}, {"account_id": 1})})


# --- services seen -------------------------------------------------------------------------------
def saw(service: str, at: float) -> None:
    database()["services_seen"].update_one({"_id": service}, {"$set": {"ok_at": at}}, upsert=True)


def away_services() -> set[str]:
    """Services the view process has not seen answering lately, read at most once a second per process."""
    now = time.monotonic()
    cached = getattr(_local, "seen", None)
    if cached and now - cached[0] < 1.0:
        return cached[1]
    try:
        seen = {doc["_id"]: doc.get("ok_at", 0) for doc in database()["services_seen"].find()}
    except PyMongoError:
        seen = {}
    wall = time.time()
    away = {service for service in settings.SERVICES if wall - seen.get(service, 0) > SEEN_SECONDS}
    _local.seen = (now, away)
    return away


# --- session view --------------------------------------------------------------------------------
def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session(token: str) -> dict[str, Any] | None:
    """The cached session of `token` while it is valid, else None (ask accounts)."""
    doc = database()["sessions"].find_one({"_id": token_key(token)})
    if not doc or doc.get("invalid_at") or doc.get("valid_until", 0) < time.time() or not doc.get("account"):
        return None
    return doc


def pending_of(token: str | None) -> list[str]:
    if not token:
        return []
    doc = database()["sessions"].find_one({"_id": token_key(token)}, {"pending": 1})
    return list((doc or {}).get("pending") or [])


def remember_session(token: str, account: dict[str, Any], asked_at: float) -> None:
    """Cache what accounts answered at `asked_at`, unless an accounts event made the session stale since."""
    sessions = database()["sessions"]
    key = token_key(token)
    fields = {"account": account, "account_id": account["account_id"], "session_id": account.get("session_id"),
              "valid_until": time.time() + SESSION_SECONDS}  # fmt: skip
    # invalid_at is 0 while valid (a number always: nx-27017 mismatches `_id` combined with `$or`)
    done = sessions.update_one({"_id": key, "invalid_at": {"$lt": asked_at}}, {"$set": {**fields, "invalid_at": 0}})
    if done.matched_count == 0 and not sessions.find_one({"_id": key}, {"_id": 1}):
        with contextlib.suppress(DuplicateKeyError):  # another request cached it meanwhile
            sessions.insert_one({"_id": key, **fields, "invalid_at": 0, "pending": []})


def invalidate_sessions(account_id: str, at: float) -> int:
    """Every cached session of the account is asked again (an accounts event changed what it says)."""
    return database()["sessions"].update_many({"account_id": account_id}, {"$set": {"invalid_at": at}}).modified_count


def note_command(token: str, correlation: str) -> None:
    """A command of this session went through: its next dashboard waits for the view to apply it, and its
    next request asks accounts again (the command may have changed what the session's account says)."""
    database()["sessions"].update_one(
        {"_id": token_key(token)},
        {"$push": {"pending": {"$each": [correlation], "$slice": -PENDING_KEPT}}, "$set": {"invalid_at": time.time()}},
    )


def clear_pending(token: str, correlations: list[str]) -> None:
    if correlations:
        database()["sessions"].update_one({"_id": token_key(token)}, {"$pull": {"pending": {"$in": correlations}}})


def drop() -> None:
    for name in ("dashboard_views", "sessions"):  # services_seen is no view of events
        database()[name].drop()
    ensure_indexes()


def ensure_indexes() -> None:
    database()["sessions"].create_index("account_id")
    database()["dashboard_views"].create_index("account_id")
