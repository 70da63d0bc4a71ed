"""JSON API under /api/v1 (documented at /api/v1/openapi.json)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, g, jsonify

from gateway import clients, dashboard, inputs, schemas
from gateway.auth import bearer_token, load_account
from gateway.errors import ApiError, error_response, status_of
from gateway.openapi import document

api = Blueprint("api", __name__, url_prefix="/api/v1")


@api.errorhandler(ApiError)
def api_error(exc: ApiError):
    return error_response(status_of(exc), exc.code, exc.fields)


def token_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.account = load_account(bearer_token())
        if not g.account:
            raise ApiError(401, "unauthorized")
        g.language = g.account.get("language") or g.language
        return view(*args, **kwargs)

    return wrapper


@api.get("/openapi.json")
def openapi():
    return jsonify(document())


# --- auth -------------------------------------------------------------------
@api.post("/auth/register")
def register():
    """The same answer for a new and a known address (the mail says which it was)."""
    data = inputs.json_model(schemas.Register)
    clients.accounts.register(email=data["email"], password=data["password"], first_name=data["first_name"], last_name=data["last_name"], language=data.get("language") or g.language)  # fmt: skip
    return jsonify({"status": "check_mail"}), 201


@api.post("/auth/verify-email")
def verify_email():
    data = inputs.json_model(schemas.Token)
    return jsonify(clients.accounts.verify_email(token=data["token"]))


@api.post("/auth/login")
def login():
    data = inputs.json_model(schemas.Login)
    result = clients.accounts.login(email=data["email"], password=data["password"])
    if result.get("two_factor_required"):  # finish at /auth/login/second-factor with the challenge
        return jsonify({"two_factor_required": True, "challenge": result["challenge"]})
    return jsonify(_login_answer(result))


def _login_answer(result: dict) -> dict:
    return {"token": result["token"], "account_id": result["account_id"], "contact_id": result.get("contact_id")}


@api.post("/auth/login/second-factor")
def login_second_factor():
    data = inputs.json_model(schemas.SecondFactor)
    result = clients.accounts.login_second_factor(challenge=data["challenge"], code=data["code"])
    return jsonify(_login_answer(result))


@api.post("/auth/logout")
@token_required
def logout():
    clients.accounts.logout(token=bearer_token())
    return jsonify({})


@api.post("/auth/password-reset")
def password_reset():
    data = inputs.json_model(schemas.Email)
    clients.accounts.request_password_reset(email=data["email"])
    return jsonify({}), 202


@api.post("/auth/password-reset/confirm")
def password_reset_confirm():
    data = inputs.json_model(schemas.NewPassword)
    clients.accounts.confirm_password_reset(token=data["token"], password=data["password"])
    return jsonify({})


# --- profile (section 1) and dashboard -------------------------------------
# the current password (and a code when two-factor login is on): asked when the e-mail address changes
REAUTH_KEYS = ("current_password", "code")


@api.get("/profile")
@token_required
def get_profile():
    return jsonify(dashboard.build_profile(g.account))


@api.patch("/profile")
@token_required
def patch_profile():
    data = inputs.json_model(schemas.ProfileChange)
    proof = {k: data.pop(k) for k in REAUTH_KEYS if k in data}  # a new e-mail needs them; the rest does not
    updated = clients.accounts.update_settings(account_id=g.account["account_id"], changes=data, **proof,
                                               keep_session_id=g.account.get("session_id"))  # fmt: skip
    return jsonify(dashboard.build_profile(updated))


@api.get("/dashboard")
@token_required
def get_dashboard():
    return jsonify(dashboard.build(g.account))
