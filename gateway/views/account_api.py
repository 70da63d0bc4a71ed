"""Account API under /api/v1: contacts, e-mail history, two-factor login, sessions,
history and the data export. Scoped to the logged-in account; who may call what
is in gateway/permissions.py."""

from __future__ import annotations

from flask import g, jsonify

from gateway import clients, inputs, schemas
from gateway.export import gather_export
from gateway.openapi import ERRORS, PATHS, STRING, _obj, _op
from gateway.views.api import api, token_required
from kernel.contracts import CONTACT_MAIL_CATEGORIES, CONTACT_PERMISSIONS


def _account_id() -> str:
    return g.account["account_id"]


# --- contacts ---------------------------------------------------------------
@api.get("/contacts")
@token_required
def list_contacts():
    return jsonify({"items": clients.accounts.list_contacts(account_id=_account_id())})


@api.post("/contacts")
@token_required
def add_contact():
    data = inputs.json_model(schemas.NewContact)
    return jsonify(clients.accounts.add_contact(account_id=_account_id(), data=data)), 201


@api.get("/contacts/<contact_id>")
@token_required
def get_contact(contact_id: str):
    return jsonify(clients.accounts.get_contact(account_id=_account_id(), contact_id=contact_id))


@api.patch("/contacts/<contact_id>")
@token_required
def update_contact(contact_id: str):
    data = inputs.json_model(schemas.ContactChange)
    return jsonify(clients.accounts.update_contact(account_id=_account_id(), contact_id=contact_id, changes=data))


@api.delete("/contacts/<contact_id>")
@token_required
def remove_contact(contact_id: str):
    return jsonify(clients.accounts.remove_contact(account_id=_account_id(), contact_id=contact_id))


@api.post("/contacts/<contact_id>/invitation")
@token_required
def resend_invitation(contact_id: str):
    return jsonify(clients.accounts.resend_contact_invitation(account_id=_account_id(), contact_id=contact_id))


# --- e-mail history -----------------------------------------------------------
@api.get("/emails")
@token_required
def list_emails():
    page, per_page = inputs.page_args()
    category = inputs.query_text("category") or None
    return jsonify(
        clients.notifications.list_mails(account_id=_account_id(), page=page, per_page=per_page, category=category)
    )


@api.get("/emails/<mail_id>")
@token_required
def get_email(mail_id: str):
    return jsonify(clients.notifications.get_mail(account_id=_account_id(), mail_id=mail_id))


# --- two-factor login, sessions, history, export ------------------------------
@api.post("/account/two-factor")
@token_required
def two_factor_start():
    return jsonify(clients.accounts.start_two_factor(account_id=_account_id()))


@api.post("/account/two-factor/confirm")
@token_required
def two_factor_confirm():
    data = inputs.json_model(schemas.Code)
    return jsonify(clients.accounts.confirm_two_factor(account_id=_account_id(), code=data["code"]))


@api.post("/account/two-factor/disable")
@token_required
def two_factor_disable():
    data = inputs.json_model(schemas.Code)
    return jsonify(clients.accounts.disable_two_factor(account_id=_account_id(), code=data["code"]))


@api.post("/account/password")
@token_required
def change_password():
    """A new password: the current one (and a code when two-factor login is on) first; the other sessions end."""
    data = inputs.json_model(schemas.PasswordChange)
    return jsonify(clients.accounts.change_password(account_id=_account_id(), current_password=data["current_password"], new_password=data["new_password"], code=data.get("code") or None, keep_session_id=g.account.get("session_id")))  # fmt: skip


@api.get("/account/sessions")
@token_required
def list_sessions():
    return jsonify(
        {
            "items": clients.accounts.list_sessions(
                account_id=_account_id(), current_session_id=g.account.get("session_id")
            )
        }
    )


@api.delete("/account/sessions/<session_id>")
@token_required
def end_session(session_id: str):
    return jsonify(clients.accounts.end_session(account_id=_account_id(), session_id=session_id))


@api.post("/account/sessions/end-others")
@token_required
def end_other_sessions():
    return jsonify(clients.accounts.end_other_sessions(account_id=_account_id(), current_session_id=g.account["session_id"]))  # fmt: skip


@api.get("/account/history")
@token_required
def account_history():
    page, per_page = inputs.page_args(per_page=25)
    return jsonify(clients.accounts.account_history(account_id=_account_id(), page=page, per_page=per_page))


@api.get("/account/export")
@token_required
def account_export():
    response = jsonify(gather_export(g.account))
    response.headers["Cache-Control"] = "no-store"
    return response


@api.post("/unsubscribe")
def unsubscribe():
    """The signed token from a newsletter's link; no login."""
    data = inputs.json_model(schemas.Token)
    return jsonify(clients.accounts.unsubscribe(token=data["token"]))


# --- OpenAPI --------------------------------------------------------------------
_LIST = {"type": "array", "items": STRING}
_PAGE = _obj("items", "total", items={"type": "array"}, total={"type": "integer"}, page={"type": "integer"},
             per_page={"type": "integer"})  # fmt: skip
