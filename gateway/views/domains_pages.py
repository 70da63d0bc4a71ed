"""Domain pages: search with prices and add to cart, transfer, the list, and one domain's management.

Every call is scoped to the logged-in account; another account's domain is the 404 page.
CSRF is checked for every POST by the `pages` blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from gateway import clients, i18n, inputs
from gateway.auth import page_login_required
from gateway.errors import field_messages, status_of
from gateway.views.domains_api import STATUSES
from gateway.views.pages import pages
from kernel.errors import CommandError, NotFound

PER_PAGE = 20
YEARS = range(1, 11)


def _me() -> str:
    g.language = g.account.get("language") or g.language
    return g.account["account_id"]


def _domain(account_id: str, domain_id: str) -> dict[str, Any]:
    try:
        return clients.domains.get_domain(account_id=account_id, domain_id=domain_id)
    except NotFound:
        abort(404)


def _search(name: str, form: dict[str, str], errors: dict[str, str] | None = None, error: str | None = None,
            status: int = 200, focus: str = "search"):  # fmt: skip
    """The search page: results for `name` (if any), the add-to-cart and transfer forms as typed."""
    results, others, errors = [], [], dict(errors or {})
    if name.strip():
        try:
            results = clients.domains.check(name=name)["results"]
        except CommandError as exc:
            errors.update({f"search_{k}": v for k, v in field_messages(exc.fields).items()})
            error = error or (i18n.t(exc.code) if not exc.fields else None)
    if len(results) == 1:  # one name asked for: the same name under our other TLDs too
        label = results[0]["unicode_name"].removesuffix("." + results[0]["tld"])
        others = [r for r in clients.domains.check(name=label)["results"] if r["name"] != results[0]["name"]]
    page = render_template("domains/search.html", name=name, results=results, others=others, form=form,
                           errors=errors, error=error, years=YEARS, focus=focus)  # fmt: skip
    return page, status


def _add(kind: str, params: dict[str, Any], form: dict[str, str], focus: str):
    try:
        clients.billing.add_cart_item(account_id=_me(), kind=kind, params=params)
    except CommandError as exc:
        errors = field_messages(exc.fields)
        return _search(form.get("name", ""), form, errors, i18n.t(exc.code), 422, focus)
    flash(i18n.t("domains_added_to_cart", name=form.get("display") or params["domain"]), "success")
    return redirect("/cart")  # billing's cart page


@pages.get("/domains/search")
@page_login_required
def domains_search():
    _me()
    name = inputs.query_text("name")
    return _search(name, {"name": name, "domain": "", "epp_code": ""})


@pages.get("/domains/transfer")
@page_login_required
def domains_transfer_form():
    _me()
    domain = inputs.query_text("domain")
    return _search("", {"name": "", "domain": domain, "epp_code": ""}, focus="transfer")


@pages.post("/domains/cart")
@page_login_required
def domains_add_registration():
    form = {k: request.form.get(k, "") for k in ("name", "domain", "years", "display")}
    years = _years()
    return _add("domain_registration", {"domain": form["domain"], "years": years}, form, "search")


@pages.post("/domains/transfer")
@page_login_required
def domains_add_transfer():
    form = {k: request.form.get(k, "") for k in ("domain", "epp_code")}
    form["name"] = ""
    return _add("domain_transfer", {"domain": form["domain"], "epp_code": form["epp_code"], "years": 1}, form,
                "transfer")  # fmt: skip


@pages.get("/domains")
@page_login_required
def domains_list():
    account_id = _me()
    status = request.args.get("status") or None
    status = status if status in STATUSES else None
    query = inputs.query_text("q")
    page = inputs.query_int("page", 1)
    listing = clients.domains.list_domains(
        account_id=account_id, page=page, per_page=PER_PAGE, status=status, query=query or None
    )
    return render_template("domains/list.html", listing=listing, status=status or "", q=query, statuses=STATUSES)


def _manage(domain: dict[str, Any], form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            error: str | None = None, epp_code: str | None = None, status: int = 200):  # fmt: skip
    form = {"nameservers": "\n".join(domain["nameservers"]), "epp_code": "", **(form or {})}
    page = render_template("domains/domain.html", d=domain, form=form, errors=errors or {}, error=error,
                           epp_code=epp_code)  # fmt: skip
    return page, status


@pages.get("/domains/<domain_id>")
@page_login_required
def domains_detail(domain_id: str):
    return _manage(_domain(_me(), domain_id))


def _command(domain_id: str, command: Callable[..., Any], form: dict[str, str] | None = None, done: str = "saved",
             **arguments: Any):  # fmt: skip
    """`command(account_id=..., domain_id=..., **arguments)` (a clients.domains method) on the account's domain."""
    account_id = _me()
    domain = _domain(account_id, domain_id)
    try:
        command(account_id=account_id, domain_id=domain_id, **arguments)
    except CommandError as exc:
        return _manage(domain, form, field_messages(exc.fields), i18n.t(exc.code), status=status_of(exc))
    flash(i18n.t(done), "success")
    return redirect(url_for("pages.domains_detail", domain_id=domain_id))


@pages.post("/domains/<domain_id>/nameservers")
@page_login_required
def domains_nameservers(domain_id: str):
    typed = request.form.get("nameservers", "")
    servers = [s.strip() for s in typed.replace(",", "\n").splitlines() if s.strip()]
    return _command(domain_id, clients.domains.update_domain, changes={"nameservers": servers}, form={"nameservers": typed},
                    done="domains_nameservers_saved")  # fmt: skip


@pages.post("/domains/<domain_id>/settings")
@page_login_required
def domains_settings(domain_id: str):
    changes = {"locked": "locked" in request.form, "auto_renew": "auto_renew" in request.form}
    domain = _domain(_me(), domain_id)
    if domain["status"] != "active":
        changes.pop("locked")
    return _command(domain_id, clients.domains.update_domain, changes=changes)


@pages.post("/domains/<domain_id>/epp-code")
@page_login_required
def domains_reveal_epp(domain_id: str):
    account_id = _me()
    domain = _domain(account_id, domain_id)
    try:
        revealed = clients.domains.reveal_epp_code(account_id=account_id, domain_id=domain_id)
    except CommandError as exc:
        return _manage(domain, error=i18n.t(exc.code), status=status_of(exc))
    return _manage(domain, epp_code=revealed["epp_code"])


@pages.post("/domains/<domain_id>/retry")
@page_login_required
def domains_retry(domain_id: str):
    epp_code = request.form.get("epp_code", "").strip() or None
    return _command(domain_id, clients.domains.retry_registration, epp_code=epp_code, form={"epp_code": epp_code or ""},
                    done="domains_retry_sent")  # fmt: skip


def _years() -> int | str:
    """The period typed: a number when it is plain digits, else the text as typed, so the domains service
    names the problem next to the field (`domains_invalid_period`) and the form keeps what was typed."""
    raw = request.form.get("years", "").strip() or "1"
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else raw


@pages.post("/domains/<domain_id>/renew")
@page_login_required
def domains_renew(domain_id: str):
    """Renew by hand (e.g. with auto-renew off, or during the grace period): a renewal item in the cart."""
    account_id = _me()
    domain = _domain(account_id, domain_id)
    params = {"domain_id": domain_id, "years": _years()}
    try:
        clients.billing.add_cart_item(account_id=account_id, kind="domain_renewal", params=params)
    except CommandError as exc:
        return _manage(domain, errors=field_messages(exc.fields), error=i18n.t(exc.code), status=status_of(exc))
    flash(i18n.t("domains_added_to_cart", name=domain["unicode_name"]), "success")
    return redirect("/cart")  # billing's cart page
