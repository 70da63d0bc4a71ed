"""One error shape for the API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging

from flask import jsonify

from gateway.i18n import t
from kernel.errors import (
    CommandError,
    Conflict,
    Expired,
    Forbidden,
    Invalid,
    NotFound,
    PaymentRequired,
    Throttled,
    Unauthenticated,
    Unavailable,
)

# What each meaning a service raises is in HTTP: the only place a service's error gets a status.
STATUS: dict[type[Exception], int] = {
    Invalid: 422,
    Unauthenticated: 401,
    PaymentRequired: 402,
    Forbidden: 403,
    NotFound: 404,
    Expired: 408,
    Conflict: 409,
    Throttled: 429,
    Unavailable: 503,
    CommandError: 400,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, fields: dict[str, str] | None = None):
        super().__init__(code)
        self.status, self.code, self.fields = status, code, fields or {}


def status_of(exc: Exception) -> int:
    """The HTTP status of an error: a service's by its meaning (STATUS), the gateway's own by its `status`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return getattr(exc, "status", 500)


def error_response(status: int, code: str, fields: dict[str, str] | None = None):
    fields = fields or {}
    body = {
        "error": {
            "code": code,
            "message": t(code),
            "fields": {name: {"code": c, "message": t(c)} for name, c in fields.items()},
        }
    }
    return jsonify(body), status


def field_messages(fields: dict[str, str]) -> dict[str, str]:
    """Field codes -> messages in the page's language (for forms)."""
    return {name: t(code) for name, code in fields.items()}


# Errors a service raises when an argument it was given is of the wrong kind (a wrong type, text that
# is not valid Unicode, a number too big for the database) rather than because it broke. The gateway
# checks what it sends (gateway/inputs.py) and services check their arguments, so this is the last
# net: the caller gets 422, not 500, and the log says which call let it through (tests look for it).
BAD_INPUT_ERRORS = frozenset({"TypeError", "ValueError", "AttributeError", "UnicodeEncodeError", "UnicodeDecodeError",
                              "UnicodeError", "OverflowError", "InvalidDocument", "ValidationError"})  # fmt: skip
BAD_INPUT_LOG = "bad input reached a service"


def remote_error(exc):
    """A service's unexpected error (nameko RemoteError): of the bad-input kind -> 422, else 500."""
    from flask import render_template, request

    log = logging.getLogger(__name__)
    if exc.exc_type in BAD_INPUT_ERRORS:
        log.error("%s on %s %s: %s %s", BAD_INPUT_LOG, request.method, request.path, exc.exc_type, exc.value)
        status, code = 422, "invalid_input"
    else:
        log.exception("service error on %s %s: %s", request.method, request.path, exc)
        status, code = 500, "internal_error"
    if request.path.startswith("/api/"):
        return error_response(status, code)
    return render_template("error.html", code=code), status
