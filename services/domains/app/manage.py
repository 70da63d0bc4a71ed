"""The customer's domains: the list, one domain, nameservers, lock, auto-renew, the EPP code and
"try again" for a failed registration or a rejected transfer."""

from __future__ import annotations

import re
from typing import Any

from kernel.errors import Conflict, Invalid, Unavailable
from kernel.paging import one_page, page_number
from services.domains import names, registrar
from services.domains.app import Deps, do, load, orders, own
from services.domains.app.quotes import EPP_CODE
from services.domains.domain import STATUSES, Domain
from services.domains.projections import DomainView

CHANGEABLE = ("nameservers", "locked", "auto_renew")


def list_page(account_id: str, page: int, per_page: int, status: str | None, query: str | None) -> dict[str, Any]:
    """The account's domains by name, one page; `status` narrows them, `query` is text in the name."""
    if status and status not in STATUSES:
        raise Invalid("invalid_input", {"status": "invalid_status"})
    page, per_page = page_number(page, 1, 10_000), page_number(per_page, 20, 100)
    found = DomainView.objects(account_id=account_id, **({"status": status} if status else {}))
    text = (query or "").strip().lower() if isinstance(query, str) else ""
    if text:
        pattern = re.escape(text)  # a string, not a compiled regex: the stand-in database needs that
        found = found.filter(__raw__={"$or": [{"name": {"$regex": pattern}}, {"unicode_name": {"$regex": pattern}}]})
    return one_page(found.order_by("name"), page, per_page, DomainView.public)


def update(deps: Deps, account_id: str, domain_id: str, changes: Any, ctx: dict | None) -> dict[str, Any]:
    """Nameservers (2-13 host names), registrar lock, auto-renew: all checked before anything changes."""
    view = own(account_id, domain_id)
    clean = validate_changes(changes)
    domain = load(deps, view.id)
    try:
        if "nameservers" in clean and clean["nameservers"] != domain.nameservers:
            domain._require("active")
            deps.registry("set_nameservers", view.name, clean["nameservers"])
        if "locked" in clean and clean["locked"] != domain.locked:
            domain._require("active")
            deps.registry("set_lock", view.name, clean["locked"])
    except registrar.RegistrarError as exc:
        raise (Unavailable if exc.temporary else Conflict)(exc.code) from None

    def decide(d: Domain) -> list:
        events = []
        if "nameservers" in clean:
            events += d.change_nameservers(clean["nameservers"])
        if "locked" in clean:
            events += d.change_lock(clean["locked"])
        if "auto_renew" in clean:
            events += d.change_auto_renew(clean["auto_renew"])
        return events

    do(deps, view.id, decide, ctx)
    return own(account_id, view.id).public()


def validate_changes(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise Invalid("invalid_input", {"changes": "required"})
    errors = {k: "unknown_field" for k in changes if k not in CHANGEABLE}
    errors |= {k: "invalid_type" for k in ("locked", "auto_renew") if k in changes and
               not isinstance(changes[k], bool)}  # fmt: skip
    clean = {k: changes[k] for k in ("locked", "auto_renew") if k in changes}
    if "nameservers" in changes:
        servers = changes["nameservers"]
        if not isinstance(servers, list):
            errors["nameservers"] = "invalid_type"
        else:
            hosts = [names.valid_hostname(s) for s in servers if not isinstance(s, str) or s.strip()]
            if not 2 <= len(hosts) <= 13:
                errors["nameservers"] = "domains_nameservers_count"
            elif None in hosts:
                errors["nameservers"] = "domains_invalid_nameserver"
            elif len(set(hosts)) != len(hosts):
                errors["nameservers"] = "domains_duplicate_nameserver"
            clean["nameservers"] = hosts
    if errors:
        raise Invalid("invalid_input", errors)
    return clean


def reveal_epp_code(deps: Deps, account_id: str, domain_id: str, ctx: dict | None) -> dict[str, str]:
    view = own(account_id, domain_id)
    load(deps, view.id)._require("active")
    try:
        code = deps.registry("get_epp_code", view.name)
    except registrar.RegistrarError as exc:
        raise (Unavailable if exc.temporary else Conflict)(exc.code) from None
    do(deps, view.id, lambda d: d.reveal_epp_code(), ctx)
    return {"domain_id": view.id, "name": view.name, "epp_code": code}


def retry(deps: Deps, account_id: str, domain_id: str, epp_code: Any, ctx: dict | None) -> dict[str, Any]:
    """ "Spróbuj ponownie": a failed registration or rejected transfer goes to the registry again."""
    view = own(account_id, domain_id)
    if epp_code is not None and (not isinstance(epp_code, str) or not EPP_CODE.match(epp_code.strip())):
        raise Invalid("invalid_input", {"epp_code": "domains_invalid_epp_format"})
    do(deps, view.id, lambda d: d.retry(epp_code.strip() if epp_code else None), ctx)
    orders.submit(deps, view.id)
    return own(account_id, view.id).public()
