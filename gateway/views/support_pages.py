"""Support pages for customers: tickets (list, new, conversation, attachments) and news.

Every call is scoped to the logged-in account; another account's ticket or
attachment is a 404. Attachments are always served as downloads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from gateway import clients, i18n, inputs, permissions, rpc
from gateway.auth import page_login_required
from gateway.errors import field_messages, status_of
from gateway.views.pages import pages
from kernel.errors import CommandError, Invalid, NotFound

DEPARTMENTS = ("technical", "billing", "sales")
PRIORITIES = ("low", "medium", "high", "urgent")
STATUSES = ("open", "answered", "customer-reply", "on_hold", "in_progress", "closed")
# list filter values: a status, "active" (every status but closed) or "" (all)
STATUS_FILTERS = ("", "active", *STATUSES)
PER_PAGE = 20
# services no longer held: not offered as what a new ticket concerns
GONE = ("terminated", "cancelled")

P = ParamSpec("P")
R = TypeVar("R")


# --- helpers the staff desk and the API share ------------------------------
def uploaded_files(field: str = "attachments") -> list[dict[str, str]]:
    """The files of a multipart form, as the support service takes them."""
    files = []
    for upload in request.files.getlist(field):
        if upload and upload.filename:
            data = upload.read()
            files.append({"filename": upload.filename, "content_type": upload.mimetype or "",
                          "data_base64": base64.b64encode(data).decode("ascii")})  # fmt: skip
    return files


def form_errors(exc: CommandError, files: list[dict[str, str]] | None = None) -> dict[str, str]:
    """Field messages; every attachment problem becomes one message naming the files."""
    errors = field_messages({k: c for k, c in exc.fields.items() if not k.startswith("attachments")})
    problems = []
    for name, code in exc.fields.items():
        if name.startswith("attachments"):
            index = name.partition(".")[2]
            filename = files[int(index)]["filename"] if files and index.isdigit() and int(index) < len(files) else ""
            problems.append(f"{filename}: {i18n.t(code)}" if filename else i18n.t(code))
    if problems:
        errors["attachments"] = " ".join(problems) + " " + i18n.t("support_attach_again")
    return errors


def attachment_response(found: dict[str, Any]) -> Response:
    """The file as a download: never rendered inline, never sniffed, never cached by others."""
    try:
        data = base64.b64decode(found["data_base64"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        abort(404)
    filename = str(found.get("filename") or "attachment")
    plain = "".join(ch for ch in filename if ch.isascii() and ch.isprintable() and ch not in '"\\;') or "attachment"
    response = Response(data, content_type=found.get("content_type") or "application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def choice(name: str, allowed: tuple[str, ...], default: str = "") -> str:
    value = request.args.get(name, default)
    return value if value in allowed else default


def page_number() -> int:
    return inputs.query_int("page", 1)


def found_or_404(lookup: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """A lookup for a page (a clients method): NotFound (missing or someone else's) becomes the 404 page."""
    try:
        return lookup(*args, **kwargs)
    except NotFound:
        abort(404)


def _account_id() -> str:
    g.language = g.account.get("language") or g.language
    return g.account["account_id"]


# --- tickets -----------------------------------------------------------------
@pages.get("/tickets")
@page_login_required
def tickets():
    account_id = _account_id()
    status, department = choice("status", STATUS_FILTERS), choice("department", ("", *DEPARTMENTS))
    result = clients.support.list_tickets(account_id=account_id, status=status or None, page=page_number(), per_page=PER_PAGE, department=department or None)  # fmt: skip
    return render_template("support/tickets.html", result=result, status=status, department=department,
                           statuses=STATUS_FILTERS, departments=DEPARTMENTS)  # fmt: skip


def related_choices(account_id: str) -> tuple[list[dict[str, str]], list[str]]:
    """The customer's own services and domains to link a ticket to, and which lists could not be read.
    A contact is offered only the kinds they may see (a ticket-only contact: none)."""
    calls = {}
    if permissions.allows(g.account, "services.view"):
        calls["services"] = clients.start(clients.billing.list_services, account_id=account_id)
    if permissions.allows(g.account, "domains.view"):
        calls["domains"] = clients.start(clients.domains.list_domains, account_id=account_id, page=1, per_page=100)
    results, failures = rpc.gather(calls)
    choices = [{"value": f"service:{s['service_id']}", "kind": "service", "id": s["service_id"], "name": s["name"]}
               for s in (results.get("services") or {}).get("items", []) if s.get("status") not in GONE]  # fmt: skip
    for d in (results.get("domains") or {}).get("items", []):
        name = d.get("unicode_name") or d.get("name") or ""
        choices.append({"value": f"domain:{d['domain_id']}", "kind": "domain", "id": d["domain_id"], "name": name})
    return choices, sorted(failures)


def chosen_related(value: str, choices: list[dict[str, str]]) -> dict[str, str] | None:
    """The {kind, id, name} of `value` ("service:<id>" or "domain:<id>") among the customer's own
    choices; None when nothing was chosen; anything else (another account's id) is a field error."""
    if not value:
        return None
    related = next(({"kind": c["kind"], "id": c["id"], "name": c["name"] or ""}
                    for c in choices if c["value"] == value), None)  # fmt: skip
    if related is None:
        raise Invalid("invalid_input", {"related": "invalid_related_id"})
    return related


def _new_ticket_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in ("department", "priority", "subject", "message", "related")}


