"""Accounts' entrypoints: registration, login, sessions, passwords, the owner's settings, contacts,
two-factor login, history and export, the mailing list and staff tools (seed sections 1-2). Each
method hands its arguments to the application layer (`services.accounts.app`), which decides through
`services.accounts.domain`."""

from __future__ import annotations

from typing import Any

from kernel.app import Deps
from kernel.caller import OPERATOR, STAFF, SYSTEM, rpc
from kernel.service import EventSourcedService
from services.accounts import sessions
from services.accounts.app import (
    contacts,
    history,
    login,
    mailing_list,
    passwords,
    profile,
    registration,
    staff,
    two_factor,
)
from services.accounts.projections import PROJECTIONS


class AccountsService(EventSourcedService):
    name = "accounts"
    projections = PROJECTIONS
    documents = list(sessions.OPERATIONAL_DOCUMENTS)

    @property
    def deps(self) -> Deps:
        return Deps(self.events)

    # --- registration and verification -------------------------------------
    @rpc
    def register(self, email: str, password: str, first_name: str, last_name: str,
                 language: str = "pl", ctx: dict | None = None, password_repeat: str | None = None) -> dict[str, str]:  # fmt: skip
        return registration.register(self.deps, email, password, first_name, last_name, language, ctx, password_repeat)

    @rpc
    def verify_email(self, token: str, ctx: dict | None = None) -> dict[str, str]:
        return registration.verify_email(self.deps, token, ctx)

    @rpc
    def resend_verification(self, email: str, ctx: dict | None = None) -> dict:
        return registration.resend_verification(self.deps, email, ctx)

    # --- staff: accounts made by `python -m services.accounts.staff`, never by registration --------
    @rpc(actors=OPERATOR)
    def create_staff(self, email: str, first_name: str, last_name: str, password: str,
                     ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        """Only the operator's command may call this (actor type "operator", which no web request carries)."""
        return staff.create_staff(self.deps, email, first_name, last_name, password, ctx)

    @rpc(actors=STAFF)
    def find_customers(self, query: str, ctx: dict | None = None, limit: int = 20) -> dict[str, Any]:
        return staff.find_customers(query, limit)

    # --- login, sessions ----------------------------------------------------
    @rpc
    def login(self, email: str, password: str, ctx: dict | None = None) -> dict[str, Any]:
        return login.login(self.deps, email, password, ctx)

    @rpc
    def login_second_factor(self, challenge: str, code: str, ctx: dict | None = None) -> dict[str, Any]:
        return login.second_factor(self.deps, challenge, code, ctx)

    @rpc
    def authenticate(self, token: str) -> dict[str, Any] | None:
        return login.authenticate(token)

    @rpc
    def logout(self, token: str, ctx: dict | None = None) -> dict:
        return login.logout(self.deps, token, ctx)

    @rpc
    def list_sessions(self, account_id: str, current_session_id: str | None = None) -> list[dict[str, Any]]:
        return login.list_sessions(account_id, current_session_id)

    @rpc
    def end_session(self, account_id: str, session_id: str, ctx: dict | None = None) -> dict:
        return login.end_session(self.deps, account_id, session_id, ctx)

    @rpc
    def end_other_sessions(self, account_id: str, current_session_id: str, ctx: dict | None = None) -> dict:
        return login.end_other_sessions(self.deps, account_id, current_session_id, ctx)

    # --- passwords ------------------------------------------------------------
    @rpc
    def request_password_reset(self, email: str, ctx: dict | None = None) -> dict:
        return passwords.request_reset(self.deps, email, ctx)

    @rpc
    def confirm_password_reset(self, token: str, password: str, ctx: dict | None = None) -> dict:
        return passwords.confirm_reset(self.deps, token, password, ctx)

    @rpc
    def change_password(self, account_id: str, current_password: str, new_password: str, code: str | None = None,
                        keep_session_id: str | None = None, ctx: dict | None = None) -> dict[str, int]:  # fmt: skip
        return passwords.change(self.deps, account_id, current_password, new_password, code, keep_session_id, ctx)

    # --- section 1: personal data, billing address, preferences -----------
    @rpc
    def get_profile(self, account_id: str) -> dict[str, Any]:
        return profile.get(account_id)

    @rpc
    def update_settings(self, account_id: str, changes: dict[str, Any], ctx: dict | None = None,
                        current_password: str | None = None, code: str | None = None,
                        keep_session_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        return profile.update_settings(self.deps, account_id, changes, ctx, current_password, code, keep_session_id)

    @rpc(actors=SYSTEM)
    def get_notification_target(self, account_id: str) -> dict[str, Any] | None:
        return profile.notification_target(account_id)

    # --- section 2: contacts --------------------------------------------------
    @rpc
    def list_contacts(self, account_id: str) -> list[dict[str, Any]]:
        return contacts.list_all(account_id)

    @rpc
    def get_contact(self, account_id: str, contact_id: str) -> dict[str, Any]:
        return contacts.get(account_id, contact_id)

    @rpc
    def add_contact(self, account_id: str, data: dict[str, Any], ctx: dict | None = None) -> dict[str, Any]:
        return contacts.add(self.deps, account_id, data, ctx)

    @rpc
    def update_contact(self, account_id: str, contact_id: str, changes: dict[str, Any],
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return contacts.update(self.deps, account_id, contact_id, changes, ctx)

    @rpc
    def resend_contact_invitation(self, account_id: str, contact_id: str, ctx: dict | None = None) -> dict:
        return contacts.resend_invitation(self.deps, account_id, contact_id, ctx)

    @rpc
    def remove_contact(self, account_id: str, contact_id: str, ctx: dict | None = None) -> dict:
        return contacts.remove(self.deps, account_id, contact_id, ctx)

    @rpc
    def accept_contact_invitation(self, token: str, password: str, ctx: dict | None = None) -> dict[str, str]:
        return contacts.accept_invitation(self.deps, token, password, ctx)

    # --- two-factor login -----------------------------------------------------
    @rpc
    def start_two_factor(self, account_id: str) -> dict[str, str]:
        return two_factor.start(account_id)

    @rpc
    def confirm_two_factor(self, account_id: str, code: str, ctx: dict | None = None) -> dict[str, list[str]]:
        return two_factor.confirm(self.deps, account_id, code, ctx)

    @rpc
    def disable_two_factor(self, account_id: str, code: str, ctx: dict | None = None) -> dict:
        return two_factor.disable(self.deps, account_id, code, ctx)

    # --- history, export, mailing list ----------------------------------------
    @rpc
    def account_history(self, account_id: str, page: int = 1, per_page: int = 25) -> dict[str, Any]:
        return history.page(self.deps, account_id, page, per_page)

    @rpc
    def export_account(self, account_id: str) -> dict[str, Any]:
        return history.export(self.deps, account_id)

    @rpc(actors=SYSTEM)
    def mailing_list_recipients(self) -> list[dict[str, str]]:
        return mailing_list.recipients()

    @rpc
    def unsubscribe(self, token: str, ctx: dict | None = None) -> dict[str, str]:
        return mailing_list.unsubscribe(self.deps, token, ctx)
