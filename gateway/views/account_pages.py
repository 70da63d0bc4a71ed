"""Account pages: contacts (section 2), e-mail history, security (two-factor login,
sessions), account history, data export, the second login step and the
newsletter's unsubscribe link. Permissions are enforced before every request
(gateway/permissions.py, applied by gateway/guard.py, installed here)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import segno
from flask import Blueprint, Response, flash, g, make_response, redirect, render_template, request, session, url_for

from gateway import clients, guard, i18n, inputs
from gateway.auth import page_login_required
from gateway.errors import field_messages, status_of
from gateway.export import gather_export
from gateway.views.pages import (
    ADDRESS_FIELDS,
    _form_error,
    _safe_next,
    _settings_context,
    _settings_form,
    pages,
    set_password_page,
)
from kernel import contracts
from kernel.errors import CommandError, Invalid

# Public routes that take no CSRF field: the one-click unsubscribe is POSTed by
# mail clients (RFC 8058); the signed token in the path is the credential.
blueprint = Blueprint("account_public", __name__)
guard.install(blueprint)

PERMISSIONS = contracts.CONTACT_PERMISSIONS
CONTACT_CATEGORIES = contracts.CONTACT_MAIL_CATEGORIES
CONTACT_TEXT = ("first_name", "last_name", "email", "phone", "language")
# A mail's HTML is shown in a sandboxed frame under this policy: no scripts, no requests.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"


def _own_language() -> None:
    g.language = g.account.get("language") or g.language


def _page_count(found: dict) -> int:
    return max(1, math.ceil(found["total"] / found["per_page"]))


def _page_number() -> int:
    return inputs.query_int("page", 1)


# --- second login step ------------------------------------------------------
@pages.route("/login/code", methods=["GET", "POST"])
def login_code():
    challenge = session.get("login_challenge")
    if not challenge:
        return redirect(url_for("pages.login"))
    if request.method == "GET":
        return render_template("account/login_code.html", form={}, errors={})
    try:
        result = clients.accounts.login_second_factor(challenge=challenge, code=request.form.get("code", ""))  # fmt: skip
    except CommandError as exc:
        if exc.code in ("login_expired", "too_many_attempts"):
            session.pop("login_challenge", None)
        return _form_error("account/login_code.html", exc, {}, status=status_of(exc))
    next_page = session.get("login_next")
    session.clear()
    session["token"] = result["token"]
    session.permanent = True
    return redirect(_safe_next(next_page))


# --- contacts (section 2) ----------------------------------------------------
@pages.get("/contacts")
@page_login_required
def contacts():
    _own_language()
    found = clients.accounts.list_contacts(account_id=g.account["account_id"])
    return render_template("account/contacts.html", contacts=found, permissions=PERMISSIONS)


@pages.route("/contacts/new", methods=["GET", "POST"])
@page_login_required
def contact_new():
    _own_language()
    if request.method == "GET":
        form = {"language": g.language, "address.country": "PL", "login": True, "categories": [], "permissions": []}
        return render_template("account/contact_form.html", form=form, errors={}, contact=None, **_choices())
    form = _contact_form()
    try:
        clients.accounts.add_contact(account_id=g.account["account_id"], data=_contact_data(form, creating=True))  # fmt: skip
    except CommandError as exc:
        return _form_error("account/contact_form.html", exc, form, status=status_of(exc), contact=None, **_choices())
    flash(i18n.t("contact_added", email=form["email"].strip()), "success")
    return redirect(url_for("pages.contacts"))


@pages.route("/contacts/<contact_id>/edit", methods=["GET", "POST"])
@page_login_required
def contact_edit(contact_id: str):
    _own_language()
    contact = clients.accounts.get_contact(account_id=g.account["account_id"], contact_id=contact_id)
    if request.method == "GET":
        form = {**{k: contact[k] for k in CONTACT_TEXT}, "login": contact["login"],
                "permissions": contact["permissions"], "categories": contact["categories"],
                **{f"address.{k}": (contact["address"] or {}).get(k, "") for k in ADDRESS_FIELDS}}  # fmt: skip
        return render_template("account/contact_form.html", form=form, errors={}, contact=contact, **_choices())
    form = {**_contact_form(), "email": contact["email"], "login": contact["login"]}
    try:
        clients.accounts.update_contact(account_id=g.account["account_id"], contact_id=contact_id, changes=_contact_data(form, creating=False))  # fmt: skip
    except CommandError as exc:
        return _form_error("account/contact_form.html", exc, form, status=status_of(exc), contact=contact, **_choices())
    flash(i18n.t("saved"), "success")
    return redirect(url_for("pages.contacts"))


@pages.post("/contacts/<contact_id>/invitation")
@page_login_required
def contact_reinvite(contact_id: str):
    return _contact_action(clients.accounts.resend_contact_invitation, contact_id, "contact_invitation_sent")


@pages.post("/contacts/<contact_id>/remove")
@page_login_required
def contact_remove(contact_id: str):
    return _contact_action(clients.accounts.remove_contact, contact_id, "contact_removed")


def _contact_action(action: Callable[..., Any], contact_id: str, done_message: str):
    _own_language()
    action(account_id=g.account["account_id"], contact_id=contact_id)
    flash(i18n.t(done_message), "success")
    return redirect(url_for("pages.contacts"))


def _choices() -> dict:
    return {"permissions": PERMISSIONS, "categories": CONTACT_CATEGORIES}


def _contact_form() -> dict:
    form = {k: request.form.get(k, "") for k in CONTACT_TEXT}
    form.update({f"address.{k}": request.form.get(f"address.{k}", "") for k in ADDRESS_FIELDS})
    form["login"] = "login" in request.form
    form["permissions"] = [p for p in PERMISSIONS if p in request.form.getlist("permissions")]
    form["categories"] = [c for c in CONTACT_CATEGORIES if c in request.form.getlist("categories")]
    return form


def _contact_data(form: dict, creating: bool) -> dict:
    data = {k: form[k] for k in ("first_name", "last_name", "phone", "language", "permissions", "categories")}
    data["address"] = {k: form[f"address.{k}"] for k in ADDRESS_FIELDS}
    if creating:
        data.update(email=form["email"], login=form["login"])
    return data


@pages.route("/contacts/accept", methods=["GET", "POST"])
def contact_accept():
    """An invited contact sets their password (no login yet)."""
    return set_password_page(
        "account/contact_accept.html", clients.accounts.accept_contact_invitation, "contact_password_set"
    )


# --- e-mail history ---------------------------------------------------------
@pages.get("/emails")
@page_login_required
def emails():
    _own_language()
    category = request.args.get("category") or None
    if category not in (None, *contracts.MAIL_CATEGORIES):  # a hand-edited address: show everything, say why
        return render_template("account/emails.html", mails=None, pages=1, categories=contracts.MAIL_CATEGORIES,
                               category=None, error="unknown_category"), 422  # fmt: skip
    found = clients.notifications.list_mails(
        account_id=g.account["account_id"], page=_page_number(), per_page=20, category=category
    )
    return render_template("account/emails.html", mails=found, pages=_page_count(found), categories=contracts.MAIL_CATEGORIES,
                           category=category)  # fmt: skip


@pages.get("/emails/<mail_id>")
@page_login_required
def email(mail_id: str):
    _own_language()
    mail = clients.notifications.get_mail(account_id=g.account["account_id"], mail_id=mail_id)
    return render_template("account/email.html", mail=mail)


@pages.get("/emails/<mail_id>/html")
@page_login_required
def email_html(mail_id: str):
    """The mail's own HTML, only ever inside the sandboxed frame of /emails/<id>."""
    mail = clients.notifications.get_mail(account_id=g.account["account_id"], mail_id=mail_id)
    response = make_response(mail.get("html") or "")
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = MAIL_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# --- security: two-factor login and sessions -------------------------------
@pages.get("/account/security")
@page_login_required
def security():
    _own_language()
    return _security_page()


