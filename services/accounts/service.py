"""Accounts: registration, login, sessions and the owner's settings (seed section 1)."""

from __future__ import annotations

import logging
import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from mongoengine import NotUniqueError
from nameko.rpc import rpc

from kernel import clock
from kernel.aggregate import execute
from kernel.errors import CommandError, NotFound
from kernel.events import NewEvent, command_meta, new_id
from kernel.service import EventSourcedService
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.domain import Account, account_stream, token_hash
from services.accounts.projections import PROJECTIONS, AccountToken, AccountView

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = hasher.hash("not-a-real-password")


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise CommandError("invalid_input", errors, status=422)


class AccountsService(EventSourcedService):
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
        account_id = new_id()
        self._claim_email(email, account_id)
        profile = {"first_name": first_name.strip(), "last_name": last_name.strip(), "phone": "", "language": language}
        try:
            execute(
                self.events, Account, account_stream(account_id),
                lambda a: a.register(email, hasher.hash(password), profile),
                command_meta(ctx, actor={"type": "account", "id": account_id}),
            )  # fmt: skip
        except Exception:
            sessions.EmailClaim.objects(id=email, account_id=account_id).delete()
            raise
        return {"account_id": account_id}

    def _claim_email(self, email: str, account_id: str) -> None:
        """Take the e-mail for this account or refuse. A claim left behind by a
        crash before any event was stored is taken over once it is stale (a
        fresh one may belong to a registration still in flight)."""
        try:
            sessions.EmailClaim(id=email, account_id=account_id, claimed_at=clock.now()).save(force_insert=True)
            return
        except NotUniqueError:
            pass
        claim = sessions.EmailClaim.objects(id=email).first()
        stale = claim and claim.claimed_at and claim.claimed_at < clock.now() - sessions.CLAIM_STALE_AFTER
        orphaned = stale and self.events.store.current_version(account_stream(claim.account_id)) == 0
        taken_over = orphaned and sessions.EmailClaim.objects(id=email, account_id=claim.account_id).update_one(
            set__account_id=account_id, set__claimed_at=clock.now()
        )
        if not taken_over:
            raise CommandError("invalid_input", {"email": "email_taken"}, status=409)

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
        view = AccountView.objects(email=v.normalize_email(email)).first()
        if view and not view.email_verified:
            execute(self.events, Account, account_stream(view.id), lambda a: a.resend_verification(), command_meta(ctx))
        return {}

    # --- staff: accounts made by `python -m services.accounts.staff`, never by registration --------
    @rpc
    def create_staff(self, email: str, first_name: str, last_name: str, password: str,
                     ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        """Only the operator's command may call this (actor type "operator", which no web request carries)."""
        if ((ctx or {}).get("actor") or {}).get("type") != "operator":
            raise CommandError("forbidden", status=403)
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

    @rpc
    def find_customers(self, query: str, ctx: dict | None = None, limit: int = 20) -> dict[str, Any]:
        """Staff only: customers whose e-mail, name, company or NIP contain every word of `query`."""
        if ((ctx or {}).get("actor") or {}).get("type") != "staff":
            raise CommandError("forbidden", status=403)
        words = (query or "").split() if isinstance(query, str) else []
        if not words or len("".join(words)) < 2:
            raise CommandError("invalid_input", {"query": "query_too_short"}, status=422)
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
        ctx = ctx or {}
        ip = ctx.get("ip")
        view = AccountView.objects(email=v.normalize_email(email)).first()
        if sessions.is_throttled(view.id if view else None, ip):
            raise CommandError("too_many_attempts", status=429)
        if not view or not self._password_matches(view, password or ""):
            sessions.record_failure(view.id if view else None, ip)
            if view:
                self._record(view.id, "login_failed", {"ip": ip, "reason": "bad_password"}, ctx)
            raise CommandError("invalid_credentials", status=401)
        if not view.verified_once:
            raise CommandError("email_not_verified", status=403)
        token, session = sessions.open_session(view.id, ip, ctx.get("user_agent"))
        sessions.clear_failures(view.id)
        self._record(view.id, "login_succeeded", {"ip": ip, "session_id": session.session_id}, ctx)
        return {"token": token, "account_id": view.id, "session_id": session.session_id}

    def _password_matches(self, view: AccountView | None, password: str) -> bool:
        try:
            return hasher.verify(view.password_hash if view else _DUMMY_HASH, password) and view is not None
        except (VerifyMismatchError, InvalidHashError):
            return False

    def _record(self, account_id: str, event_type: str, data: dict, ctx: dict) -> None:
        execute(self.events, Account, account_stream(account_id), lambda a: [NewEvent(event_type, data)],
                command_meta(ctx, actor={"type": "account", "id": account_id}))  # fmt: skip

    @rpc
    def authenticate(self, token: str) -> dict[str, Any] | None:
        """The account behind a bearer token, or None."""
        session = sessions.find_session(token)
        if not session:
            return None
        view = AccountView.objects(id=session.account_id).first()
        if not view:
            return None
        return {**view.public(), "session_id": session.session_id}

    @rpc
    def logout(self, token: str, ctx: dict | None = None) -> dict:
        session = sessions.close_session(token)
        if session:
            self._record(session.account_id, "logged_out", {"session_id": session.session_id}, ctx or {})
        return {}

    # --- password reset -----------------------------------------------------
    @rpc
    def request_password_reset(self, email: str, ctx: dict | None = None) -> dict:
        """Always answers the same, so nobody learns which e-mails exist."""
        view = AccountView.objects(email=v.normalize_email(email)).first()
        if view:
            execute(
                self.events, Account, account_stream(view.id), lambda a: a.request_password_reset(), command_meta(ctx)
            )
        return {}

    @rpc
    def confirm_password_reset(self, token: str, password: str, ctx: dict | None = None) -> dict:
        _raise_if({"password": code} if (code := v.check_password(password)) else {})
        found = AccountToken.objects(id=token_hash(token or ""), purpose="reset").first()
        if not found:
            raise CommandError("invalid_token")
        new_hash = hasher.hash(password)
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
    def update_settings(self, account_id: str, changes: dict[str, Any], ctx: dict | None = None) -> dict[str, Any]:
        """Validate everything first; store all of it or nothing."""
        view = AccountView.objects(id=account_id).first()
        if not view:
            raise NotFound("account")
        clean, errors = self._validate_settings(changes)
        _raise_if(errors)
        if "email" in clean and clean["email"] != view.email:
            self._claim_email(clean["email"], account_id)
        try:
            execute(self.events, Account, account_stream(account_id), lambda a: a.update_settings(clean),
                    command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account", "id": account_id}))  # fmt: skip
        except Exception:
            if "email" in clean and clean["email"] != view.email:
                sessions.EmailClaim.objects(id=clean["email"], account_id=account_id).delete()
            raise
        if "email" in clean and clean["email"] != view.email:
            sessions.EmailClaim.objects(id=view.email, account_id=account_id).delete()
        return AccountView.objects(id=account_id).first().public()

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
                value = (
                    (changes[field] or "").strip()
                    if isinstance(changes[field], str) or changes[field] is None
                    else changes[field]
                )
                if not isinstance(value, str):
                    errors[field] = "invalid_type"
                elif code := check(value):
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

    @rpc
    def get_notification_target(self, account_id: str) -> dict[str, Any] | None:
        """What notifications needs to address a mail: e-mail, name, language, preferences."""
        view = AccountView.objects(id=account_id).first()
        return view.public() if view else None
