"""The Account aggregate: every change to an account is decided here."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from kernel import clock
from kernel.aggregate import Aggregate
from kernel.errors import CommandError
from kernel.events import Event, NewEvent
from services.accounts import validation as v

VERIFY_TOKEN_TTL = dt.timedelta(hours=48)
RESET_TOKEN_TTL = dt.timedelta(hours=1)
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

    def on_email_verification_requested(self, data: dict, _: Event) -> None:
        self._drop_tokens("verify")
        self.open_tokens[data["token_hash"]] = ("verify", _parse(data["expires_at"]))

    def on_email_verified(self, data: dict, _: Event) -> None:
        self.email_verified = True
        self.open_tokens.pop(data.get("token_hash", ""), None)

    def on_email_changed(self, data: dict, _: Event) -> None:
        self.email = data["email"]
        self.email_verified = False

    def on_password_reset_requested(self, data: dict, _: Event) -> None:
        self._drop_tokens("reset")
        self.open_tokens[data["token_hash"]] = ("reset", _parse(data["expires_at"]))

    def on_password_reset_completed(self, data: dict, _: Event) -> None:
        self.password_hash = data["password_hash"]
        self.open_tokens.pop(data.get("token_hash", ""), None)

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

    def _drop_tokens(self, purpose: str) -> None:
        self.open_tokens = {h: t for h, t in self.open_tokens.items() if t[0] != purpose}

    # --- decisions ----------------------------------------------------------
    def register(self, email: str, password_hash: str, profile: dict, role: str = "customer") -> list[NewEvent]:
        if self.exists:
            raise CommandError("already_registered", status=409)
        registered = NewEvent(
            "account_registered", {"email": email, "password_hash": password_hash, "role": role, **profile}
        )
        return [registered, self._verification_request(email, profile.get("language", "pl"))]

    def create_staff(self, email: str, password_hash: str, profile: dict) -> list[NewEvent]:
        """A staff member, created by an operator's command (never by registration): verified at once."""
        if self.exists:
            raise CommandError("already_registered", status=409)
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

    def update_settings(self, changes: dict[str, Any]) -> list[NewEvent]:
        """Section 1 saved at once: only what differs becomes an event."""
        out: list[NewEvent] = []
        profile = {k: changes[k] for k in PROFILE_FIELDS if k in changes and changes[k] != self.profile.get(k)}
        if profile:
            out.append(NewEvent("profile_updated", {"changes": profile}))
        email = changes.get("email")
        if email and email != self.email:
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


def _parse(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
