"""Operational state beside the events: sessions, login throttling, e-mail claims,
two-factor set-up and login challenges, the key that signs unsubscribe links."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets

import mongoengine as me

from kernel import clock
from services.accounts.projections import ALIAS

SESSION_TTL = dt.timedelta(days=14)
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 20
CLAIM_STALE_AFTER = dt.timedelta(minutes=2)
CHALLENGE_TTL = dt.timedelta(minutes=5)
SETUP_TTL = dt.timedelta(minutes=30)
MAIL_REQUEST_WINDOW = dt.timedelta(hours=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Session(me.Document):
    id = me.StringField(primary_key=True)  # sha256 of the bearer token
    session_id = me.StringField(required=True)  # public, safe to show and log
    account_id = me.StringField(required=True)
    contact_id = me.StringField()  # set when a contact logged in (acting for account_id)
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
    contact_id = me.StringField()  # a contact's login e-mail
    claimed_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "email_claims", "auto_create_index": False}


class TwoFactorSetup(me.Document):
    """A TOTP secret shown to the owner but not yet confirmed with a code."""

    id = me.StringField(primary_key=True)  # account id
    secret = me.StringField(required=True)
    started_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "two_factor_setups", "auto_create_index": False}


class LoginChallenge(me.Document):
    """The password was right; the second factor is still owed."""

    id = me.StringField(primary_key=True)  # sha256 of the challenge handed to the client
    account_id = me.StringField(required=True)
    ip = me.StringField()
    expires_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "login_challenges", "auto_create_index": False}


class MailRequest(me.Document):
    """A request that may send a mail (registration, password reset, verification resend), per client address."""

    key = me.StringField(required=True)  # "ip:<address>"
    at = me.DateTimeField(required=True)
    meta = {"db_alias": ALIAS, "collection": "mail_requests", "indexes": [("key", "at")], "auto_create_index": False}


class SigningKey(me.Document):
    id = me.StringField(primary_key=True)  # purpose
    key = me.StringField(required=True)
    meta = {"db_alias": ALIAS, "collection": "signing_keys", "auto_create_index": False}


OPERATIONAL_DOCUMENTS = (Session, LoginFailure, EmailClaim, TwoFactorSetup, LoginChallenge, MailRequest, SigningKey)


def open_session(account_id: str, ip: str | None, user_agent: str | None,
                 contact_id: str | None = None) -> tuple[str, Session]:  # fmt: skip
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session = Session(
        id=_hash(token), session_id=secrets.token_hex(8), account_id=account_id, contact_id=contact_id, ip=ip,
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
    """The owner's own sessions (a new password is theirs; contacts keep theirs)."""
    return Session.objects(account_id=account_id, contact_id=None).delete()


def live_sessions(account_id: str) -> list[Session]:
    """The owner's own sessions (a contact's sessions end when the contact is removed)."""
    return list(
        Session.objects(account_id=account_id, contact_id=None, expires_at__gt=clock.now()).order_by("-created_at")
    )


def close_session_by_id(account_id: str, session_id: str) -> Session | None:
    session = Session.objects(account_id=account_id, contact_id=None, session_id=session_id).first()
    if session:
        session.delete()
    return session


def close_other_sessions(account_id: str, keep_session_id: str) -> int:
    return Session.objects(account_id=account_id, contact_id=None, session_id__ne=keep_session_id).delete()


def close_contact_sessions(contact_id: str) -> int:
    return Session.objects(contact_id=contact_id).delete()


def open_challenge(account_id: str, ip: str | None) -> str:
    challenge = secrets.token_urlsafe(32)
    LoginChallenge(id=_hash(challenge), account_id=account_id, ip=ip, expires_at=clock.now() + CHALLENGE_TTL).save()
    return challenge


def find_challenge(challenge: str) -> LoginChallenge | None:
    return LoginChallenge.objects(id=_hash(challenge or ""), expires_at__gt=clock.now()).first()


def close_challenge(challenge: LoginChallenge) -> None:
    challenge.delete()


def mail_request_allowed(ip: str | None, limit: int) -> bool:
    """Count one more mail-sending request from `ip`: True while fewer than `limit` came in the last hour.
    Every request is counted, refused ones too, so a client that keeps asking stays refused."""
    if not ip:
        return True
    now, key = clock.now(), f"ip:{ip}"
    MailRequest.objects(key=key, at__lt=now - MAIL_REQUEST_WINDOW).delete()
    earlier = MailRequest.objects(key=key, at__gt=now - MAIL_REQUEST_WINDOW).count()
    MailRequest(key=key, at=now).save()
    return earlier < limit


def start_two_factor_setup(account_id: str, secret: str) -> None:
    TwoFactorSetup.objects(id=account_id).delete()
    TwoFactorSetup(id=account_id, secret=secret, started_at=clock.now()).save(force_insert=True)


def pending_two_factor_secret(account_id: str) -> str | None:
    setup = TwoFactorSetup.objects(id=account_id, started_at__gt=clock.now() - SETUP_TTL).first()
    return setup.secret if setup else None


def finish_two_factor_setup(account_id: str) -> None:
    TwoFactorSetup.objects(id=account_id).delete()


# --- signed unsubscribe links: "<account id>.<hmac>", not guessable, no expiry -------
def _signing_key(purpose: str) -> bytes:
    found = SigningKey.objects(id=purpose).first()
    if not found:
        with contextlib.suppress(me.NotUniqueError):  # another worker made it first: use theirs
            SigningKey(id=purpose, key=secrets.token_hex(32)).save(force_insert=True)
        found = SigningKey.objects(id=purpose).first()
    return bytes.fromhex(found.key)


def sign(purpose: str, value: str) -> str:
    mac = hmac.new(_signing_key(purpose), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(purpose: str, signed: str) -> str | None:
    value, _, mac = (signed or "").rpartition(".")
    if not value or not mac:
        return None
    expected = sign(purpose, value).rpartition(".")[2]
    return value if hmac.compare_digest(mac, expected) else None


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
