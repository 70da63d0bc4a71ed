"""Errors that cross the RPC boundary intact.

Services speak in codes (`invalid_nip`, `required`); the gateway turns codes
into messages in the customer's language.
"""

from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


@deserialize_to_instance
class CommandError(Exception):
    """A command was refused: `code` for the whole, `fields` per field."""

    status = 400

    def __init__(self, code: str, fields: dict[str, str] | None = None, status: int | None = None):
        super().__init__(code, fields or {}, status or self.status)
        self.code = code
        self.fields = fields or {}
        if status:
            self.status = status


@deserialize_to_instance
class NotFound(Exception):
    """The thing does not exist or belongs to someone else (never say which)."""

    def __init__(self, what: str = "not_found"):
        super().__init__(what)
        self.code = what
