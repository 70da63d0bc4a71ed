"""The Account aggregate: every change to an account is decided here."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

import pyotp

from kernel import clock
from kernel.aggregate import Aggregate
from kernel.errors import CommandError, Conflict, Forbidden, Invalid, NotFound
from kernel.events import Event, NewEvent
from services.accounts import validation as v

VERIFY_TOKEN_TTL = dt.timedelta(hours=48)
RESET_TOKEN_TTL = dt.timedelta(hours=1)
INVITATION_TTL = dt.timedelta(days=7)
RECOVERY_CODES = 10
# Mails anyone can make us send to an address (verification, reset, "you already have an account")
# are counted per address over this window; `may_mail` decides with the limit the service reads.
MAIL_WINDOW = dt.timedelta(hours=1)
TOTP_STEP_SECONDS = 30
PROFILE_FIELDS = ("first_name", "last_name", "phone", "language")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def account_stream(account_id: str) -> str:
    return f"account-{account_id}"


class Account(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.email = ""
        self.email_verified = False
        self.password_hash = ""
        self.profile: dict[str, Any] = {}
        self.billing_address: dict[str, str] = {}
        self.preferences: dict[str, bool] = {c: True for c in v.CATEGORIES}
        self.mailing_list = False
        self.role = "customer"
        # token hash -> (purpose, expires_at); removed once used
        self.open_tokens: dict[str, tuple[str, dt.datetime]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.totp_secret = ""
        self.recovery_hashes: list[str] = []
        # the newest TOTP time step accepted: a code of that step or an older one is never taken again
        self.last_totp_step = 0
        # (when, address) of every mail about a link or a registration sent for this account
        self.mail_log: list[tuple[dt.datetime, str]] = []

    @property
    def account_id(self) -> str:
        return self.stream_id.removeprefix("account-")

    # --- state changes ------------------------------------------------------
    def on_account_registered(self, data: dict, _: Event) -> None:
        self.email = data["email"]
        self.password_hash = data["password_hash"]
        self.role = data.get("role", "customer")
        self.profile = {k: data.get(k, "") for k in PROFILE_FIELDS}
        self.mailing_list = bool(data.get("mailing_list", False))

    def on_email_verification_requested(self, data: dict, event: Event) -> None:
        self._drop_tokens("verify")
        self.open_tokens[data["token_hash"]] = ("verify", _parse(data["expires_at"]))
        self._mailed(data["email"], event)

    def on_registration_attempted(self, data: dict, event: Event) -> None:
        self._mailed(data["email"], event)

    def _mailed(self, address: str, event: Event) -> None:
        self.mail_log.append((_naive(event.occurred_at), address))

    def on_email_verified(self, data: dict, _: Event) -> None:
        self.email_verified = True
        self.open_tokens.pop(data.get("token_hash", ""), None)

    def on_email_changed(self, data: dict, _: Event) -> None:
        self.email = data["email"]
        self.email_verified = False

    def on_password_reset_requested(self, data: dict, event: Event) -> None:
        self._drop_tokens("reset")
        self.open_tokens[data["token_hash"]] = ("reset", _parse(data["expires_at"]))
        self._mailed(data["email"], event)

    def on_password_reset_completed(self, data: dict, _: Event) -> None:
        self.password_hash = data["password_hash"]
        self.open_tokens.pop(data.get("token_hash", ""), None)

    def on_password_changed(self, data: dict, _: Event) -> None:
        self.password_hash = data["password_hash"]
        self._drop_tokens("reset")  # a reset link mailed before the change no longer works

    def on_profile_updated(self, data: dict, _: Event) -> None:
        self.profile.update(data["changes"])

    def on_billing_address_updated(self, data: dict, _: Event) -> None:
        self.billing_address = data["billing_address"]

    def on_notification_preferences_updated(self, data: dict, _: Event) -> None:
        self.preferences = data["preferences"]

    def on_mailing_list_subscribed(self, data: dict, _: Event) -> None:
        self.mailing_list = True

    def on_mailing_list_unsubscribed(self, data: dict, _: Event) -> None:
        self.mailing_list = False

    def on_contact_added(self, data: dict, _: Event) -> None:
        self.contacts[data["contact_id"]] = {k: val for k, val in data.items() if k != "contact_id"}

    def on_contact_invited(self, data: dict, _: Event) -> None:
        purpose = f"contact:{data['contact_id']}"
        self._drop_tokens(purpose)
        self.open_tokens[data["token_hash"]] = (purpose, _parse(data["expires_at"]))

    def on_contact_invitation_accepted(self, data: dict, _: Event) -> None:
        self.open_tokens.pop(data.get("token_hash", ""), None)
        self.contacts[data["contact_id"]]["active"] = True

    def on_contact_password_reset_requested(self, data: dict, event: Event) -> None:
        purpose = f"contact_reset:{data['contact_id']}"
        self._drop_tokens(purpose)
        self.open_tokens[data["token_hash"]] = (purpose, _parse(data["expires_at"]))
        self._mailed(data["email"], event)

    def on_contact_password_reset_completed(self, data: dict, _: Event) -> None:
        self.open_tokens.pop(data.get("token_hash", ""), None)

    def on_contact_updated(self, data: dict, _: Event) -> None:
        self.contacts[data["contact_id"]].update(data["changes"])

    def on_contact_removed(self, data: dict, _: Event) -> None:
        self.contacts.pop(data["contact_id"], None)
        self._drop_tokens(f"contact:{data['contact_id']}")
        self._drop_tokens(f"contact_reset:{data['contact_id']}")

    def on_two_factor_enabled(self, data: dict, _: Event) -> None:
        self.totp_secret = data["secret"]
        self.recovery_hashes = list(data["recovery_code_hashes"])

    def on_two_factor_disabled(self, data: dict, _: Event) -> None:
        self.totp_secret, self.recovery_hashes = "", []

    def on_totp_code_used(self, data: dict, _: Event) -> None:
        self.last_totp_step = max(self.last_totp_step, int(data["step"]))

    def on_recovery_code_used(self, data: dict, _: Event) -> None:
        self.recovery_hashes = [h for h in self.recovery_hashes if h != data["code_hash"]]

    def _drop_tokens(self, purpose: str) -> None:
        self.open_tokens = {h: t for h, t in self.open_tokens.items() if t[0] != purpose}

    # --- decisions ----------------------------------------------------------
    def register(self, email: str, password_hash: str, profile: dict, role: str = "customer") -> list[NewEvent]:
        if self.exists:
            raise Conflict("already_registered")
        registered = NewEvent(
            "account_registered", {"email": email, "password_hash": password_hash, "role": role, **profile}
        )
        return [registered, self._verification_request(email, profile.get("language", "pl"))]

    def create_staff(self, email: str, password_hash: str, profile: dict) -> list[NewEvent]:
        """A staff member, created by an operator's command (never by registration): verified at once."""
        if self.exists:
            raise Conflict("already_registered")
        registered = NewEvent(
            "account_registered", {"email": email, "password_hash": password_hash, "role": "staff", **profile}
        )
        return [registered, NewEvent("email_verified", {"email": email, "by": "operator"})]

    def _verification_request(self, email: str, language: str) -> NewEvent:
        token, hashed = new_token()
        expires = clock.now() + VERIFY_TOKEN_TTL
        data = {
            "email": email,
            "token": token,
            "token_hash": hashed,
            "expires_at": expires.isoformat(),
            "language": language,
        }
        return NewEvent("email_verification_requested", data)

    def resend_verification(self) -> list[NewEvent]:
        if self.email_verified:
            return []
        return [self._verification_request(self.email, self.profile.get("language", "pl"))]

    def may_mail(self, address: str, limit: int) -> bool:
        """Fewer than `limit` mails anyone could ask for went to `address` within MAIL_WINDOW."""
        since = _naive(clock.now()) - MAIL_WINDOW
        return sum(1 for at, to in self.mail_log if to == address and at > since) < limit

    def registration_attempted(self, email: str, language: str, contact_id: str | None = None) -> list[NewEvent]:
        """Someone registered with an address this account (or one of its contacts) already uses:
        the address is told so by mail (log in or reset the password), the caller learns nothing."""
        data = {"email": email, "language": language, **({"contact_id": contact_id} if contact_id else {})}
        return [NewEvent("registration_attempted", data)]

    def use_token(self, token: str, purpose: str) -> str:
        hashed = token_hash(token or "")
        found = self.open_tokens.get(hashed)
        if not found or found[0] != purpose:
            raise CommandError("invalid_token")
        if found[1] < clock.now():
            raise CommandError("expired_token")
        return hashed

    def verify_email(self, token: str) -> list[NewEvent]:
        hashed = self.use_token(token, "verify")
        return [NewEvent("email_verified", {"email": self.email, "token_hash": hashed})]

    def request_password_reset(self) -> list[NewEvent]:
        token, hashed = new_token()
        expires = clock.now() + RESET_TOKEN_TTL
        data = {"email": self.email, "token": token, "token_hash": hashed, "expires_at": expires.isoformat(),
                "language": self.profile.get("language", "pl")}  # fmt: skip
        return [NewEvent("password_reset_requested", data)]

    def complete_password_reset(self, token: str, password_hash: str) -> list[NewEvent]:
        hashed = self.use_token(token, "reset")
        return [NewEvent("password_reset_completed", {"token_hash": hashed, "password_hash": password_hash})]

    def change_password(self, password_ok: Callable[[str], bool], code: str | None,
                        new_hash: str) -> list[NewEvent]:  # fmt: skip
        """A new password for the logged-in owner: the current one (and the second factor when on) first."""
        return [*self._reauthenticate(password_ok, code), NewEvent("password_changed", {"password_hash": new_hash})]

    def _reauthenticate(self, password_ok: Callable[[str], bool], code: str | None) -> list[NewEvent]:
        """The owner proves it is them again: the current password, and a code when two-factor login is on."""
        if not password_ok(self.password_hash):
            raise Invalid("invalid_input", {"current_password": "wrong_password"})
        if not self.two_factor:
            return []
        if not code:
            raise Invalid("invalid_input", {"code": "required"})
        return self.second_factor(code)

    def update_settings(self, changes: dict[str, Any], password_ok: Callable[[str], bool] | None = None,
                        code: str | None = None) -> list[NewEvent]:  # fmt: skip
        """Section 1 saved at once: only what differs becomes an event. A new e-mail address
        needs the current password (and the second factor when on): `password_ok` checks it."""
        out: list[NewEvent] = []
        profile = {k: changes[k] for k in PROFILE_FIELDS if k in changes and changes[k] != self.profile.get(k)}
        if profile:
            out.append(NewEvent("profile_updated", {"changes": profile}))
        email = changes.get("email")
        if email and email != self.email:
            if password_ok is None:
                raise Invalid("invalid_input", {"current_password": "required"})
            out.extend(self._reauthenticate(password_ok, code))
            out.append(NewEvent("email_changed", {"old_email": self.email, "email": email}))
            out.append(self._verification_request(email, changes.get("language") or self.profile.get("language", "pl")))
        address = changes.get("billing_address")
        if address is not None and address != self.billing_address:
            out.append(NewEvent("billing_address_updated", {"billing_address": address}))
        preferences = changes.get("notification_preferences")
        if preferences is not None and preferences != self.preferences:
            out.append(NewEvent("notification_preferences_updated", {"preferences": preferences}))
        if "mailing_list" in changes and bool(changes["mailing_list"]) != self.mailing_list:
            kind = "mailing_list_subscribed" if changes["mailing_list"] else "mailing_list_unsubscribed"
            out.append(NewEvent(kind, {}))
        return out

    # --- contacts (seed section 2) -----------------------------------------
    def _check_grant(self, permissions: list[str], actor: dict) -> None:
        """A contact who manages contacts may hand out only what they hold themselves."""
        if actor.get("type") != "contact":
            return
        held = (self.contacts.get(actor.get("id") or "") or {}).get("permissions") or []
        if set(permissions) - set(held):
            raise Forbidden("permission_not_held", {"permissions": "permission_not_held"})

    def _check_categories(self, contact: dict[str, Any], actor: dict, before: list[str] | None = None) -> None:
        """Mail follows permissions: a contact who logs in gets only the mail of what they may see
        (billing mail needs invoices.view, ...), and a contact acting may choose for anyone only the
        mail they could receive themselves (so nobody routes the owner's invoices to an address of theirs)."""
        chosen = set(contact.get("categories") or [])
        if contact.get("login") and chosen - set(v.allowed_categories(contact.get("permissions") or [])):
            raise Invalid("invalid_input", {"categories": "category_not_permitted"})
        if actor.get("type") == "contact":  # what they add, not what the owner chose before
            held = (self.contacts.get(actor.get("id") or "") or {}).get("permissions") or []
            if chosen - set(before or []) - set(v.allowed_categories(held)):
                raise Invalid("invalid_input", {"categories": "category_not_permitted"})

    def add_contact(self, contact_id: str, contact: dict[str, Any], actor: dict) -> list[NewEvent]:
        if not self.exists:
            raise NotFound("account")
        if any(c["email"] == contact["email"] for c in self.contacts.values()) or contact["email"] == self.email:
            raise Conflict("invalid_input", {"email": "email_taken"})
        contact = {**contact, "permissions": contact["permissions"] if contact["login"] else []}
        self._check_grant(contact["permissions"], actor)
        self._check_categories(contact, actor)
        added = NewEvent("contact_added", {"contact_id": contact_id, **contact, "active": False})
        return [added, self._invitation(contact_id, contact)] if contact["login"] else [added]

    def _invitation(self, contact_id: str, contact: dict[str, Any]) -> NewEvent:
        token, hashed = new_token()
        owner = f"{self.profile.get('first_name', '')} {self.profile.get('last_name', '')}".strip()
        data = {"contact_id": contact_id, "email": contact["email"], "first_name": contact["first_name"],
                "language": contact.get("language", "pl"), "owner_name": owner, "token": token,
                "token_hash": hashed, "expires_at": (clock.now() + INVITATION_TTL).isoformat()}  # fmt: skip
        return NewEvent("contact_invited", data)

    def contact(self, contact_id: str) -> dict[str, Any]:
        found = self.contacts.get(contact_id)
        if found is None:
            raise NotFound("contact")
        return found

    def update_contact(self, contact_id: str, changes: dict[str, Any], actor: dict) -> list[NewEvent]:
        current = self.contact(contact_id)
        if "permissions" in changes and not current["login"]:
            changes = {**changes, "permissions": []}
        if "permissions" in changes:
            self._check_grant(changes["permissions"], actor)
            if "categories" not in changes:  # fewer permissions: the mail of what they no longer see stops
                allowed = v.allowed_categories(changes["permissions"]) if current["login"] else v.CONTACT_CATEGORIES
                changes = {**changes, "categories": [c for c in current.get("categories") or [] if c in allowed]}
        if "categories" in changes:
            self._check_categories({**current, **changes}, actor, current.get("categories"))
        diff = {k: val for k, val in changes.items() if current.get(k) != val}
        return [NewEvent("contact_updated", {"contact_id": contact_id, "changes": diff})] if diff else []

    def resend_invitation(self, contact_id: str) -> list[NewEvent]:
        contact = self.contact(contact_id)
        if not contact["login"] or contact.get("active"):
            raise Conflict("contact_not_invited")
        return [self._invitation(contact_id, contact)]

    def remove_contact(self, contact_id: str) -> list[NewEvent]:
        current = self.contact(contact_id)
        return [NewEvent("contact_removed", {"contact_id": contact_id, "email": current["email"]})]

    def accept_invitation(self, contact_id: str, token: str, password_hash: str) -> list[NewEvent]:
        self.contact(contact_id)
        hashed = self.use_token(token, f"contact:{contact_id}")
        data = {"contact_id": contact_id, "token_hash": hashed, "password_hash": password_hash}
        return [NewEvent("contact_invitation_accepted", data)]

    def request_contact_password_reset(self, contact_id: str) -> list[NewEvent]:
        contact = self.contact(contact_id)
        token, hashed = new_token()
        data = {
            "contact_id": contact_id,
            "email": contact["email"],
            "language": contact.get("language", "pl"),
            "token": token,
            "token_hash": hashed,
            "expires_at": (clock.now() + RESET_TOKEN_TTL).isoformat(),
        }
        return [NewEvent("contact_password_reset_requested", data)]

    def complete_contact_password_reset(self, contact_id: str, token: str, password_hash: str) -> list[NewEvent]:
        self.contact(contact_id)
        hashed = self.use_token(token, f"contact_reset:{contact_id}")
        data = {"contact_id": contact_id, "token_hash": hashed, "password_hash": password_hash}
        return [NewEvent("contact_password_reset_completed", data)]

    # --- two-factor login (TOTP) -------------------------------------------
    @property
    def two_factor(self) -> bool:
        return bool(self.totp_secret)

    def enable_two_factor(self, secret: str, code: str, recovery_codes: list[str]) -> list[NewEvent]:
        if self.two_factor:
            raise Conflict("two_factor_already_enabled")
        step = totp_step(secret, code)
        if step is None:
            raise Invalid("invalid_input", {"code": "invalid_code"})
        if step <= self.last_totp_step:
            raise Invalid("invalid_input", {"code": "code_already_used"})
        hashes = [recovery_hash(c) for c in recovery_codes]
        # the confirming code is spent: it is not accepted again at the next login
        return [NewEvent("two_factor_enabled", {"secret": secret, "recovery_code_hashes": hashes}),
                NewEvent("totp_code_used", {"step": step})]  # fmt: skip

    def second_factor(self, code: str) -> list[NewEvent]:
        """Events for a correct code (an authenticator code is accepted once: its time step is
        remembered; a used recovery code is spent), or refuse."""
        if not self.two_factor:
            return []
        step = totp_step(self.totp_secret, code)
        if step is not None:
            if step <= self.last_totp_step:
                raise Invalid("invalid_input", {"code": "code_already_used"})
            return [NewEvent("totp_code_used", {"step": step})]
        hashed = recovery_hash(code)
        if hashed in self.recovery_hashes:
            return [NewEvent("recovery_code_used", {"code_hash": hashed})]
        raise Invalid("invalid_input", {"code": "invalid_code"})

    def disable_two_factor(self, code: str) -> list[NewEvent]:
        if not self.two_factor:
            raise Conflict("two_factor_not_enabled")
        return [*self.second_factor(code), NewEvent("two_factor_disabled", {})]


def totp_matches(secret: str, code: str, at: float | None = None) -> bool:
    return totp_step(secret, code, at) is not None


def totp_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step (30 s counter) whose code `code` is, or None. Authenticator apps keep real
    time, so the code is checked against the wall clock (never the tests' movable clock); one
    step either side is accepted."""
    code = "".join((code if isinstance(code, str) else "").split())
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    now = int((at if at is not None else time.time()) // TOTP_STEP_SECONDS)
    totp = pyotp.TOTP(secret)
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    return [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(count)]


def recovery_hash(code: str) -> str:
    return token_hash("".join((code or "").lower().replace("-", "").split()))


def _parse(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _naive(value: dt.datetime) -> dt.datetime:
    """Event times and the clock compared in UTC without a zone, whichever way they were stored."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
