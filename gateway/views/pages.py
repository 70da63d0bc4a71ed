"""HTML pages: registration, login, password reset, dashboard, settings (section 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, session, url_for

from gateway import clients, i18n
from gateway.auth import check_csrf, load_account, page_login_required
from gateway.dashboard import build as build_dashboard
from gateway.errors import field_messages, status_of
from gateway.policy import is_contact
from kernel.errors import CommandError

pages = Blueprint("pages", __name__)
CATEGORIES = ("billing", "services", "domains", "support", "security")
ADDRESS_FIELDS = ("company", "nip", "street", "postcode", "city", "country")


@pages.before_request
def csrf_on_every_form() -> None:
    if request.method == "POST":
        check_csrf()


def _form_error(template: str, exc: CommandError, form: dict, status: int = 422, **context):
    errors = field_messages(exc.fields)
    return render_template(template, form=form, errors=errors, error=i18n.t(exc.code), **context), status


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("pages.dashboard")


# --- registration and verification ----------------------------------------
@pages.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "GET":
        return render_template("register.html", form={"language": g.language}, errors={})
    form = {k: request.form.get(k, "") for k in ("email", "first_name", "last_name", "language")}
    password, repeat = request.form.get("password", ""), request.form.get("password_repeat", "")
    try:  # a known address gets the same answer; the mail sent to it says it already has an account
        # the service checks every field, the repeated password too: all the errors at once
        clients.accounts.register(email=form["email"], password=password, first_name=form["first_name"], last_name=form["last_name"], language=form["language"] or g.language, password_repeat=repeat)  # fmt: skip
    except CommandError as exc:
        return _form_error("register.html", exc, form)
    return render_template("message.html", message=i18n.t("registered_check_mail_any", email=form["email"].strip()),
                           resend_email=form["email"].strip())  # fmt: skip


@pages.get("/verify-email")
def verify_email():
    try:
        clients.accounts.verify_email(token=request.args.get("token", ""))
    except CommandError as exc:
        return render_template("message.html", message=i18n.t(exc.code), failed=True), 400
    flash(i18n.t("email_verified"), "success")
    return redirect(url_for("pages.login"))


@pages.post("/verify-email/resend")
def resend_verification():
    clients.accounts.resend_verification(email=request.form.get("email", ""))
    return render_template("message.html", message=i18n.t("verification_resent"))


# --- login and logout -----------------------------------------------------
@pages.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", form={}, errors={}, next=request.args.get("next", ""))
    form = {"email": request.form.get("email", "")}
    try:
        result = clients.accounts.login(email=form["email"], password=request.form.get("password", ""))
    except CommandError as exc:
        return _form_error("login.html", exc, form, status=status_of(exc), next=request.form.get("next", ""),
                           resend_email=form["email"] if exc.code == "email_not_verified" else None)  # fmt: skip
    if result.get("two_factor_required"):  # the password was right; the code comes next
        session["login_challenge"], session["login_next"] = result["challenge"], request.form.get("next")
        return redirect(url_for("pages.login_code"))
    session.clear()  # a fresh session (and CSRF secret) for the logged-in user
    session["token"] = result["token"]
    session.permanent = True
    return redirect(_safe_next(request.form.get("next")))


@pages.post("/logout")
def logout():
    token = session.get("token")
    if token:
        clients.accounts.logout(token=token)
    session.clear()
    flash(i18n.t("logged_out"), "info")
    return redirect(url_for("pages.login"))


# --- password reset -------------------------------------------------------
@pages.route("/password-reset", methods=["GET", "POST"])
def password_reset():
    if request.method == "GET":
        return render_template("password_reset.html", form={}, errors={})
    clients.accounts.request_password_reset(email=request.form.get("email", ""))
    return render_template("message.html", message=i18n.t("reset_sent"))


@pages.route("/password-reset/confirm", methods=["GET", "POST"])
def password_reset_confirm():
    return set_password_page("password_reset_confirm.html", clients.accounts.confirm_password_reset, "password_changed")


def set_password_page(template: str, set_password: Callable[..., Any], done_message: str):
    """A mailed token and a new password typed twice, sent to `set_password` (a clients.accounts method); then
    the login."""
    token = request.values.get("token", "")
    if request.method == "GET":
        return render_template(template, token=token, errors={})
    password, repeat = request.form.get("password", ""), request.form.get("password_repeat", "")
    try:
        if password != repeat:
            raise CommandError("invalid_input", {"password_repeat": "password_mismatch"})
        set_password(token=token, password=password)
    except CommandError as exc:
        return _form_error(template, exc, {}, token=token)
    flash(i18n.t(done_message), "success")
    return redirect(url_for("pages.login"))


# --- language -------------------------------------------------------------
@pages.post("/language")
def switch_language():
    language = request.form.get("language", "pl")
    if language not in i18n.LANGUAGES:
        language = "pl"
    token = session.get("token")
    account = g.account = load_account(token)
    if is_contact(account):  # a contact's own language, never the owner's
        clients.accounts.update_contact(account_id=account["account_id"], contact_id=account["contact_id"], changes={"language": language})  # fmt: skip
    elif account:
        clients.accounts.update_settings(account_id=account["account_id"], changes={"language": language})
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    response.set_cookie("lang", language, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


# --- dashboard and settings ------------------------------------------------
@pages.get("/")
@page_login_required
def dashboard():
    g.language = g.account.get("language") or g.language
    return render_template("dashboard.html", d=build_dashboard(g.account))


@pages.route("/settings", methods=["GET", "POST"])
@page_login_required
def settings():
    g.language = g.account.get("language") or g.language
    if request.method == "GET":
        return render_template("settings.html", form=_settings_form(g.account), errors={}, **_settings_context())
    changes = _settings_changes(g.account)
    try:  # a new e-mail address needs the current password (and a code when two-factor login is on)
        updated = clients.accounts.update_settings(account_id=g.account["account_id"], changes=changes, current_password=request.form.get("current_password") or None, code=request.form.get("code") or None, keep_session_id=g.account.get("session_id"))  # fmt: skip
    except CommandError as exc:
        return _form_error("settings.html", exc, _settings_form_from_post(), **_settings_context())
    g.language = updated.get("language") or g.language
    flash(i18n.t("saved"), "success")
    return redirect(url_for("pages.settings"))


def _settings_context() -> dict:
    """What the settings page needs besides the form: whether codes are asked (two-factor login on)."""
    return {"two_factor": bool(g.account.get("two_factor")), "password_form": {}, "password_errors": {}}


def _settings_form(account: dict) -> dict:
    form = {k: account.get(k) or "" for k in ("first_name", "last_name", "email", "phone", "language")}
    address = account.get("billing_address") or {}
    form.update({f"billing_address.{k}": address.get(k, "") for k in ADDRESS_FIELDS})
    form["billing_address.country"] = form["billing_address.country"] or "PL"
    prefs = account.get("notification_preferences") or {}
    form.update({f"notification_preferences.{c}": prefs.get(c, True) for c in CATEGORIES})
    form["mailing_list"] = bool(account.get("mailing_list"))
    return form


def _settings_form_from_post() -> dict:
    """What the user typed, to show again next to the errors."""
    form = {k: request.form.get(k, "") for k in ("first_name", "last_name", "email", "phone", "language")}
    form.update({f"billing_address.{k}": request.form.get(f"billing_address.{k}", "") for k in ADDRESS_FIELDS})
    form.update({f"notification_preferences.{c}": f"notification_preferences.{c}" in request.form for c in CATEGORIES})
    form["notification_preferences.security"] = True
    form["mailing_list"] = "mailing_list" in request.form
    return form


def _settings_changes(account: dict) -> dict:
    form = _settings_form_from_post()
    changes = {k: form[k] for k in ("first_name", "last_name", "email", "phone", "language")}
    address = {k: form[f"billing_address.{k}"] for k in ADDRESS_FIELDS}
    typed = any(v.strip() for k, v in address.items() if k != "country")
    if typed or account.get("billing_address"):
        changes["billing_address"] = address
    changes["notification_preferences"] = {c: form[f"notification_preferences.{c}"] for c in CATEGORIES}
    changes["mailing_list"] = form["mailing_list"]
    return changes