@pages.route("/tickets/new", methods=["GET", "POST"])
@page_login_required
def new_ticket():
    account_id = _account_id()
    choices, missing = related_choices(account_id)
    context = {"choices": choices, "missing": missing, "departments": DEPARTMENTS, "priorities": PRIORITIES}
    if request.method == "GET":
        form = {"department": choice("department", DEPARTMENTS, "technical"), "priority": "medium",
                "related": request.args.get("related", "")}  # fmt: skip
        return render_template("support/new.html", form=form, errors={}, **context)
    form, files = _new_ticket_form(), uploaded_files()
    try:
        related = chosen_related(form["related"], choices)
        ticket = clients.support.open_ticket(account_id=account_id, department=form["department"], priority=form["priority"], subject=form["subject"], message=form["message"], related=related, attachments=files)  # fmt: skip
    except CommandError as exc:
        return render_template("support/new.html", form=form, errors=form_errors(exc, files),
                               error=i18n.t(exc.code), **context), status_of(exc)  # fmt: skip
    flash(i18n.t("support_ticket_opened", number=ticket["number"]), "success")
    if not permissions.allows(g.account, "tickets.view"):  # may open tickets, not read them: back home
        return redirect(url_for("pages.dashboard"))
    return redirect(url_for("pages.ticket", ticket_id=ticket["ticket_id"]))


@pages.get("/tickets/<ticket_id>")
@page_login_required
def ticket(ticket_id: str):
    found = found_or_404(clients.support.get_ticket, account_id=_account_id(), ticket_id=ticket_id)
    return render_template("support/ticket.html", ticket=found, form={}, errors={})


@pages.post("/tickets/<ticket_id>/reply")
@page_login_required
def reply_ticket(ticket_id: str):
    account_id = _account_id()
    message, files = request.form.get("message", ""), uploaded_files()
    try:
        clients.support.reply(account_id=account_id, ticket_id=ticket_id, message=message, attachments=files)
    except NotFound:
        abort(404)
    except CommandError as exc:
        found = found_or_404(clients.support.get_ticket, account_id=account_id, ticket_id=ticket_id)
        return render_template("support/ticket.html", ticket=found, form={"message": message},
                               errors=form_errors(exc, files), error=i18n.t(exc.code)), status_of(exc)  # fmt: skip
    flash(i18n.t("support_reply_sent"), "success")
    return redirect(url_for("pages.ticket", ticket_id=ticket_id))


@pages.post("/tickets/<ticket_id>/close")
@page_login_required
def close_ticket(ticket_id: str):
    found_or_404(clients.support.close_ticket, account_id=_account_id(), ticket_id=ticket_id)
    flash(i18n.t("support_ticket_closed"), "success")
    return redirect(url_for("pages.ticket", ticket_id=ticket_id))


@pages.get("/tickets/<ticket_id>/attachments/<attachment_id>")
@page_login_required
def ticket_attachment(ticket_id: str, attachment_id: str):
    return attachment_response(
        found_or_404(
            clients.support.get_attachment, account_id=_account_id(), ticket_id=ticket_id, attachment_id=attachment_id
        )
    )


# --- news ------------------------------------------------------------------------
@pages.get("/news")
@page_login_required
def news_list():
    account_id = _account_id()
    result = clients.support.list_news(language=g.language, page=page_number(), per_page=10, account_id=account_id)
    return render_template("support/news_list.html", result=result)


@pages.get("/news/<news_id>")
@page_login_required
def news_item(news_id: str):
    _account_id()
    return render_template("support/news.html", item=found_or_404(clients.support.get_news, news_id=news_id))
