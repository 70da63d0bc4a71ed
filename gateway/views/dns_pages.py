"""A domain's DNS page (/domains/<id>/dns): the zone's records, a form to add or change one, delete,
reset to the defaults and download the zone file; below them the domain's child nameservers (glue). Scoped to the logged-in account; CSRF is checked by
the `pages` blueprint; the /domains route rules apply (view to read, manage to change)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for

from gateway import clients, i18n, rpc
from gateway.auth import page_login_required
from gateway.errors import field_messages, status_of
from gateway.views.domains_pages import _domain, _me
from gateway.views.pages import pages
from kernel.errors import CommandError, NotFound

TEXT_FIELDS = ("name", "type", "value", "tag")
NUMBER_FIELDS = ("ttl", "priority", "weight", "port", "flags")


def _zone(account_id: str, domain_id: str) -> dict[str, Any]:
    try:
        return rpc.call("domains", "get_zone", account_id, domain_id)
    except NotFound:
        abort(404)


def _page(domain_id: str, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          error: str | None = None, status: int = 200, editing: str = "", host_form: dict[str, str] | None = None,
          host_errors: dict[str, str] | None = None):  # fmt: skip
    account_id = _me()
    domain = _domain(account_id, domain_id)
    try:
        zone = _zone(account_id, domain_id)
    except CommandError as exc:
        zone, error, status = None, error or i18n.t(exc.code), status_of(exc)
    form = {"type": "A", "ttl": "3600", "name": "", **(form or {})}
    page = render_template("domains/dns.html", d=domain, zone=zone, form=form, errors=errors or {}, error=error,
                           editing=editing, hosts=_hosts(account_id, domain), host_form=host_form or {},
                           host_errors=host_errors or {})  # fmt: skip
    return page, status


def _hosts(account_id: str, domain: dict[str, Any]) -> dict[str, Any] | None:
    """The child nameservers of an active domain (None: no section)."""
    if domain["status"] != "active":
        return None
    try:
        return clients.domains.list_hosts(account_id=account_id, domain_id=domain["domain_id"])
    except CommandError:
        return None


def _typed() -> tuple[dict[str, Any], dict[str, str]]:
    """The record as typed: numbers as numbers when they are plain digits (else as typed, so the service
    names the field), empty fields left out."""
    form = {k: request.form.get(k, "").strip() for k in (*TEXT_FIELDS, *NUMBER_FIELDS)}
    record: dict[str, Any] = {k: v for k, v in form.items() if v and k in TEXT_FIELDS}
    for key in NUMBER_FIELDS:
        if form[key]:
            record[key] = (
                int(form[key]) if form[key].isascii() and form[key].isdigit() and len(form[key]) < 10 else form[key]
            )
    record.setdefault("name", "@")
    return record, form


def _change(domain_id: str, method: str, *args: Any, form: dict[str, str] | None = None, editing: str = ""):
    try:
        rpc.call("domains", method, _me(), domain_id, *args)
    except CommandError as exc:
        return _page(domain_id, form, field_messages(exc.fields), i18n.t(exc.code), status_of(exc), editing)
    flash(i18n.t("dns_saved"), "success")
    return redirect(url_for("pages.dns_zone", domain_id=domain_id))


@pages.get("/domains/<domain_id>/dns")
@page_login_required
def dns_zone(domain_id: str):
    editing = request.args.get("edit", "")
    zone = _zone(_me(), domain_id) if editing else None
    record = next((r for r in (zone or {}).get("records", []) if r["id"] == editing), None)
    form = {k: str(record.get(k, "")) for k in (*TEXT_FIELDS, *NUMBER_FIELDS)} if record else None
    if record:
        form["name"] = record["unicode_name"]
    return _page(domain_id, form, editing=editing if record else "")


@pages.post("/domains/<domain_id>/dns/records")
@page_login_required
def dns_add(domain_id: str):
    record, form = _typed()
    return _change(domain_id, "add_dns_record", record, form=form)


@pages.post("/domains/<domain_id>/dns/records/<record_id>")
@page_login_required
def dns_update(domain_id: str, record_id: str):
    record, form = _typed()
    return _change(domain_id, "update_dns_record", record_id, record, form=form, editing=record_id)


@pages.post("/domains/<domain_id>/dns/records/<record_id>/delete")
@page_login_required
def dns_delete(domain_id: str, record_id: str):
    return _change(domain_id, "delete_dns_record", record_id)


@pages.post("/domains/<domain_id>/dns/reset")
@page_login_required
def dns_reset(domain_id: str):
    return _change(domain_id, "reset_zone")


@pages.get("/domains/<domain_id>/dns/export")
@page_login_required
def dns_export(domain_id: str):
    try:
        exported = rpc.call("domains", "export_zone", _me(), domain_id)
    except NotFound:
        abort(404)
    headers = {"Content-Disposition": f'attachment; filename="{exported["filename"]}"'}
    return Response(exported["text"], mimetype="text/plain", headers=headers)


# --- child nameservers (glue) -----------------------------------------------------------------------
def _host_change(domain_id: str, command: Any, host_form: dict[str, str] | None = None, **arguments: Any):
    """`command` (a clients.domains method) on the account's domain; a refusal shows the page with why."""
    try:
        command(account_id=_me(), domain_id=domain_id, **arguments)
    except CommandError as exc:
        messages = field_messages(exc.fields)
        error = " ".join(messages.values()) if messages and host_form is None else i18n.t(exc.code)
        return _page(domain_id, error=error, status=status_of(exc), host_form=host_form,
                     host_errors=messages if host_form is not None else None)  # fmt: skip
    flash(i18n.t("hosts_saved"), "success")
    return redirect(url_for("pages.dns_zone", domain_id=domain_id) + "#hosts")


@pages.post("/domains/<domain_id>/hosts")
@page_login_required
def hosts_create(domain_id: str):
    form = {k: request.form.get(k, "").strip() for k in ("host", "addresses")}
    return _host_change(domain_id, clients.domains.create_host, form, host=form["host"], addresses=form["addresses"])


@pages.post("/domains/<domain_id>/hosts/<host>")
@page_login_required
def hosts_update(domain_id: str, host: str):
    addresses = request.form.get("addresses", "").strip()
    return _host_change(domain_id, clients.domains.update_host, host=host, addresses=addresses)


@pages.post("/domains/<domain_id>/hosts/<host>/delete")
@page_login_required
def hosts_delete(domain_id: str, host: str):
    return _host_change(domain_id, clients.domains.delete_host, host=host)
