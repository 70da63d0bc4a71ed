"""Accounts: registration, login, sessions and the owner's settings (seed section 1)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from mongoengine import NotUniqueError

from kernel import clock
from kernel.aggregate import execute
from kernel.caller import OPERATOR, STAFF, SYSTEM, rpc
from kernel.errors import CommandError, Conflict, Forbidden, Invalid, NotFound, Throttled, Unauthenticated
from kernel.events import NewEvent, command_meta, new_id
from kernel.service import EventSourcedService
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.contacts import ContactsRpc
from services.accounts.domain import Account, account_stream, token_hash
from services.accounts.projections import PROJECTIONS, AccountToken, AccountView, ContactView
from services.accounts.security import SecurityRpc

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = hasher.hash("not-a-real-password")
# Registration, password reset and verification resend answer the same for a known and an unknown
# address, and never sooner than this, so their time does not tell either (the work differs a little).
NEUTRAL_ANSWER_SECONDS = 0.3


def _is_a_guess(refused: CommandError) -> bool:
    """A wrong current password or second-factor code (a missing or malformed one guesses nothing)."""
    fields = refused.fields or {}
    return fields.get("current_password") == "wrong_password" or fields.get("code") in ("invalid_code",
                                                                                         "code_already_used")  # fmt: skip


def mail_limit_per_address() -> int:
    """Mails anyone can make us send to one address (verification, reset, "already registered") per hour."""
    return int(os.environ.get("MAIL_LIMIT_PER_ADDRESS", "3"))


def mail_limit_per_ip() -> int:
    """Registrations, resets and verification resends one client address may ask for per hour."""
    return int(os.environ.get("MAIL_LIMIT_PER_IP", "20"))


@contextlib.contextmanager
def _steady(seconds: float = NEUTRAL_ANSWER_SECONDS) -> Iterator[None]:
    """Run the block and answer no sooner than `seconds` after it started."""
    started = time.monotonic()
    try:
        yield
    finally:
        left = seconds - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)


def _may_mail(account: Account, address: str, what: str) -> bool:
    if account.may_mail(address, mail_limit_per_address()):
        return True
    log.warning("mail limit: no %s mail for account %s, %d already went to that address this hour", what,
                account.account_id, mail_limit_per_address())  # fmt: skip
    return False


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid("invalid_input", errors)


def _login_actor(account_id: str, contact: ContactView | None = None) -> dict[str, str]:
    if contact:
        return {"type": "contact", "id": contact.id, "account_id": account_id}
    return {"type": "account", "id": account_id}


class AccountsService(ContactsRpc, SecurityRpc, EventSourcedService):
    name = "accounts"
    projections = PROJECTIONS

    documents = list(sessions.OPERATIONAL_DOCUMENTS)

    # --- registration and verification -------------------------------------
    @rpc
    def register(self, email: str, password: str, first_name: str, last_name: str,
                 language: str = "pl", ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        email = v.normalize_email(email)
        errors = {
            field: code
            for field, code in {
                "email": v.check_email(email),
                "password": v.check_password(password),
                "first_name": v.check_name(first_name),
                "last_name": v.check_name(last_name),
                "language": v.check_language(language),
            }.items()
            if code
        }
        _raise_if(errors)
        with _steady():  # the same answer, the same argon2 work and about the same time for a known address
            password_hash = hasher.hash(password)
            if not self._mail_allowed_from((ctx or {}).get("ip"), "registration"):
                return {}
            account_id = new_id()
            if not self._take_email(email, account_id):
                self._tell_already_registered(email, language, ctx)
                return {}
            profile = {"first_name": first_name.strip(), "last_name": last_name.strip(), "phone": "",
                       "language": language}  # fmt: skip
            try:
                execute(
                    self.events, Account, account_stream(account_id),
                    lambda a: a.register(email, password_hash, profile),
                    command_meta(ctx, actor={"type": "account", "id": account_id}),
                )  # fmt: skip
            except Exception:
                sessions.EmailClaim.objects(id=email, account_id=account_id).delete()
                raise
        # the new account's id for internal callers (staff tools, tests); the gateway answers every
        # registration with the same neutral body, so no web client learns which case it was
        return {"account_id": account_id}

    def _mail_allowed_from(self, ip: str | None, what: str) -> bool:
        if sessions.mail_request_allowed(ip, mail_limit_per_ip()):
            return True
        log.warning("mail limit: %s from %s refused, more than %d such requests this hour", what, ip,
                    mail_limit_per_ip())  # fmt: skip
        return False

    def _tell_already_registered(self, email: str, language: str, ctx: dict | None) -> None:
        """The address belongs to an account or a contact: it gets a mail saying so (log in or reset
        the password), within the per-address limit; the caller gets the same answer as a newcomer."""
        claim = sessions.EmailClaim.objects(id=email).first()
        if not claim or not AccountView.objects(id=claim.account_id).first():
            return  # a registration still in flight, or one a crash left unfinished: nothing to tell yet
        execute(self.events, Account, account_stream(claim.account_id),
                lambda a: a.registration_attempted(email, language, claim.contact_id)
                if _may_mail(a, email, "registration") else [], command_meta(ctx))  # fmt: skip

    def _claim_email(self, email: str, account_id: str) -> None:
        """Take the e-mail for this account or refuse (a logged-in owner changing their address)."""
        if not self._take_email(email, account_id):
            raise Conflict("invalid_input", {"email": "email_taken"})

    def _take_email(self, email: str, account_id: str) -> bool:
        """Take the e-mail for this account, or False when it is someone's. A claim left behind by a
        crash before any event was stored is taken over once it is stale (a fresh one may belong to a
        registration still in flight)."""
        try:
            sessions.EmailClaim(id=email, account_id=account_id, claimed_at=clock.now()).save(force_insert=True)
            return True
        except NotUniqueError:
            pass
        claim = sessions.EmailClaim.objects(id=email).first()
        stale = claim and claim.claimed_at and claim.claimed_at < clock.now() - sessions.CLAIM_STALE_AFTER
        orphaned = stale and self.events.store.current_version(account_stream(claim.account_id)) == 0
        taken_over = orphaned and sessions.EmailClaim.objects(id=email, account_id=claim.account_id).update_one(
            set__account_id=account_id, set__claimed_at=clock.now()
        )
        return bool(taken_over)

    @rpc
    def verify_email(self, token: str, ctx: dict | None = None) -> dict[str, str]:
        found = AccountToken.objects(id=token_hash(token or ""), purpose="verify").first()
        if not found:
            raise CommandError("invalid_token")
        execute(self.events, Account, account_stream(found.account_id), lambda a: a.verify_email(token),
                command_meta(ctx, actor={"type": "account", "id": found.account_id}))  # fmt: skip
        return {"account_id": found.account_id}

    @rpc
    def resend_verification(self, email: str, ctx: dict | None = None) -> dict:
        """The same answer whether the address is known; within the per-address and per-IP mail limits."""
        with _steady():
            address = v.lookup_email(email)
            view = AccountView.objects(email=address).first() if address else None
            if self._mail_allowed_from((ctx or {}).get("ip"), "verification") and view and not view.email_verified:
                execute(self.events, Account, account_stream(view.id),
                        lambda a: a.resend_verification() if _may_mail(a, a.email, "verification") else [],
                        command_meta(ctx))  # fmt: skip
        return {}

    # --- staff: accounts made by `python -m services.accounts.staff`, never by registration --------
    @rpc(actors=OPERATOR)
    def create_staff(self, email: str, first_name: str, last_name: str, password: str,
                     ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        """Only the operator's command may call this (actor type "operator", which no web request carries)."""
        email = v.normalize_email(email)
        checks = {"email": v.check_email(email), "password": v.check_password(password),
                  "first_name": v.check_name(first_name), "last_name": v.check_name(last_name)}  # fmt: skip
        _raise_if({field: code for field, code in checks.items() if code})
        account_id = new_id()
        self._claim_email(email, account_id)
        profile = {"first_name": first_name.strip(), "last_name": last_name.strip(), "phone": "", "language": "pl"}
        try:
            execute(self.events, Account, account_stream(account_id),
                    lambda a: a.create_staff(email, hasher.hash(password), profile), command_meta(ctx))  # fmt: skip
        except Exception:
            sessions.EmailClaim.objects(id=email, account_id=account_id).delete()
            raise
        return {"account_id": account_id, "email": email, "role": "staff"}

    @rpc(actors=STAFF)
    def find_customers(self, query: str, ctx: dict | None = None, limit: int = 20) -> dict[str, Any]:
        """Staff only: customers whose e-mail, name, company or NIP contain every word of `query`."""
        words = (query or "").split() if isinstance(query, str) else []
        if not words or len("".join(words)) < 2:
            raise Invalid("invalid_input", {"query": "query_too_short"})
        fields = ("email", "first_name", "last_name", "billing_address.company")
        conditions = []
        for word in words[:5]:
            either = [{f: {"$regex": re.escape(word), "$options": "i"}} for f in fields]
            if v.nip_digits(word).isdigit():
                either.append({"billing_address.nip": {"$regex": re.escape(v.nip_digits(word))}})
            conditions.append({"$or": either})
        found = AccountView.objects(role="customer", __raw__={"$and": conditions}).order_by("email")
        return {"items": [view.public() for view in found.limit(max(1, min(int(limit), 50)))]}

    # --- login, sessions ----------------------------------------------------
    @rpc
    def login(self, email: str, password: str, ctx: dict | None = None) -> dict[str, Any]:
        """Owner or contact by e-mail and password. An owner with 2FA gets a challenge
        instead of a session: `login_second_factor` finishes the login."""
        ctx = ctx or {}
        ip = ctx.get("ip")
        email = v.lookup_email(email)
        view = AccountView.objects(email=email).first() if email else None
        contact = None if view or not email else ContactView.objects(email=email, login=True, active=True).first()
        who = view.id if view else contact.id if contact else None
        if sessions.is_throttled(who, ip):
            raise Throttled("too_many_attempts")
        stored_hash = view.password_hash if view else contact.password_hash if contact else None
        if not self._password_matches(stored_hash, password or ""):
            sessions.record_failure(who, ip)
            if view or contact:
                account_id = view.id if view else contact.account_id
                data = {"ip": ip, "reason": "bad_password", **({"contact_id": contact.id} if contact else {})}
                self._record(account_id, "login_failed", data, ctx, _login_actor(account_id, contact))
            raise Unauthenticated("invalid_credentials")
        if contact:
            return self._open_session(contact.account_id, ctx, contact)
        if not view.verified_once:
            raise Forbidden("email_not_verified")
        if view.two_factor:
            return {"two_factor_required": True, "challenge": sessions.open_challenge(view.id, ip)}
        return self._open_session(view.id, ctx)

    @rpc
    def login_second_factor(self, challenge: str, code: str, ctx: dict | None = None) -> dict[str, Any]:
        """Second step: a code from the authenticator app or an unused recovery code."""
        ctx = ctx or {}
        ip = ctx.get("ip")
        found = sessions.find_challenge(challenge)
        if not found:
            raise Unauthenticated("login_expired")
        if sessions.is_throttled(found.account_id, ip):
            raise Throttled("too_many_attempts")
        try:  # an authenticator code is accepted once (its time step is remembered, as an event)
            execute(self.events, Account, account_stream(found.account_id), lambda a: a.second_factor(code),
                    command_meta(ctx, actor=_login_actor(found.account_id)))  # fmt: skip
        except CommandError as exc:
            if exc.code == "invalid_input":
                sessions.record_failure(found.account_id, ip)
                self._record(found.account_id, "login_failed", {"ip": ip, "reason": "bad_code"}, ctx)
            raise
        sessions.close_challenge(found)
        return self._open_session(found.account_id, ctx)

    def _open_session(self, account_id: str, ctx: dict, contact: ContactView | None = None) -> dict[str, Any]:
        ip = ctx.get("ip")
        token, session = sessions.open_session(account_id, ip, ctx.get("user_agent"), contact.id if contact else None)
        sessions.clear_failures(contact.id if contact else account_id)
        who = {"contact_id": contact.id} if contact else {}
        self._record(account_id, "login_succeeded", {"ip": ip, "session_id": session.session_id, **who}, ctx,
                     _login_actor(account_id, contact))  # fmt: skip
        return {"token": token, "account_id": account_id, "session_id": session.session_id, **who}

    def _password_matches(self, stored_hash: str | None, password: str) -> bool:
        if not isinstance(password, str) or v.check_password(password) == "invalid_characters":
            password = ""  # cannot be anybody's password; still verified, so it costs the same
        try:
            return hasher.verify(stored_hash or _DUMMY_HASH, password) and bool(stored_hash)
        except (VerifyMismatchError, InvalidHashError):
            return False

    def _record(self, account_id: str, event_type: str, data: dict, ctx: dict, actor: dict | None = None) -> None:
        execute(self.events, Account, account_stream(account_id), lambda a: [NewEvent(event_type, data)],
                command_meta(ctx, actor=actor or ctx.get("actor") or _login_actor(account_id)))  # fmt: skip

    @rpc
    def authenticate(self, token: str) -> dict[str, Any] | None:
        """Who is behind a bearer token, or None. A contact gets the OWNER's account_id
        (so every call stays scoped to the owner's data) plus their own permissions."""
        session = sessions.find_session(token)
        if not session:
            return None
        view = AccountView.objects(id=session.account_id).first()
        if not view:
            return None
        found = {**view.public(), "session_id": session.session_id, "contact_id": None,
                 "permissions": list(v.PERMISSIONS)}  # fmt: skip
        if not session.contact_id:
            return found
        contact = ContactView.objects(id=session.contact_id, account_id=view.id).first()
        if not contact:
            return None
        person = {k: getattr(contact, k) for k in ("first_name", "last_name", "email")}
        return {**found, "role": "contact", "contact_id": contact.id, "permissions": list(contact.permissions or []),
                "language": contact.language, "contact": person}  # fmt: skip

    @rpc
    def logout(self, token: str, ctx: dict | None = None) -> dict:
        session = sessions.close_session(token)
        if session:
            self._record(session.account_id, "logged_out", {"session_id": session.session_id}, ctx or {})
        return {}

    # --- password reset -----------------------------------------------------
    @rpc
    def request_password_reset(self, email: str, ctx: dict | None = None) -> dict:
        """Always answers the same and in about the same time, so nobody learns which e-mails
        exist; within the per-address and per-IP mail limits."""
        with _steady():
            address = v.lookup_email(email)
            allowed = self._mail_allowed_from((ctx or {}).get("ip"), "password reset")
            view = AccountView.objects(email=address).first() if address else None
            contact = None
            if address and not view:
                contact = ContactView.objects(email=address, login=True, active=True).first()
            if allowed and view:
                execute(self.events, Account, account_stream(view.id),
                        lambda a: a.request_password_reset() if _may_mail(a, a.email, "password reset") else [],
                        command_meta(ctx))  # fmt: skip
            elif allowed and contact:
                execute(self.events, Account, account_stream(contact.account_id),
                        lambda a: a.request_contact_password_reset(contact.id)
                        if _may_mail(a, contact.email, "password reset") else [], command_meta(ctx))  # fmt: skip
        return {}

    @rpc
    def confirm_password_reset(self, token: str, password: str, ctx: dict | None = None) -> dict:
        _raise_if({"password": code} if (code := v.check_password(password)) else {})
        found = AccountToken.objects(id=token_hash(token or ""), purpose__in=("reset", "contact_reset")).first()
        if not found:
            raise CommandError("invalid_token")
        new_hash = hasher.hash(password)
        if found.contact_id:  # a contact's own password: only their sessions end
            execute(self.events, Account, account_stream(found.account_id),
                    lambda a: a.complete_contact_password_reset(found.contact_id, token, new_hash),
                    command_meta(ctx))  # fmt: skip
            sessions.close_contact_sessions(found.contact_id)
            sessions.clear_failures(found.contact_id)
            return {"account_id": found.account_id, "contact_id": found.contact_id}
        execute(self.events, Account, account_stream(found.account_id),
                lambda a: a.complete_password_reset(token, new_hash), command_meta(ctx))  # fmt: skip
        sessions.close_all_sessions(found.account_id)
        sessions.clear_failures(found.account_id)
        return {"account_id": found.account_id}

    # --- section 1: personal data, billing address, preferences -----------
    @rpc
    def get_profile(self, account_id: str) -> dict[str, Any]:
        view = AccountView.objects(id=account_id).first()
        if not view:
            raise NotFound("account")
        return view.public()

    @rpc
    def update_settings(self, account_id: str, changes: dict[str, Any], ctx: dict | None = None,
                        current_password: str | None = None, code: str | None = None,
                        keep_session_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Validate everything first; store all of it or nothing. A new e-mail address needs the
        current password (and the second factor when on) and ends the owner's other sessions."""
        view = AccountView.objects(id=account_id).first()
        if not view:
            raise NotFound("account")
        clean, errors = self._validate_settings(changes)
        _raise_if(errors)
        moving = "email" in clean and clean["email"] != view.email
        if moving:
            self._check_reauthentication(account_id, current_password, code, ctx)
            self._claim_email(clean["email"], account_id)
        password_ok = self._password_check(current_password) if moving else None
        try:
            self._reauthenticated(account_id, ctx, lambda a: a.update_settings(clean, password_ok, code),
                                  command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account",
                                                                                        "id": account_id}))  # fmt: skip
        except Exception:
            if moving:
                sessions.EmailClaim.objects(id=clean["email"], account_id=account_id).delete()
            raise
        if moving:
            sessions.EmailClaim.objects(id=view.email, account_id=account_id).delete()
            self._end_other_sessions(account_id, keep_session_id, "email_changed", ctx)
        return AccountView.objects(id=account_id).first().public()

    @rpc
    def change_password(self, account_id: str, current_password: str, new_password: str, code: str | None = None,
                        keep_session_id: str | None = None, ctx: dict | None = None) -> dict[str, int]:  # fmt: skip
        """The logged-in owner sets a new password: the current one (and the second factor when on)
        first; every other session of the owner ends, this one stays."""
        if ((ctx or {}).get("actor") or {}).get("type") == "contact":
            raise Forbidden("forbidden")
        _raise_if({"new_password": problem} if (problem := v.check_password(new_password)) else {})
        if not AccountView.objects(id=account_id).first():
            raise NotFound("account")
        self._check_reauthentication(account_id, current_password, code, ctx)
        new_hash = hasher.hash(new_password)
        check = self._password_check(current_password)
        self._reauthenticated(account_id, ctx, lambda a: a.change_password(check, code, new_hash),
                              command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account",
                                                                                    "id": account_id}))  # fmt: skip
        return {"sessions_ended": self._end_other_sessions(account_id, keep_session_id, "password_changed", ctx)}

    def _check_reauthentication(self, account_id: str, current_password: object, code: object,
                                ctx: dict | None) -> None:  # fmt: skip
        if not isinstance(current_password, str) and current_password is not None:
            raise Invalid("invalid_input", {"current_password": "invalid_type"})
        if not isinstance(code, str) and code is not None:
            raise Invalid("invalid_input", {"code": "invalid_type"})
        if not current_password:
            raise Invalid("invalid_input", {"current_password": "required"})
        if sessions.is_throttled(account_id, (ctx or {}).get("ip")):
            raise Throttled("too_many_attempts")

    def _password_check(self, password: str | None):
        return lambda stored: self._password_matches(stored, password or "")

    def _reauthenticated(self, account_id: str, ctx: dict | None, decide, meta: dict) -> None:
        """Run a decision that asks for the current password: a wrong one counts as a failed login."""
        try:
            execute(self.events, Account, account_stream(account_id), decide, meta)
        except CommandError as exc:
            if _is_a_guess(exc):
                sessions.record_failure(account_id, (ctx or {}).get("ip"))
            raise

    def _end_other_sessions(self, account_id: str, keep_session_id: str | None, why: str, ctx: dict | None) -> int:
        if keep_session_id:
            ended = sessions.close_other_sessions(account_id, keep_session_id)
        else:
            ended = sessions.close_all_sessions(account_id)
        if ended:
            self._record(account_id, "other_sessions_ended", {"count": ended, "kept": keep_session_id, "why": why},
                         ctx or {})  # fmt: skip
        return ended

    def _validate_settings(self, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        checks = {
            "first_name": v.check_name,
            "last_name": v.check_name,
            "phone": v.check_phone,
            "language": v.check_language,
        }
        for field, check in checks.items():
            if field in changes:
                value, code = v.clean_text(changes[field], check)
                if code:
                    errors[field] = code
                else:
                    clean[field] = value
        if "email" in changes:
            email = v.normalize_email(changes["email"] if isinstance(changes["email"], str) else "")
            if code := v.check_email(email):
                errors["email"] = code
            else:
                clean["email"] = email
        if "billing_address" in changes:
            if not isinstance(changes["billing_address"], dict):
                errors["billing_address"] = "invalid_type"
            else:
                clean["billing_address"], address_errors = v.check_billing_address(changes["billing_address"])
                errors.update(address_errors)
        if "notification_preferences" in changes:
            if not isinstance(changes["notification_preferences"], dict):
                errors["notification_preferences"] = "invalid_type"
            else:
                clean["notification_preferences"], pref_errors = v.check_preferences(
                    changes["notification_preferences"]
                )
                errors.update(pref_errors)
        if "mailing_list" in changes:
            if not isinstance(changes["mailing_list"], bool):
                errors["mailing_list"] = "invalid_type"
            else:
                clean["mailing_list"] = changes["mailing_list"]
        return clean, errors

    @rpc(actors=SYSTEM)
    def get_notification_target(self, account_id: str) -> dict[str, Any] | None:
        """What notifications needs to address a mail: e-mail, name, language, preferences,
        and the contacts with the mail categories each of them chose."""
        view = AccountView.objects(id=account_id).first()
        if not view:
            return None
        keep = ("contact_id", "email", "first_name", "language", "categories")
        contacts = []
        for contact in ContactView.objects(account_id=account_id):
            person = {k: contact.public()[k] for k in keep}
            if contact.login:  # mail follows permissions, also for what was chosen before that rule
                allowed = v.allowed_categories(contact.permissions or [])
                person["categories"] = [c for c in person["categories"] if c in allowed]
            if person["categories"] and not v.has_bad_characters(person["email"]):
                contacts.append(person)
        return {**view.public(), "contacts": contacts}
