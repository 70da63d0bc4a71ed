"""Staff tools: staff accounts (made only by `python -m services.accounts.staff`, never by
registration) and the customer search of the staff desk."""

from __future__ import annotations

import re
from typing import Any

from kernel.errors import Invalid
from kernel.events import command_meta, new_id
from services.accounts import validation as v
from services.accounts.app import Deps, do, raise_if
from services.accounts.app import guards as g
from services.accounts.projections import AccountView

SEARCHED = ("email", "first_name", "last_name", "billing_address.company")


def create_staff(deps: Deps, email: str, first_name: str, last_name: str, password: str,
                 ctx: dict | None) -> dict[str, str]:  # fmt: skip
    email = v.normalize_email(email)
    checks = {"email": v.check_email(email), "password": v.check_password(password),
              "first_name": v.check_name(first_name), "last_name": v.check_name(last_name)}  # fmt: skip
    raise_if({field: code for field, code in checks.items() if code})
    account_id = new_id()
    g.claim_email(deps, email, account_id)
    profile = {"first_name": first_name.strip(), "last_name": last_name.strip(), "phone": "", "language": "pl"}
    try:
        do(deps, account_id, lambda a: a.create_staff(email, g.hash_password(password), profile), command_meta(ctx))
    except Exception:
        g.release_email(email, account_id=account_id)
        raise
    return {"account_id": account_id, "email": email, "role": "staff"}


def find_customers(query: str, limit: int) -> dict[str, Any]:
    """Customers whose e-mail, name, company or NIP contain every word of `query`."""
    words = (query or "").split() if isinstance(query, str) else []
    if not words or len("".join(words)) < 2:
        raise Invalid("invalid_input", {"query": "query_too_short"})
    conditions = []
    for word in words[:5]:
        either = [{f: {"$regex": re.escape(word), "$options": "i"}} for f in SEARCHED]
        if v.nip_digits(word).isdigit():
            either.append({"billing_address.nip": {"$regex": re.escape(v.nip_digits(word))}})
        conditions.append({"$or": either})
    found = AccountView.objects(role="customer", __raw__={"$and": conditions}).order_by("email")
    return {"items": [view.public() for view in found.limit(max(1, min(int(limit), 50)))]}
