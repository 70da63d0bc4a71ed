"""Account mails (category "security", never switched off): verification, welcome, password reset,
"this address already has an account", changed password and e-mail, contact invitations, two-factor
login switched on or off."""

from __future__ import annotations

from kernel.contracts.accounts import (
    ContactInvited,
    ContactPasswordResetRequested,
    EmailChanged,
    EmailVerificationRequested,
    RegistrationAttempted,
)
from kernel.events import Event
from services.notifications.app import Deps
from services.notifications.app.mails import mail, target


def verification_requested(deps: Deps, event: Event) -> None:
    p: EmailVerificationRequested = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "email": p.email, "token": p.token}
    mail(deps, event, owner, "security", "verify_email", context, to=p.email, language=p.language)


def password_reset_requested(deps: Deps, event: Event) -> None:
    mail(deps, event, target(deps, event), "security", "password_reset", {"token": event.payload.token})


def registration_attempted(deps: Deps, event: Event) -> None:
    """Someone registered with an address already in use: the address is told (log in or reset),
    the person registering was answered as if it were new."""
    p: RegistrationAttempted = event.payload
    mail(deps, event, target(deps, event), "security", "account_exists", {"email": p.email}, to=p.email,
         language=p.language)  # fmt: skip


def email_changed(deps: Deps, event: Event) -> None:
    p: EmailChanged = event.payload
    mail(deps, event, target(deps, event), "security", "email_changed", {"old_email": p.old_email, "email": p.email},
         to=p.old_email)  # fmt: skip


def contact_invited(deps: Deps, event: Event) -> None:
    p: ContactInvited = event.payload
    context = {"first_name": p.first_name, "owner_name": p.owner_name, "token": p.token}
    mail(deps, event, target(deps, event), "security", "contact_invitation", context, to=p.email,
         language=p.language, hide=p.token)  # fmt: skip


def contact_password_reset_requested(deps: Deps, event: Event) -> None:
    p: ContactPasswordResetRequested = event.payload
    mail(deps, event, target(deps, event), "security", "password_reset", {"token": p.token}, to=p.email,
         language=p.language, hide=p.token)  # fmt: skip


def security_notice(deps: Deps, event: Event, template: str) -> None:
    """A short notice to the owner (welcome, password changed, two-factor login on or off)."""
    owner = target(deps, event)
    mail(deps, event, owner, "security", template, {"first_name": owner["first_name"]})