_WRITE = ("400", "403", "404", "409", "422", "503")
_READ = ("403", "404", "503")

# With two-factor login on, /auth/login answers with a challenge instead of a token.
PATHS["/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] = _obj(
    account_id=STRING, token=STRING, contact_id={"type": ["string", "null"]},
    two_factor_required={"type": "boolean"}, challenge=STRING,
)  # fmt: skip
PATHS["/auth/login/second-factor"] = {
    "post": _op(
        "Second login step when two-factor login is on: the challenge from /auth/login and a code from the "
        "authenticator app or a recovery code",
        "200",
        _obj("token", token=STRING, account_id=STRING),
        schemas.SecondFactor,
        auth=False,
        errors=("400", "401", "422", "429", "503"),
    )
}
PATHS["/contacts"] = {
    "get": _op("Contacts of the account (section 2)", "200", schemas.Contacts,
               errors=_READ),
    "post": _op("Add a contact; with login: true they get an invitation mail. Permissions: "
                f"{', '.join(CONTACT_PERMISSIONS)}; categories: {', '.join(CONTACT_MAIL_CATEGORIES)}", "201", schemas.Contact,
                schemas.NewContact, errors=_WRITE),
}  # fmt: skip
PATHS["/contacts/{contact_id}"] = {
    "get": _op("One contact", "200", schemas.Contact, errors=_READ),
    "patch": _op("Change a contact's data, permissions or mail categories", "200", schemas.Contact,
                 schemas.ContactChange, errors=_WRITE),
    "delete": _op("Remove a contact; their sessions end at once", "200", errors=_READ),
}  # fmt: skip
PATHS["/contacts/{contact_id}/invitation"] = {
    "post": _op(
        "Send a new invitation link to a contact who has not set a password yet", "200", errors=_READ + ("409",)
    )
}
PATHS["/emails"] = {"get": _op("E-mail history, newest first (query: category, page, per_page)", "200", _PAGE,
                               errors=("403", "422", "503"))}  # fmt: skip
PATHS["/emails/{mail_id}"] = {"get": _op("One sent mail with its text and HTML", "200", errors=_READ)}
PATHS["/account/two-factor"] = {"post": _op("Start two-factor set-up: secret, otpauth URI and QR code (SVG)", "200",
                                            _obj("secret", "uri", secret=STRING, uri=STRING, qr_svg=STRING),
                                            errors=("403", "409", "503"))}  # fmt: skip
PATHS["/account/two-factor/confirm"] = {"post": _op(
    "Turn two-factor login on with a code; the recovery codes are shown this once", "200",
    _obj("recovery_codes", recovery_codes=_LIST), schemas.Code, errors=_WRITE)}  # fmt: skip
PATHS["/account/two-factor/disable"] = {"post": _op("Turn two-factor login off with a code or a recovery code", "200",
                                                    None, schemas.Code,
                                                    errors=("400", "403", "409", "422", "429", "503"))}  # fmt: skip
PATHS["/account/password"] = {"post": _op(
    "Change the password: the current one, and a code from the authenticator app when two-factor login is on; "
    "every other session of the owner ends", "200", _obj("sessions_ended", sessions_ended={"type": "integer"}),
    schemas.PasswordChange,
    errors=("400", "403", "422", "429", "503"))}  # fmt: skip
# Registration answers the same for a new and a known address: nothing in it tells which.
PATHS["/auth/register"]["post"]["summary"] = (
    "Create an account; a verification mail is sent (to a known address, a mail saying it already has an account)"
)
PATHS["/auth/register"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] = _obj(
    "status", status={"type": "string", "enum": ["check_mail"]})  # fmt: skip
PATHS["/auth/register"]["post"]["responses"].pop("409", None)
PATHS["/profile"]["patch"]["responses"].setdefault("429", ERRORS["429"])
PATHS["/account/sessions"] = {"get": _op("Active sessions of the owner", "200",
                                         _obj("items", items={"type": "array"}), errors=_READ)}  # fmt: skip
PATHS["/account/sessions/{session_id}"] = {"delete": _op("Log that session out", "200", errors=_READ)}
PATHS["/account/sessions/end-others"] = {
    "post": _op("Log out every other session", "200", _obj("ended", ended={"type": "integer"}), errors=_READ)
}
PATHS["/account/history"] = {"get": _op("Account history from the event store, newest first (time, actor, IP)",
                                        "200", _PAGE, errors=("403", "422", "503"))}  # fmt: skip
PATHS["/account/export"] = {
    "get": _op(
        "Everything held about the account as JSON; sections of services that "
        "did not answer are null and listed in `unavailable`",
        "200",
        _obj("profile", "contacts", "history", "unavailable"),
        errors=_READ,
    )
}
PATHS["/unsubscribe"] = {"post": _op("Leave the mailing list with the signed token from a newsletter", "200",
                                     _obj("email", email=STRING), schemas.Token, auth=False,
                                     errors=("400", "422", "503"))}  # fmt: skip
