"""What the accounts service publishes (stream `account-<account_id>`: the data carries no account_id).

The hashes and the TOTP secret are private fields (kernel.contracts.ACCOUNT_PRIVATE_FIELDS): declared
here because the store keeps them, left out of the published message and of the consumer's model.
The link `token`s are published on purpose: notifications mails them.
"""

from __future__ import annotations

from typing import Literal

from kernel.contracts import ACCOUNTS, CONTACT_MAIL_CATEGORIES, CONTACT_PERMISSIONS, MAIL_CATEGORIES
from kernel.contracts.base import Contract, IsoDateTime, Language, Part, by_type

SOURCE = ACCOUNTS
Permission = Literal[CONTACT_PERMISSIONS]  # type: ignore[valid-type]
ContactCategory = Literal[CONTACT_MAIL_CATEGORIES]  # type: ignore[valid-type]
MailCategory = Literal[MAIL_CATEGORIES]  # type: ignore[valid-type]


class Address(Part):
    """A billing address as accounts cleans it: every key, or none at all (a contact without one)."""

    company: str = ""
    nip: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""


class ProfileChanges(Part):
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    language: Language | None = None


class ContactChanges(ProfileChanges):
    address: Address | None = None
    permissions: list[Permission] | None = None
    categories: list[ContactCategory] | None = None


class AccountRegistered(Contract):
    TYPE = "account_registered"
    email: str
    password_hash: str  # private
    role: Literal["customer", "staff"] = "customer"  # absent in accounts registered before staff existed
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    language: Language = "pl"
    mailing_list: bool = False


class EmailVerificationRequested(Contract):
    TYPE = "email_verification_requested"
    email: str
    token: str
    token_hash: str  # private
    expires_at: IsoDateTime
    language: Language


class RegistrationAttempted(Contract):
    """Someone registered with an address this account (or its contact) already uses."""

    TYPE = "registration_attempted"
    email: str
    language: Language
    contact_id: str | None = None


class EmailVerified(Contract):
    TYPE = "email_verified"
    email: str
    token_hash: str | None = None  # private; absent when an operator created a verified staff account
    by: Literal["operator"] | None = None


class EmailChanged(Contract):
    TYPE = "email_changed"
    old_email: str
    email: str


class LoginSucceeded(Contract):
    TYPE = "login_succeeded"
    ip: str | None
    session_id: str
    contact_id: str | None = None


class LoginFailed(Contract):
    TYPE = "login_failed"
    ip: str | None
    reason: Literal["bad_password", "bad_code"]
    contact_id: str | None = None


class LoggedOut(Contract):
    TYPE = "logged_out"
    session_id: str


class PasswordResetRequested(Contract):
    TYPE = "password_reset_requested"
    email: str
    token: str
    token_hash: str  # private
    expires_at: IsoDateTime
    language: Language


class PasswordResetCompleted(Contract):
    TYPE = "password_reset_completed"
    token_hash: str  # private
    password_hash: str  # private


class PasswordChanged(Contract):
    TYPE = "password_changed"
    password_hash: str  # private


class ProfileUpdated(Contract):
    TYPE = "profile_updated"
    changes: ProfileChanges


class BillingAddressUpdated(Contract):
    TYPE = "billing_address_updated"
    billing_address: Address


class NotificationPreferencesUpdated(Contract):
    TYPE = "notification_preferences_updated"
    preferences: dict[MailCategory, bool]


class MailingListSubscribed(Contract):
    TYPE = "mailing_list_subscribed"


class MailingListUnsubscribed(Contract):
    TYPE = "mailing_list_unsubscribed"
    via: Literal["link"] | None = None  # from a newsletter's link; absent from the settings


class ContactAdded(Contract):
    TYPE = "contact_added"
    contact_id: str
    email: str
    first_name: str
    last_name: str
    phone: str
    language: Language
    address: Address
    login: bool
    permissions: list[Permission]
    categories: list[ContactCategory]
    active: bool = False


class ContactInvited(Contract):
    TYPE = "contact_invited"
    contact_id: str
    email: str
    first_name: str
    language: Language
    owner_name: str
    token: str
    token_hash: str  # private
    expires_at: IsoDateTime


class ContactInvitationAccepted(Contract):
    TYPE = "contact_invitation_accepted"
    contact_id: str
    token_hash: str  # private
    password_hash: str  # private


class ContactUpdated(Contract):
    TYPE = "contact_updated"
    contact_id: str
    changes: ContactChanges


class ContactRemoved(Contract):
    TYPE = "contact_removed"
    contact_id: str
    email: str


class ContactPasswordResetRequested(Contract):
    TYPE = "contact_password_reset_requested"
    contact_id: str
    email: str
    language: Language
    token: str
    token_hash: str  # private
    expires_at: IsoDateTime


class ContactPasswordResetCompleted(Contract):
    TYPE = "contact_password_reset_completed"
    contact_id: str
    token_hash: str  # private
    password_hash: str  # private


class TwoFactorEnabled(Contract):
    TYPE = "two_factor_enabled"
    secret: str  # private
    recovery_code_hashes: list[str]  # private


class TwoFactorDisabled(Contract):
    TYPE = "two_factor_disabled"


class TotpCodeUsed(Contract):
    """An authenticator code's time step, accepted once."""

    TYPE = "totp_code_used"
    step: int


class RecoveryCodeUsed(Contract):
    TYPE = "recovery_code_used"
    code_hash: str  # private


class SessionEnded(Contract):
    TYPE = "session_ended"
    session_id: str


class OtherSessionsEnded(Contract):
    TYPE = "other_sessions_ended"
    count: int
    kept: str | None
    why: Literal["email_changed", "password_changed"] | None = None  # absent when the owner ended them


EVENTS = by_type(
    AccountRegistered, EmailVerificationRequested, RegistrationAttempted, EmailVerified, EmailChanged,
    LoginSucceeded, LoginFailed, LoggedOut, PasswordResetRequested, PasswordResetCompleted, PasswordChanged,
    ProfileUpdated, BillingAddressUpdated, NotificationPreferencesUpdated, MailingListSubscribed,
    MailingListUnsubscribed, ContactAdded, ContactInvited, ContactInvitationAccepted, ContactUpdated, ContactRemoved,
    ContactPasswordResetRequested, ContactPasswordResetCompleted, TwoFactorEnabled, TwoFactorDisabled, TotpCodeUsed,
    RecoveryCodeUsed, SessionEnded, OtherSessionsEnded,
)  # fmt: skip
