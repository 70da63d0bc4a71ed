"""Two-factor login (TOTP): set up with a code from the app, recovery codes shown once, switched
off with a code again (wrong codes count as failed logins)."""

from __future__ import annotations

import pyotp
import segno

from kernel.errors import CommandError, Conflict, Throttled
from services.accounts import sessions
from services.accounts.app import Deps, account_view, do, owner_meta
from services.accounts.domain import new_recovery_codes

ISSUER = "Panel Klienta"


def start(account_id: str) -> dict[str, str]:
    """A new secret to scan; it counts only once a code from it is confirmed."""
    view = account_view(account_id)
    if view.two_factor:
        raise Conflict("two_factor_already_enabled")
    secret = pyotp.random_base32()
    sessions.start_two_factor_setup(account_id, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=view.email, issuer_name=ISSUER)
    return {"secret": secret, "uri": uri, "qr_svg": segno.make(uri, error="m").svg_inline(scale=4)}


def confirm(deps: Deps, account_id: str, code: str, ctx: dict | None) -> dict[str, list[str]]:
    """Turn 2FA on with a code from the app; the recovery codes are returned this once only."""
    secret = sessions.pending_two_factor_secret(account_id)
    if not secret:
        raise Conflict("two_factor_setup_expired")
    codes = new_recovery_codes()
    do(deps, account_id, lambda a: a.enable_two_factor(secret, code, codes), owner_meta(ctx, account_id))
    sessions.finish_two_factor_setup(account_id)
    return {"recovery_codes": codes}


def disable(deps: Deps, account_id: str, code: str, ctx: dict | None) -> dict:
    """A code from the app or a recovery code is needed again; wrong codes count as failed logins."""
    ip = (ctx or {}).get("ip")
    if sessions.is_throttled(account_id, ip):
        raise Throttled("too_many_attempts")
    try:
        do(deps, account_id, lambda a: a.disable_two_factor(code), owner_meta(ctx, account_id))
    except CommandError as exc:
        if exc.code == "invalid_input":
            sessions.record_failure(account_id, ip)
        raise
    return {}
