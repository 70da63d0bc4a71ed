"""The owner's personal data, billing address and preferences (a new e-mail address needs the
current password and ends the other sessions), and what notifications needs to address a mail."""

from __future__ import annotations

from typing import Any

from services.accounts import validation as v
from services.accounts.app import Deps, account_view, login, owner_meta, raise_if
from services.accounts.app import guards as g
from services.accounts.projections import AccountView, ContactView

TEXT_CHECKS = {"first_name": v.check_name, "last_name": v.check_name, "phone": v.check_phone,
               "language": v.check_language}  # fmt: skip


def get(account_id: str) -> dict[str, Any]:
    return account_view(account_id).public()


def update_settings(deps: Deps, account_id: str, changes: dict[str, Any], ctx: dict | None,
                    current_password: str | None, code: str | None,
                    keep_session_id: str | None) -> dict[str, Any]:  # fmt: skip
    """Validate everything first; store all of it or nothing. A new e-mail address needs the
    current password (and the second factor when on) and ends the owner's other sessions."""
    view = account_view(account_id)
    clean, errors = validate_settings(changes)
    raise_if(errors)
    moving = "email" in clean and clean["email"] != view.email
    if moving:
        g.check_reauthentication(account_id, current_password, code, ctx)
        g.claim_email(deps, clean["email"], account_id)
    password_ok = g.password_check(current_password) if moving else None
    try:
        g.reauthenticated(deps, account_id, ctx, lambda a: a.update_settings(clean, password_ok, code),
                          owner_meta(ctx, account_id))  # fmt: skip
    except Exception:
        if moving:
            g.release_email(clean["email"], account_id=account_id)
        raise
    if moving:
        g.release_email(view.email, account_id=account_id)
        login.end_sessions_because(deps, account_id, keep_session_id, "email_changed", ctx)
    return AccountView.objects(id=account_id).first().public()


def validate_settings(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, check in TEXT_CHECKS.items():
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
    for field, check in (("billing_address", v.check_billing_address), ("notification_preferences",
                                                                         v.check_preferences)):  # fmt: skip
        if field in changes:
            if not isinstance(changes[field], dict):
                errors[field] = "invalid_type"
            else:
                clean[field], field_errors = check(changes[field])
                errors.update(field_errors)
    if "mailing_list" in changes:
        if not isinstance(changes["mailing_list"], bool):
            errors["mailing_list"] = "invalid_type"
        else:
            clean["mailing_list"] = changes["mailing_list"]
    return clean, errors


def notification_target(account_id: str) -> dict[str, Any] | None:
    """What notifications needs to address a mail: e-mail, name, language, preferences, and the
    contacts with the mail categories each of them chose."""
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
