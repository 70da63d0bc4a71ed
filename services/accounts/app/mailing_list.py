"""The mailing list: the customers who opted in, each with a signed unsubscribe token, and the
one-click unsubscribe (no login; takes effect at once, as an event)."""

from __future__ import annotations

from kernel.errors import CommandError
from kernel.events import NewEvent, command_meta
from services.accounts import sessions
from services.accounts.app import Deps, do
from services.accounts.domain import Account
from services.accounts.projections import AccountView

UNSUBSCRIBE = "unsubscribe"


def recipients() -> list[dict[str, str]]:
    """Verified customers who opted in, each with their signed unsubscribe token."""
    found = AccountView.objects(mailing_list=True, email_verified=True, role="customer")
    return [
        {"account_id": a.id, "email": a.email, "first_name": a.first_name, "language": a.language,
         "unsubscribe_token": sessions.sign(UNSUBSCRIBE, a.id)}
        for a in found
    ]  # fmt: skip


def unsubscribe(deps: Deps, token: str, ctx: dict | None) -> dict[str, str]:
    account_id = sessions.unsign(UNSUBSCRIBE, token)
    view = AccountView.objects(id=account_id).first() if account_id else None
    if not view:
        raise CommandError("invalid_token")

    def decide(account: Account) -> list[NewEvent]:
        return [NewEvent("mailing_list_unsubscribed", {"via": "link"})] if account.mailing_list else []

    do(deps, account_id, decide, command_meta(ctx, actor={"type": "unsubscribe_link", "id": account_id}))
    return {"email": view.email}
