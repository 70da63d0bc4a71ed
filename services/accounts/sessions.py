"""Operational state beside the events: sessions, login throttling, e-mail claims."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import mongoengine as me

from kernel import clock
from services.accounts.projections import ALIAS

SESSION_TTL = dt.timedelta(days=14)
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 20
CLAIM_STALE_AFTER = dt.timedelta(minutes=2)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Session(me.Document):
    id = me.StringField(primary_key=True)  # sha256 of the bearer token
    session_id = me.StringField(required=True)  # public, safe to show and log
    account_id = me.StringField(required=True)
    ip = me.StringField()
    user_agent = me.StringField()
    created_at = me.DateTimeField()
    expires_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "sessions", "indexes": ["account_id"], "auto_create_index": False}


class LoginFailure(me.Document):
    key = me.StringField(required=True)  # "account:<id>" or "ip:<address>"
    at = me.DateTimeField(required=True)
    meta = {"db_alias": ALIAS, "collection": "login_failures", "indexes": [("key", "at")], "auto_create_index": False}


class EmailClaim(me.Document):
    """One account per e-mail address: a unique claim taken before any event."""

    id = me.StringField(primary_key=True)  # lower-cased e-mail
    account_id = me.StringField(required=True)
    claimed_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "email_claims", "auto_create_index": False}


OPERATIONAL_DOCUMENTS = (Session, LoginFailure, EmailClaim)


def open_session(account_id: str, ip: str | None, user_agent: str | None) -> tuple[str, Session]:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session = Session(
        id=_hash(token), session_id=secrets.token_hex(8), account_id=account_id, ip=ip,
        user_agent=(user_agent or "")[:200], created_at=now, expires_at=now + SESSION_TTL,
    )  # fmt: skip
    session.save(force_insert=True)
    return token, session


def find_session(token: str) -> Session | None:
    if not token:
        return None
    return Session.objects(id=_hash(token), expires_at__gt=clock.now()).first()


def close_session(token: str) -> Session | None:
    session = Session.objects(id=_hash(token or "")).first()
    if session:
        session.delete()
    return session


def close_all_sessions(account_id: str) -> int:
    return Session.objects(account_id=account_id).delete()


def is_throttled(account_id: str | None, ip: str | None) -> bool:
    since = clock.now() - THROTTLE_WINDOW
    if (
        account_id
        and LoginFailure.objects(key=f"account:{account_id}", at__gt=since).count() >= MAX_FAILURES_PER_ACCOUNT
    ):
        return True
    return bool(ip) and LoginFailure.objects(key=f"ip:{ip}", at__gt=since).count() >= MAX_FAILURES_PER_IP


def record_failure(account_id: str | None, ip: str | None) -> None:
    now = clock.now()
    keys = ([f"account:{account_id}"] if account_id else []) + ([f"ip:{ip}"] if ip else [])
    for key in keys:
        LoginFailure(key=key, at=now).save()


def clear_failures(account_id: str) -> None:
    LoginFailure.objects(key=f"account:{account_id}").delete()
