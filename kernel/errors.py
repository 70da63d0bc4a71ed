"""Errors that cross the RPC boundary intact, named by what they mean.

Services raise an error by its meaning (`Conflict("payment_expired")`) with a code
for the whole and codes per field; they never choose an HTTP status. The gateway
maps each meaning to a status in one table (`gateway.errors.STATUS`) and turns the
codes into messages in the customer's language.

Every class is registered with nameko (`deserialize_to_instance`), so the caller
receives the same class the service raised.
"""

from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


@deserialize_to_instance
class CommandError(Exception):
    """A command refused by a rule (the general meaning): `code` for the whole, `fields` per field."""

    def __init__(self, code: str, fields: dict[str, str] | None = None):
        super().__init__(code, fields or {})
        self.code = code
        self.fields = fields or {}


@deserialize_to_instance
class Invalid(CommandError):
    """What was sent is not acceptable: a field's value, type or format (the fields say which)."""


@deserialize_to_instance
class Unauthenticated(CommandError):
    """The caller is not who it claims (wrong credentials, a login that expired)."""


@deserialize_to_instance
class Forbidden(CommandError):
    """The caller is known but may not do this."""


@deserialize_to_instance
class Conflict(CommandError):
    """The thing is not in a state that allows this now (already paid, raced by another command)."""


@deserialize_to_instance
class PaymentRequired(CommandError):
    """The account's money does not cover this."""


@deserialize_to_instance
class Expired(CommandError):
    """The caller waited too long: its request is no longer to be carried out."""


@deserialize_to_instance
class Throttled(CommandError):
    """Too many attempts in a while: try again later."""


@deserialize_to_instance
class Unavailable(CommandError):
    """Something this command needs (another service, a registry, a provider) does not answer now."""


@deserialize_to_instance
class NotFound(Exception):
    """The thing does not exist or belongs to someone else (never say which).

    `what` names the thing (for logs and tests); `code` is what the caller is told."""

    def __init__(self, what: str = "not_found", code: str = "not_found"):
        super().__init__(what, code)
        self.what = what
        self.code = code