def _security_page(status: int = 200, **context):
    found = clients.accounts.list_sessions(
        account_id=g.account["account_id"], current_session_id=g.account.get("session_id")
    )
    profile = clients.accounts.get_profile(account_id=g.account["account_id"])
    context.setdefault("errors", {})
    return render_template("account/security.html", sessions=found, two_factor=profile["two_factor"],
                           **context), status  # fmt: skip


@pages.post("/account/two-factor/start")
@page_login_required
def two_factor_start():
    _own_language()
    setup = clients.accounts.start_two_factor(account_id=g.account["account_id"])
    return render_template("account/two_factor_setup.html", setup=setup, errors={})


@pages.post("/account/two-factor/confirm")
@page_login_required
def two_factor_confirm():
    _own_language()
    try:
        result = clients.accounts.confirm_two_factor(account_id=g.account["account_id"], code=request.form.get("code", ""))  # fmt: skip
    except CommandError as exc:
        if exc.code != "invalid_input":
            return _security_page(status_of(exc), error=i18n.t(exc.code))
        setup = {k: request.form.get(k, "") for k in ("secret", "uri")}
        setup["qr_svg"] = segno.make(setup["uri"], error="m").svg_inline(scale=4) if setup["uri"] else ""
        return render_template("account/two_factor_setup.html", setup=setup, errors=field_messages(exc.fields),
                               error=i18n.t(exc.code)), status_of(exc)  # fmt: skip
    response = make_response(render_template("account/recovery_codes.html", codes=result["recovery_codes"]))
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.post("/account/two-factor/disable")
@page_login_required
def two_factor_disable():
    _own_language()
    try:
        clients.accounts.disable_two_factor(account_id=g.account["account_id"], code=request.form.get("code", ""))  # fmt: skip
    except CommandError as exc:
        return _security_page(status_of(exc), error=i18n.t(exc.code), errors=field_messages(exc.fields))
    flash(i18n.t("two_factor_off"), "success")
    return redirect(url_for("pages.security"))


