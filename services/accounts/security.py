"""Account security: two-factor login (TOTP), active sessions, account history,
the data export, and the mailing list (opt-in recipients, signed unsubscribe)."""

from __future__ import annotations

from typing import Any

import pyotp
import segno

from kernel.aggregate import execute
from kernel.caller import SYSTEM, rpc
from kernel.contracts import SECRET_FIELDS
from kernel.errors import CommandError, Conflict, NotFound, Throttled
from kernel.events import Event, NewEvent, command_meta
from services.accounts import sessions
from services.accounts.domain import Account, account_stream, new_recovery_codes
from services.accounts.projections import AccountView, ContactView

ISSUER = "Panel Klienta"
UNSUBSCRIBE = "unsubscribe"


def _owner_meta(ctx: dict | None, account_id: str) -> dict:
    return command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account", "id": account_id})


def _view(account_id: str) -> AccountView:
    view = AccountView.objects(id=account_id).first()
    if not view:
        raise NotFound("account")
    return view


def without_secrets(value: Any) -> Any:
    """A copy of event data with every secret field (tokens, hashes, TOTP secret) left out."""
    if isinstance(value, dict):
        return {k: without_secrets(x) for k, x in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [without_secrets(x) for x in value]
    return value


def contact_names(events: list[Event]) -> dict[str, str]:
    """contact id -> name, so the history can say which contact acted (even one removed since)."""
    return {
        e.data["contact_id"]: f"{e.data.get('first_name', '')} {e.data.get('last_name', '')}".strip()
        for e in events
        if e.type == "contact_added"
    }


def history_entry(event: Event, names: dict[str, str] | None = None) -> dict[str, Any]:
    actor = event.meta.get("actor") or {"type": "system"}
    shown = {k: actor[k] for k in ("type", "id") if k in actor}
    if actor.get("type") == "contact" and (names or {}).get(actor.get("id")):
        shown["name"] = names[actor["id"]]
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat() + "Z",
        "actor": shown,
        "ip": event.data.get("ip") or event.meta.get("ip"),
        "data": without_secrets(event.data),
    }


class SecurityRpc:
    """Mixed into AccountsService (uses its `events` and `_record`)."""

    # --- two-factor login --------------------------------------------------
    @rpc
    def start_two_factor(self, account_id: str) -> dict[str, str]:
        """A new secret to scan; it counts only once a code from it is confirmed."""
        view = _view(account_id)
        if view.two_factor:
            raise Conflict("two_factor_already_enabled")
        secret = pyotp.random_base32()
        sessions.start_two_factor_setup(account_id, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=view.email, issuer_name=ISSUER)
        return {"secret": secret, "uri": uri, "qr_svg": segno.make(uri, error="m").svg_inline(scale=4)}

    @rpc
    def confirm_two_factor(self, account_id: str, code: str, ctx: dict | None = None) -> dict[str, list[str]]:
        """Turn 2FA on with a code from the app; the recovery codes are returned this once only."""
        secret = sessions.pending_two_factor_secret(account_id)
        if not secret:
            raise Conflict("two_factor_setup_expired")
        codes = new_recovery_codes()
        execute(self.events, Account, account_stream(account_id),
                lambda a: a.enable_two_factor(secret, code, codes), _owner_meta(ctx, account_id))  # fmt: skip
        sessions.finish_two_factor_setup(account_id)
        return {"recovery_codes": codes}

    @rpc
    def disable_two_factor(self, account_id: str, code: str, ctx: dict | None = None) -> dict:
        """A code from the app or a recovery code is needed again; wrong codes count as failed logins."""
        ip = (ctx or {}).get("ip")
        if sessions.is_throttled(account_id, ip):
            raise Throttled("too_many_attempts")
        try:
            execute(self.events, Account, account_stream(account_id), lambda a: a.disable_two_factor(code),
                    _owner_meta(ctx, account_id))  # fmt: skip
        except CommandError as exc:
            if exc.code == "invalid_input":
                sessions.record_failure(account_id, ip)
            raise
        return {}

    # --- sessions ----------------------------------------------------------
    @rpc
    def list_sessions(self, account_id: str, current_session_id: str | None = None) -> list[dict[str, Any]]:
        return [
            {"session_id": s.session_id, "ip": s.ip, "user_agent": s.user_agent,
             "created_at": s.created_at.isoformat() + "Z", "current": s.session_id == current_session_id}
            for s in sessions.live_sessions(account_id)
        ]  # fmt: skip

    @rpc
    def end_session(self, account_id: str, session_id: str, ctx: dict | None = None) -> dict:
        if not sessions.close_session_by_id(account_id, session_id):
            raise NotFound("session")
        self._record(account_id, "session_ended", {"session_id": session_id}, ctx or {})
        return {}

    @rpc
    def end_other_sessions(self, account_id: str, current_session_id: str, ctx: dict | None = None) -> dict:
        ended = sessions.close_other_sessions(account_id, current_session_id)
        if ended:
            self._record(account_id, "other_sessions_ended", {"count": ended, "kept": current_session_id}, ctx or {})
        return {"ended": ended}

    # --- history and export ------------------------------------------------
    @rpc
    def account_history(self, account_id: str, page: int = 1, per_page: int = 25) -> dict[str, Any]:
        """Every event on the account, newest first, read from the event store; never a secret."""
        _view(account_id)
        events = list(reversed(self.events.load(account_stream(account_id))))
        page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
        names = contact_names(events)
        items = [history_entry(e, names) for e in events[(page - 1) * per_page : page * per_page]]
        return {"items": items, "total": len(events), "page": page, "per_page": per_page}

    @rpc
    def export_account(self, account_id: str) -> dict[str, Any]:
        """What accounts holds about the customer: profile, contacts, sessions, full history."""
        profile = _view(account_id).public()
        contacts = [c.public() for c in ContactView.objects(account_id=account_id)]
        events = self.events.load(account_stream(account_id))
        names = contact_names(events)
        history = [history_entry(e, names) for e in events]
        return {"profile": profile, "contacts": contacts, "sessions": self.list_sessions(account_id),
                "history": history}  # fmt: skip

    # --- mailing list ------------------------------------------------------
    @rpc(actors=SYSTEM)
    def mailing_list_recipients(self) -> list[dict[str, str]]:
        """Verified customers who opted in, each with their signed unsubscribe token."""
        found = AccountView.objects(mailing_list=True, email_verified=True, role="customer")
        return [
            {"account_id": a.id, "email": a.email, "first_name": a.first_name, "language": a.language,
             "unsubscribe_token": sessions.sign(UNSUBSCRIBE, a.id)}
            for a in found
        ]  # fmt: skip

    @rpc
    def unsubscribe(self, token: str, ctx: dict | None = None) -> dict[str, str]:
        """One click from a newsletter, no login: takes effect at once, as an event."""
        account_id = sessions.unsign(UNSUBSCRIBE, token)
        view = AccountView.objects(id=account_id).first() if account_id else None
        if not view:
            raise CommandError("invalid_token")
        actor = {"type": "unsubscribe_link", "id": account_id}

        def decide(account: Account) -> list[NewEvent]:
            return [NewEvent("mailing_list_unsubscribed", {"via": "link"})] if account.mailing_list else []

        execute(self.events, Account, account_stream(account_id), decide, command_meta(ctx, actor=actor))
        return {"email": view.email}
