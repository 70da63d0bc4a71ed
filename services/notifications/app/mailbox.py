"""The account's e-mail history: what was sent, newest first, and one mail with its bodies."""

from __future__ import annotations

from typing import Any

from kernel import contracts
from kernel.errors import Invalid, NotFound
from services.notifications.projections import SentMail


def list_page(account_id: str, page: int, per_page: int, category: str | None) -> dict[str, Any]:
    """One page of the account's sent mail, newest first; `category` narrows it to one category."""
    if category is not None and category not in contracts.MAIL_CATEGORIES:
        raise Invalid("invalid_input", {"category": "unknown_category"})
    mails = SentMail.objects(account_id=account_id, **({"category": category} if category else {}))
    mails = mails.order_by("-sent_at")
    page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
    items = [m.summary() for m in mails.skip((page - 1) * per_page).limit(per_page)]
    return {"items": items, "total": mails.count(), "page": page, "per_page": per_page, "category": category}


def get(account_id: str, mail_id: str) -> dict[str, Any]:
    found = SentMail.objects(id=mail_id, account_id=account_id).first()
    if not found:
        raise NotFound("mail")
    return {**found.summary(), "text": found.text, "html": found.html}
