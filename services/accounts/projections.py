"""Accounts read models, fed by the account events."""

from __future__ import annotations

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection
from services.accounts import validation as v

ALIAS = "accounts"


class AccountView(me.Document):
    id = me.StringField(primary_key=True)
    email = me.StringField(required=True)
    email_verified = me.BooleanField(default=False)
    verified_once = me.BooleanField(default=False)
    password_hash = me.StringField()
    role = me.StringField(default="customer")
    first_name = me.StringField(default="")
    last_name = me.StringField(default="")
    phone = me.StringField(default="")
    language = me.StringField(default="pl")
    billing_address = me.DictField()
    notification_preferences = me.DictField()
    mailing_list = me.BooleanField(default=False)
    two_factor = me.BooleanField(default=False)
    created_at = me.DateTimeField()
    updated_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "accounts", "indexes": ["email"], "auto_create_index": False}

    def public(self) -> dict:
        return {
            "account_id": self.id,
            "email": self.email,
            "email_verified": self.email_verified,
            "role": self.role,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "language": self.language,
            "billing_address": dict(self.billing_address or {}),
            "notification_preferences": dict(self.notification_preferences or {}),
            "mailing_list": bool(self.mailing_list),
            "two_factor": bool(self.two_factor),
            "created_at": self.created_at.isoformat() + "Z" if self.created_at else None,
        }


class AccountToken(me.Document):
    """Token hash -> account, so a link from a mail finds its account."""

    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    purpose = me.StringField(required=True)
    contact_id = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "account_tokens", "auto_create_index": False}


class ContactView(me.Document):
    """A person the owner added (section 2); with a login they act for the owner within `permissions`."""

    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)  # the owner's account
    email = me.StringField(required=True)
    first_name = me.StringField(default="")
    last_name = me.StringField(default="")
    phone = me.StringField(default="")
    language = me.StringField(default="pl")
    address = me.DictField()
    login = me.BooleanField(default=False)
    active = me.BooleanField(default=False)  # the invitation was accepted: a password is set
    password_hash = me.StringField()
    permissions = me.ListField(me.StringField())
    categories = me.ListField(me.StringField())
    added_at = me.DateTimeField()
    meta = {"db_alias": ALIAS, "collection": "contacts", "indexes": ["account_id", "email"],
            "auto_create_index": False}  # fmt: skip

    def public(self) -> dict:
        return {
            "contact_id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "language": self.language,
            "address": dict(self.address or {}),
            "login": bool(self.login),
            "active": bool(self.active),
            "permissions": list(self.permissions or []),
            "categories": list(self.categories or []),
            "added_at": self.added_at.isoformat() + "Z" if self.added_at else None,
        }


accounts = Projection("accounts", ALIAS, [AccountView, AccountToken, ContactView])


def _account_id(event: Event) -> str:
    return event.stream_id.removeprefix("account-")


def _touch(event: Event, **fields) -> None:
    AccountView.objects(id=_account_id(event)).update_one(set__updated_at=event.occurred_at, **fields)


@accounts.on("account_registered")
def _registered(event: Event) -> None:
    d = event.data
    AccountView(
        id=_account_id(event),
        email=d["email"],
        password_hash=d["password_hash"],
        role=d.get("role", "customer"),
        first_name=d.get("first_name", ""),
        last_name=d.get("last_name", ""),
        phone=d.get("phone", ""),
        language=d.get("language", "pl"),
        notification_preferences={c: True for c in v.CATEGORIES},
        mailing_list=bool(d.get("mailing_list", False)),
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
    ).save()


@accounts.on("email_verification_requested", "password_reset_requested")
def _token_issued(event: Event) -> None:
    purpose = "verify" if event.type == "email_verification_requested" else "reset"
    AccountToken.objects(account_id=_account_id(event), purpose=purpose).delete()
    AccountToken(id=event.data["token_hash"], account_id=_account_id(event), purpose=purpose).save()


@accounts.on("email_verified")
def _verified(event: Event) -> None:
    AccountToken.objects(id=event.data.get("token_hash")).delete()
    _touch(event, set__email_verified=True, set__verified_once=True)


@accounts.on("email_changed")
def _email_changed(event: Event) -> None:
    _touch(event, set__email=event.data["email"], set__email_verified=False)


@accounts.on("password_reset_completed")
def _password_reset(event: Event) -> None:
    AccountToken.objects(id=event.data.get("token_hash")).delete()
    _touch(event, set__password_hash=event.data["password_hash"])


@accounts.on("password_changed")
def _password_changed(event: Event) -> None:
    AccountToken.objects(account_id=_account_id(event), purpose="reset").delete()  # an older reset link is void
    _touch(event, set__password_hash=event.data["password_hash"])


@accounts.on("profile_updated")
def _profile_updated(event: Event) -> None:
    _touch(event, **{f"set__{k}": val for k, val in event.data["changes"].items()})


@accounts.on("billing_address_updated")
def _address_updated(event: Event) -> None:
    _touch(event, set__billing_address=event.data["billing_address"])


@accounts.on("notification_preferences_updated")
def _preferences_updated(event: Event) -> None:
    _touch(event, set__notification_preferences=event.data["preferences"])


@accounts.on("mailing_list_subscribed", "mailing_list_unsubscribed")
def _mailing_list(event: Event) -> None:
    _touch(event, set__mailing_list=event.type == "mailing_list_subscribed")


@accounts.on("two_factor_enabled", "two_factor_disabled")
def _two_factor(event: Event) -> None:
    _touch(event, set__two_factor=event.type == "two_factor_enabled")


@accounts.on("contact_added")
def _contact_added(event: Event) -> None:
    d = event.data
    ContactView(
        id=d["contact_id"], account_id=_account_id(event), email=d["email"], first_name=d.get("first_name", ""),
        last_name=d.get("last_name", ""), phone=d.get("phone", ""), language=d.get("language", "pl"),
        address=d.get("address") or {}, login=bool(d.get("login")), active=False,
        permissions=d.get("permissions") or [], categories=d.get("categories") or [], added_at=event.occurred_at,
    ).save()  # fmt: skip


@accounts.on("contact_invited")
def _contact_invited(event: Event) -> None:
    AccountToken.objects(contact_id=event.data["contact_id"]).delete()
    AccountToken(id=event.data["token_hash"], account_id=_account_id(event), purpose="contact",
                 contact_id=event.data["contact_id"]).save()  # fmt: skip


@accounts.on("contact_password_reset_requested")
def _contact_reset_requested(event: Event) -> None:
    AccountToken.objects(contact_id=event.data["contact_id"], purpose="contact_reset").delete()
    AccountToken(id=event.data["token_hash"], account_id=_account_id(event), purpose="contact_reset",
                 contact_id=event.data["contact_id"]).save()  # fmt: skip


@accounts.on("contact_invitation_accepted", "contact_password_reset_completed")
def _contact_password_set(event: Event) -> None:
    AccountToken.objects(id=event.data.get("token_hash")).delete()
    ContactView.objects(id=event.data["contact_id"]).update_one(
        set__active=True, set__password_hash=event.data["password_hash"]
    )


@accounts.on("contact_updated")
def _contact_updated(event: Event) -> None:
    changes = {f"set__{k}": val for k, val in event.data["changes"].items()}
    if changes:
        ContactView.objects(id=event.data["contact_id"]).update_one(**changes)


@accounts.on("contact_removed")
def _contact_removed(event: Event) -> None:
    AccountToken.objects(contact_id=event.data["contact_id"]).delete()
    ContactView.objects(id=event.data["contact_id"]).delete()


PROJECTIONS = [accounts]