@pages.post("/account/password")
@page_login_required
def change_password():
    """The settings page's "change password" form: the current password (and a code when two-factor
    login is on), the new one twice; the other sessions end, this one stays."""
    _own_language()
    current, new = request.form.get("pw_current", ""), request.form.get("pw_new", "")
    try:
        if new != request.form.get("pw_repeat", ""):
            raise Invalid("invalid_input", {"new_password_repeat": "password_mismatch"})
        result = clients.accounts.change_password(account_id=g.account["account_id"], current_password=current, new_password=new, code=request.form.get("pw_code") or None, keep_session_id=g.account.get("session_id"))  # fmt: skip
    except CommandError as exc:
        names = {"current_password": "pw_current", "new_password": "pw_new", "new_password_repeat": "pw_repeat",
                 "code": "pw_code"}  # fmt: skip
        errors = {names.get(k, k): message for k, message in field_messages(exc.fields).items()}
        context = {**_settings_context(), "password_errors": errors, "password_error": i18n.t(exc.code)}
        return render_template("settings.html", form=_settings_form(g.account), errors={},
                               **context), status_of(exc)  # fmt: skip
    flash(i18n.t("password_changed_sessions_ended", count=result["sessions_ended"]), "success")
    return redirect(url_for("pages.settings"))


@pages.post("/account/sessions/<session_id>/end")
@page_login_required
def session_end(session_id: str):
    _own_language()
    clients.accounts.end_session(account_id=g.account["account_id"], session_id=session_id)
    if session_id == g.account.get("session_id"):
        session.clear()
        flash(i18n.t("logged_out"), "info")
        return redirect(url_for("pages.login"))
    flash(i18n.t("session_ended"), "success")
    return redirect(url_for("pages.security"))


@pages.post("/account/sessions/end-others")
@page_login_required
def sessions_end_others():
    _own_language()
    ended = clients.accounts.end_other_sessions(account_id=g.account["account_id"], current_session_id=g.account["session_id"])["ended"]  # fmt: skip
    flash(i18n.t("other_sessions_ended", count=ended), "success")
    return redirect(url_for("pages.security"))


# --- account history and export --------------------------------------------
@pages.get("/account/history")
@page_login_required
def history():
    _own_language()
    found = clients.accounts.account_history(account_id=g.account["account_id"], page=_page_number(), per_page=25)
    return render_template("account/history.html", history=found, pages=_page_count(found))


@pages.get("/account/export")
@page_login_required
def export():
    body = json.dumps(gather_export(g.account), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="panel-klienta-dane.json"', "Cache-Control": "no-store"},
    )


# --- newsletter: one-click unsubscribe without login -----------------------
@blueprint.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET shows one button (link scanners must not unsubscribe anyone); POST, from
    that button or from a mail client's List-Unsubscribe-Post, takes effect at once."""
    if request.method == "GET":
        return render_template("account/unsubscribe.html", token=token, done=False)
    try:
        clients.accounts.unsubscribe(token=token)
    except CommandError as exc:
        return render_template("message.html", message=i18n.t(exc.code), failed=True), 400
    return render_template("account/unsubscribe.html", token=token, done=True)
