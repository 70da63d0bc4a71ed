"""The staff desk under /staff: ticket queue, answers, notes, news, the offer banner, customers and invoices.

Closed to customers (404, the desk does not exist for them); not logged in
goes to the one login page. Every command carries the signed caller context (gateway.rpc adds it), whose actor
is the staff member ({type: "staff", id}), so each change is an event naming them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from gateway import clients, i18n, inputs
from gateway.auth import check_csrf, load_account
from gateway.errors import status_of
from gateway.policy import is_customer, is_staff
from gateway.views.support_pages import (
    DEPARTMENTS,
    PRIORITIES,
    STATUSES,
    attachment_response,
    choice,
    form_errors,
    found_or_404,
    page_number,
    uploaded_files,
)
from kernel.errors import CommandError, Invalid, NotFound

blueprint = Blueprint("staff", __name__, url_prefix="/staff")
LANGUAGES = ("pl", "en")
NEWS_FIELDS = ("title", "body", "language", "concerns_plans", "published_at")
OFFER_FIELDS = ("title", "text", "title_en", "text_en", "link", "starts_at", "ends_at", "discount_code",
                "discount_percent")  # fmt: skip


@blueprint.before_request
def staff_only():
    g.account = load_account(session.get("token"))
    if not g.account:
        session.pop("token", None)
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    if not is_staff(g.account):
        abort(404)
    g.language = g.account.get("language") or g.language
    if request.method == "POST":
        check_csrf()
    return None


@blueprint.after_app_request
def staff_land_on_the_desk(response):
    """After the shared login page, staff go to the desk unless they asked for a page."""
    logged_in = request.endpoint in ("pages.login", "pages.login_code") and request.method == "POST"
    logged_in = logged_in and response.status_code == 302
    if logged_in and response.location in ("/", url_for("pages.dashboard")) and session.get("token"):
        account = load_account(session["token"])
        if is_staff(account):
            response.location = url_for("staff.queue")
    return response


def _message(code: str) -> str:
    """The desk's own wording of a code when it has one, else the shared one."""
    key = f"staff_e_{code}"
    return i18n.t(key) if i18n.known(key) else i18n.t(code)


def _errors(exc: CommandError, files: list | None = None) -> dict[str, str]:
    errors = form_errors(exc, files)
    errors.update({k: _message(c) for k, c in exc.fields.items() if not k.startswith("attachments")})
    return errors


# --- tickets ---------------------------------------------------------------------
@blueprint.get("/")
def queue():
    status = choice("status", ("", "all", *STATUSES))
    department = choice("department", ("", *DEPARTMENTS))
    result = clients.support.staff_queue(
        department=department or None, status=status or None, page=page_number(), per_page=25
    )
    return render_template("staff/queue.html", result=result, status=status, department=department,
                           statuses=STATUSES, departments=DEPARTMENTS)  # fmt: skip


def _ticket_page(ticket_id: str, form: dict | None = None, errors: dict | None = None, error: str | None = None,
                 status: int = 200):  # fmt: skip
    ticket = found_or_404(clients.support.staff_get_ticket, ticket_id=ticket_id)
    try:
        customer = clients.accounts.get_profile(account_id=ticket["account_id"])
    except NotFound:  # the ticket outlived its account
        customer = None
    page = render_template("staff/ticket.html", ticket=ticket, customer=customer, form=form or {}, errors=errors or {},
                           error=error, statuses=STATUSES, priorities=PRIORITIES)  # fmt: skip
    return page, status


@blueprint.get("/tickets/<ticket_id>")
def ticket(ticket_id: str):
    return _ticket_page(ticket_id)


def _ticket_command(ticket_id: str, command: Callable[..., Any], field: str, done: str, files: list | None = None,
                    argument: str | None = None):  # fmt: skip
    """One staff command on a ticket (a clients.support method taking ticket_id and the form's `field` as
    `argument`, by default named like it): back to the ticket, or the page again with what was typed."""
    value = request.form.get(field, "")
    extra = {"attachments": files} if files is not None else {}
    try:
        command(ticket_id=ticket_id, **{argument or field: value}, **extra)
    except NotFound:
        abort(404)
    except CommandError as exc:
        return _ticket_page(ticket_id, {field: value}, _errors(exc, files), _message(exc.code), status_of(exc))
    flash(i18n.t(done), "success")
    return redirect(url_for("staff.ticket", ticket_id=ticket_id))


@blueprint.post("/tickets/<ticket_id>/reply")
def reply(ticket_id: str):
    return _ticket_command(
        ticket_id, clients.support.staff_reply, "message", "staff_reply_sent", files=uploaded_files()
    )


@blueprint.post("/tickets/<ticket_id>/status")
def set_status(ticket_id: str):
    return _ticket_command(ticket_id, clients.support.staff_set_status, "status", "staff_status_changed")


@blueprint.post("/tickets/<ticket_id>/priority")
def set_priority(ticket_id: str):
    return _ticket_command(ticket_id, clients.support.staff_set_priority, "priority", "staff_priority_changed")


@blueprint.post("/tickets/<ticket_id>/notes")
def add_note(ticket_id: str):
    return _ticket_command(ticket_id, clients.support.staff_add_note, "note", "staff_note_added", argument="text")


@blueprint.get("/tickets/<ticket_id>/attachments/<attachment_id>")
def attachment(ticket_id: str, attachment_id: str):
    return attachment_response(
        found_or_404(clients.support.get_attachment, account_id=None, ticket_id=ticket_id, attachment_id=attachment_id)
    )


