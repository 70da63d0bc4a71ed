"""One error shape for the API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from flask import jsonify

from gateway.i18n import t


class ApiError(Exception):
    def __init__(self, status: int, code: str, fields: dict[str, str] | None = None):
        super().__init__(code)
        self.status, self.code, self.fields = status, code, fields or {}


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
