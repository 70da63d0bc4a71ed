"""What keeps the public entrypoints from telling or costing too much: argon2 hashing and checking,
the same answer in about the same time, the mail limits per address and per client address, the
re-authentication asked before a sensitive change, and the one-account-per-e-mail claims."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from mongoengine import NotUniqueError

from kernel.errors import CommandError, Conflict, Invalid, Throttled
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.app import Deps, do
from services.accounts.domain import Account, account_stream

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost the same.
DUMMY_HASH = hasher.hash("not-a-real-password")
# Registration, password reset and verification resend answer the same for a known and an unknown
# address, and never sooner than this, so their time does not tell either (the work differs a little).
NEUTRAL_ANSWER_SECONDS = 0.3


def mail_limit_per_address() -> int:
    """Mails anyone can make us send to one address (verification, reset, "already registered") per hour."""
    return int(os.environ.get("MAIL_LIMIT_PER_ADDRESS", "3"))


def mail_limit_per_ip() -> int:
    """Registrations, resets and verification resends one client address may ask for per hour."""
    return int(os.environ.get("MAIL_LIMIT_PER_IP", "20"))


@contextlib.contextmanager
def steady(seconds: float | None = None) -> Iterator[None]:
    """Run the block and answer no sooner than `seconds` (NEUTRAL_ANSWER_SECONDS) after it started."""
    seconds = NEUTRAL_ANSWER_SECONDS if seconds is None else seconds
    started = time.monotonic()
    try:
        yield
    finally:
        left = seconds - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)


def may_mail(account: Account, address: str, what: str) -> bool:
    if account.may_mail(address, mail_limit_per_address()):
        return True
    log.warning("mail limit: no %s mail for account %s, %d already went to that address this hour", what,
                account.account_id, mail_limit_per_address())  # fmt: skip
    return False


def mail_allowed_from(ip: str | None, what: str) -> bool:
    if sessions.mail_request_allowed(ip, mail_limit_per_ip()):
        return True
    log.warning("mail limit: %s from %s refused, more than %d such requests this hour", what, ip,
                mail_limit_per_ip())  # fmt: skip
    return False


# --- passwords ----------------------------------------------------------------
def hash_password(password: str) -> str:
    return hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    if not isinstance(password, str) or v.check_password(password) == "invalid_characters":
        password = ""  # cannot be anybody's password; still verified, so it costs the same
    try:
        return hasher.verify(stored_hash or DUMMY_HASH, password) and bool(stored_hash)
    except (VerifyMismatchError, InvalidHashError):
        return False


def password_check(password: str | None) -> Callable[[str | None], bool]:
    return lambda stored: password_matches(stored, password or "")


def is_a_guess(refused: CommandError) -> bool:
    """A wrong current password or second-factor code (a missing or malformed one guesses nothing)."""
    fields = refused.fields or {}
    return fields.get("current_password") == "wrong_password" or fields.get("code") in ("invalid_code",
                                                                                         "code_already_used")  # fmt: skip


def check_reauthentication(account_id: str, current_password: object, code: object, ctx: dict | None) -> None:
    if not isinstance(current_password, str) and current_password is not None:
        raise Invalid("invalid_input", {"current_password": "invalid_type"})
    if not isinstance(code, str) and code is not None:
        raise Invalid("invalid_input", {"code": "invalid_type"})
    if not current_password:
        raise Invalid("invalid_input", {"current_password": "required"})
    if sessions.is_throttled(account_id, (ctx or {}).get("ip")):
        raise Throttled("too_many_attempts")


def reauthenticated(deps: Deps, account_id: str, ctx: dict | None, decide: Callable, meta: dict) -> None:
    """Run a decision that asks for the current password: a wrong one counts as a failed login."""
    try:
        do(deps, account_id, decide, meta)
    except CommandError as exc:
        if is_a_guess(exc):
            sessions.record_failure(account_id, (ctx or {}).get("ip"))
        raise


# --- one account per e-mail ---------------------------------------------------
def claim_email(deps: Deps, email: str, account_id: str) -> None:
    """Take the e-mail for this account or refuse (a logged-in owner changing their address)."""
    if not take_email(deps, email, account_id):
        raise Conflict("invalid_input", {"email": "email_taken"})


def take_email(deps: Deps, email: str, account_id: str) -> bool:
    """Take the e-mail for this account, or False when it is someone's. A claim left behind by a
    crash before any event was stored is taken over once it is stale (a fresh one may belong to a
    registration still in flight)."""
    try:
        sessions.EmailClaim(id=email, account_id=account_id, claimed_at=deps.now()).save(force_insert=True)
        return True
    except NotUniqueError:
        pass
    claim = sessions.EmailClaim.objects(id=email).first()
    stale = claim and claim.claimed_at and claim.claimed_at < deps.now() - sessions.CLAIM_STALE_AFTER
    orphaned = stale and deps.events.store.current_version(account_stream(claim.account_id)) == 0
    taken_over = orphaned and sessions.EmailClaim.objects(id=email, account_id=claim.account_id).update_one(
        set__account_id=account_id, set__claimed_at=deps.now()
    )
    return bool(taken_over)


def claim_contact_email(deps: Deps, email: str, account_id: str, contact_id: str) -> None:
    """A contact who logs in needs an e-mail no account and no other contact uses."""
    try:
        sessions.EmailClaim(id=email, account_id=account_id, contact_id=contact_id,
                            claimed_at=deps.now()).save(force_insert=True)  # fmt: skip
    except NotUniqueError:
        raise Conflict("invalid_input", {"email": "email_taken"}) from None


def release_email(email: str, account_id: str | None = None, contact_id: str | None = None) -> None:
    """Give a claimed address back (a command that took it failed, or the address changed)."""
    owner = {"account_id": account_id} if account_id else {"contact_id": contact_id}
    sessions.EmailClaim.objects(id=email, **owner).delete()