# --- news ------------------------------------------------------------------------
def _news_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in NEWS_FIELDS}


def _news_args(form: dict[str, str]) -> dict[str, Any]:
    plans = [p.strip() for p in form["concerns_plans"].split(",") if p.strip()]
    return {"title": form["title"], "body": form["body"], "language": form["language"], "concerns_plans": plans,
            "published_at": form["published_at"] or None}  # fmt: skip


@blueprint.route("/news", methods=["GET", "POST"])
def news():
    form, errors, error, status = {"language": g.language}, {}, None, 200
    if request.method == "POST":
        form = _news_form()
        try:
            clients.support.publish_news(**_news_args(form))
        except CommandError as exc:
            errors, error, status = _errors(exc), _message(exc.code), status_of(exc)
        else:
            flash(i18n.t("staff_news_published"), "success")
            return redirect(url_for("staff.news"))
    result = clients.support.staff_list_news(language=None, page=page_number(), per_page=20)
    return render_template("staff/news.html", result=result, form=form, errors=errors, error=error,
                           languages=LANGUAGES), status  # fmt: skip


@blueprint.route("/news/<news_id>", methods=["GET", "POST"])
def edit_news(news_id: str):
    item = found_or_404(clients.support.staff_get_news, news_id=news_id)
    if request.method == "GET":
        form = {**item, "concerns_plans": ", ".join(item["concerns_plans"]), "published_at": item["published_at"]}
        return render_template("staff/news_edit.html", item=item, form=form, errors={}, languages=LANGUAGES)
    form = _news_form()
    try:
        found_or_404(clients.support.update_news, news_id=news_id, **_news_args(form))
    except CommandError as exc:
        return render_template("staff/news_edit.html", item=item, form=form, errors=_errors(exc),
                               error=_message(exc.code), languages=LANGUAGES), status_of(exc)  # fmt: skip
    flash(i18n.t("staff_news_saved"), "success")
    return redirect(url_for("staff.news"))


@blueprint.post("/news/<news_id>/withdraw")
def withdraw_news(news_id: str):
    found_or_404(clients.support.withdraw_news, news_id=news_id)
    flash(i18n.t("staff_news_withdrawn"), "success")
    return redirect(url_for("staff.news"))


# --- the offer banner (billing owns it) -------------------------------------------
@blueprint.route("/offer", methods=["GET", "POST"])
def offer():
    current = clients.billing.get_current_offer()
    if request.method == "GET":
        form = {k: (current or {}).get(k) or "" for k in OFFER_FIELDS}
        return render_template("staff/offer.html", current=current, form=form, errors={})
    form = {k: request.form.get(k, "").strip() for k in OFFER_FIELDS}
    try:
        try:
            percent = inputs.form_int("discount_percent", 0, 100)  # empty: no discount
        except inputs.InputError:
            raise Invalid("invalid_input", {"discount_percent": "invalid_percent"}) from None
        clients.billing.set_offer(title=form["title"], text=form["text"], link=form["link"], starts_at=form["starts_at"], ends_at=form["ends_at"], discount_code=form["discount_code"] or None, discount_percent=percent, title_en=form["title_en"], text_en=form["text_en"])  # fmt: skip
    except CommandError as exc:
        return render_template("staff/offer.html", current=current, form=form, errors=_errors(exc),
                               error=_message(exc.code)), status_of(exc)  # fmt: skip
    flash(i18n.t("staff_offer_saved"), "success")
    return redirect(url_for("staff.offer"))


# --- customers and their invoices (billing owns invoices) ---------------------------
@blueprint.get("/customers")
def customers():
    query, found, error = inputs.query_text("q").strip(), None, None
    if query:
        try:
            found = clients.accounts.find_customers(query=query)["items"]
        except CommandError as exc:
            error = _message(next(iter(exc.fields.values()), exc.code))
    return render_template("staff/customers.html", query=query, found=found, error=error)


@blueprint.get("/customers/<account_id>")
def customer(account_id: str):
    profile = found_or_404(clients.accounts.get_profile, account_id=account_id)
    if not is_customer(profile):
        abort(404)
    invoices = clients.billing.list_invoices(account_id=account_id, status=choice("status", ("unpaid", "paid", "cancelled",
                                                                               "refunded")) or None, page=page_number(), per_page=20)  # fmt: skip
    return render_template("staff/customer.html", customer=profile, invoices=invoices)


@blueprint.post("/customers/<account_id>/invoices/<invoice_id>/paid")
def mark_paid(account_id: str, invoice_id: str):
    invoice = next((i for i in _unpaid(account_id) if i["invoice_id"] == invoice_id), None)
    if invoice is None:
        abort(404)
    reference = request.form.get("reference", "").strip()[:64] or None
    try:
        clients.billing.mark_invoice_paid(invoice_id=invoice_id, reference=reference)
    except CommandError as exc:
        flash(_message(exc.code), "error")
        return redirect(url_for("staff.customer", account_id=account_id))
    flash(i18n.t("staff_invoice_marked_paid", number=invoice["number"]), "success")
    return redirect(url_for("staff.customer", account_id=account_id))


def _unpaid(account_id: str) -> list[dict[str, Any]]:
    return clients.billing.list_invoices(account_id=account_id, status="unpaid", page=1, per_page=100)["items"]
