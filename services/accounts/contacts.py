"""Contacts (seed section 2): people the owner adds, with permissions and chosen mail.

A contact with a login gets an invitation, sets a password and then acts for
the owner's account within their permissions (the gateway enforces them); a
contact without a login only receives the mail categories chosen for them.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from mongoengine import NotUniqueError

from kernel import clock
from kernel.aggregate import execute
from kernel.caller import rpc
from kernel.errors import CommandError, Conflict, Invalid, NotFound
from kernel.events import command_meta, new_id
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.domain import Account, account_stream, token_hash
from services.accounts.projections import AccountToken, AccountView, ContactView

hasher = PasswordHasher()


def _actor(ctx: dict | None, account_id: str) -> dict:
    return (ctx or {}).get("actor") or {"type": "account", "id": account_id}


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid("invalid_input", errors)


class ContactsRpc:
    """Mixed into AccountsService (uses its `events`)."""

    @rpc
    def list_contacts(self, account_id: str) -> list[dict[str, Any]]:
        return [c.public() for c in ContactView.objects(account_id=account_id).order_by("last_name", "first_name")]

    @rpc
    def get_contact(self, account_id: str, contact_id: str) -> dict[str, Any]:
        found = ContactView.objects(id=contact_id, account_id=account_id).first()
        if not found:
            raise NotFound("contact")
        return found.public()

    @rpc
    def add_contact(self, account_id: str, data: dict[str, Any], ctx: dict | None = None) -> dict[str, Any]:
        if not AccountView.objects(id=account_id).first():
            raise NotFound("account")
        if not isinstance(data, dict):
            raise Invalid("invalid_input")
        clean, errors = v.check_contact(data, creating=True)
        _raise_if(errors)
        contact_id = new_id()
        if clean["login"]:
            self._claim_contact_email(clean["email"], account_id, contact_id)
        try:
            execute(self.events, Account, account_stream(account_id),
                    lambda a: a.add_contact(contact_id, clean, _actor(ctx, account_id)),
                    command_meta(ctx, actor=_actor(ctx, account_id)))  # fmt: skip
        except Exception:
            sessions.EmailClaim.objects(id=clean["email"], contact_id=contact_id).delete()
            raise
        return ContactView.objects(id=contact_id).first().public()

    def _claim_contact_email(self, email: str, account_id: str, contact_id: str) -> None:
        """A contact who logs in needs an e-mail no account and no other contact uses."""
        try:
            sessions.EmailClaim(id=email, account_id=account_id, contact_id=contact_id,
                                claimed_at=clock.now()).save(force_insert=True)  # fmt: skip
        except NotUniqueError:
            raise Conflict("invalid_input", {"email": "email_taken"}) from None

    @rpc
    def update_contact(self, account_id: str, contact_id: str, changes: dict[str, Any],
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        self.get_contact(account_id, contact_id)
        if not isinstance(changes, dict):
            raise Invalid("invalid_input")
        unknown = {k: "unknown_field" for k in changes if k in ("email", "login") or k not in CONTACT_FIELDS}
        _raise_if(unknown)
        clean, errors = v.check_contact(changes, creating=False)
        _raise_if(errors)
        execute(self.events, Account, account_stream(account_id),
                lambda a: a.update_contact(contact_id, clean, _actor(ctx, account_id)),
                command_meta(ctx, actor=_actor(ctx, account_id)))  # fmt: skip
        return self.get_contact(account_id, contact_id)

    @rpc
    def resend_contact_invitation(self, account_id: str, contact_id: str, ctx: dict | None = None) -> dict:
        """A new invitation link (the old one stops working) for a contact who has not set a password yet."""
        self.get_contact(account_id, contact_id)
        execute(self.events, Account, account_stream(account_id), lambda a: a.resend_invitation(contact_id),
                command_meta(ctx, actor=_actor(ctx, account_id)))  # fmt: skip
        return {}

    @rpc
    def remove_contact(self, account_id: str, contact_id: str, ctx: dict | None = None) -> dict:
        """The contact is gone at once: their sessions end and their e-mail is free again."""
        self.get_contact(account_id, contact_id)
        execute(self.events, Account, account_stream(account_id), lambda a: a.remove_contact(contact_id),
                command_meta(ctx, actor=_actor(ctx, account_id)))  # fmt: skip
        sessions.close_contact_sessions(contact_id)
        sessions.EmailClaim.objects(contact_id=contact_id).delete()
        return {}

    @rpc
    def accept_contact_invitation(self, token: str, password: str, ctx: dict | None = None) -> dict[str, str]:
        _raise_if({"password": code} if (code := v.check_password(password)) else {})
        found = AccountToken.objects(id=token_hash(token or ""), purpose="contact").first()
        if not found:
            raise CommandError("invalid_token")
        new_hash = hasher.hash(password)
        actor = {"type": "contact", "id": found.contact_id, "account_id": found.account_id}
        execute(self.events, Account, account_stream(found.account_id),
                lambda a: a.accept_invitation(found.contact_id, token, new_hash),
                command_meta(ctx, actor=actor))  # fmt: skip
        return {"account_id": found.account_id, "contact_id": found.contact_id}


CONTACT_FIELDS = ("first_name", "last_name", "phone", "language", "address", "permissions", "categories")
