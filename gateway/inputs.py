"""Everything a request brings in, checked in one place before it is used.

`install(app)` puts `check_request` in front of every view (before login, CSRF and
permissions), so no handler ever sees:

- text that is not valid Unicode: invalid UTF-8 (raw or %-escaped) in the query string or
  a form, a lone surrogate (`"\\ud800"`) in JSON, U+FFFD in a multipart text field (the
  parser's mark for bytes that were not UTF-8), in a name or a value;
- control characters: none in a query parameter or a one-line field (names, addresses,
  e-mail addresses, passwords, ids...), only tab and line breaks in the multi-line ones
  (`MULTI_LINE`), never NUL;
- a JSON body larger than `JSON_MAX_BYTES` (413) or nested deeper than `JSON_MAX_DEPTH`
  (400; counted on the raw bytes, before the recursive parser runs), malformed or not UTF-8
  (400), with a number that is not finite or an integer beyond 64 bits (422);
- a path segment (an id) with control characters or invalid text: 404, like any unknown id.

Views then read what they need through the helpers here: `query_int`/`page_args` (plain
ASCII digits in a bounded range), `query_choice`, `form_int`, `json_object` and
`json_fields` (declared fields type-checked strictly with pydantic: a number where a
string is expected is refused, not converted). Every refusal is an `InputError`: 4xx with
`{"error": {"code", "message", "fields"}}` naming each field and why, or for a page the
same in the page's language.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, g, render_template, request
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from gateway.errors import error_response, field_messages, status_of

JSON_MAX_BYTES = 1024 * 1024  # a JSON body; views marked @json_limit(...) take more (attachments)
JSON_MAX_DEPTH = 32
PAGE_MAX = 100_000  # page numbers and other counts from the address
INT64 = (-(2**63), 2**63 - 1)
# Fields whose text may span lines (tab, CR, LF allowed); every other field is one line.
MULTI_LINE = frozenset({"message", "body", "body_pl", "body_en", "text", "text_en", "note", "nameservers"})
_ONE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputError(Exception):
    """A request refused for what it carries: `status`, `code`, and per field a reason code."""

    def __init__(self, status: int, code: str, fields: dict[str, str] | None = None):
        super().__init__(code, fields or {})
        self.status, self.code, self.fields = status, code, fields or {}


def install(app: Flask) -> None:
    """Check every request before any view (and before login and CSRF) and answer InputError
    and services' bad-input errors as 4xx (see gateway.errors.remote_error)."""
    from nameko.exceptions import RemoteError

    from gateway.errors import remote_error

    app.before_request(check_request)
    app.register_error_handler(InputError, input_error_response)
    app.register_error_handler(RemoteError, remote_error)


def input_error_response(exc: InputError):
    if request.path.startswith("/api/"):
        return error_response(status_of(exc), exc.code, exc.fields)
    return render_template("input_error.html", code=exc.code, fields=field_messages(exc.fields)), status_of(exc)


# --- text ------------------------------------------------------------------------------
def _printable(name: Any) -> str:
    """A field name fit to be shown back (the bad name itself may be invalid text)."""
    text = name if isinstance(name, str) else str(name)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _ONE_LINE_BAD.sub("?", text)[:100] or "?"


def text_problem(name: str, value: str, multi_line: bool | None = None) -> str | None:
    """Why `value` (of field `name`) is not acceptable text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_text"  # a lone surrogate
    if multi_line is None:
        multi_line = name.rpartition(".")[2] in MULTI_LINE
    if (_MULTI_LINE_BAD if multi_line else _ONE_LINE_BAD).search(value):
        return "control_characters"
    return None


def _check_text(found: dict[str, str], name: str, value: str, multi_line: bool | None = None) -> None:
    if not isinstance(name, str) or not isinstance(value, str):  # a multipart part whose name did not parse
        found.setdefault(_printable(name), "invalid_text")
        return
    problem = text_problem(name, name, multi_line=False) and "invalid_text"
    problem = problem or text_problem(name, value, multi_line)
    if problem:
        found.setdefault(_printable(name), problem)


def _raw_pairs(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """name=value pairs of a query string or url-encoded form, %-decoded to bytes."""
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            yield unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))


def _check_encoding(found: dict[str, str], raw: bytes) -> None:
    for name, value in _raw_pairs(raw):
        try:
            shown = name.decode("utf-8")
        except UnicodeDecodeError:
            found.setdefault(_printable(name.decode("utf-8", "replace")), "invalid_text")
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            found.setdefault(_printable(shown), "invalid_text")


# --- the check in front of every view ------------------------------------------------------
def check_request() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and ("\ufffd" in value or text_problem(name, value, multi_line=False)):
            raise InputError(404, "not_found")
    found: dict[str, str] = {}
    _check_encoding(found, request.query_string)
    for name, value in request.args.items(multi=True):
        _check_text(found, name, value, multi_line=False)
    if found:
        raise InputError(422, "invalid_input", found)
    if request.is_json:
        g.json_body = _read_json()
    elif request.mimetype in _FORM_TYPES:
        _check_form()


def _check_form() -> None:
    found: dict[str, str] = {}
    if request.mimetype == "application/x-www-form-urlencoded":
        _check_encoding(found, request.get_data(cache=True))
    for name, value in request.form.items(multi=True):
        if request.mimetype == "multipart/form-data" and "\ufffd" in value:
            found.setdefault(_printable(name), "invalid_text")  # bytes that were not UTF-8
        _check_text(found, name, value)
    for name, upload in request.files.items(multi=True):
        if upload.filename:
            _check_text(found, name, upload.filename, multi_line=False)
    if found:
        raise InputError(422, "invalid_input", found)


def json_limit(max_bytes: int):
    """Let one view take a JSON body larger than JSON_MAX_BYTES (e.g. attachments in base64)."""

    def mark(view):
        view.json_max_bytes = max_bytes
        return view

    return mark


def _json_max_bytes() -> int:
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "json_max_bytes", JSON_MAX_BYTES)


def _read_json() -> Any:
    """The JSON body parsed and checked, or None when there is none."""
    limit = _json_max_bytes()
    if request.content_length is not None and request.content_length > limit:
        raise InputError(413, "request_too_large", {"body": "too_large"})
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise InputError(413, "request_too_large", {"body": "too_large"})
    if not raw.strip():
        return None
    if json_depth(raw) > JSON_MAX_DEPTH:
        raise InputError(400, "invalid_json", {"body": "json_too_deep"})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(400, "invalid_json", {"body": "invalid_text"}) from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InputError(400, "invalid_json", {"body": "invalid_json"}) from None
    found: dict[str, str] = {}
    _check_json(found, data, "")
    if found:
        raise InputError(422, "invalid_input", found)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_JSON_TOKENS = re.compile(rb'["\\\[\]{}]')


def json_depth(raw: bytes, stop_above: int = JSON_MAX_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest, read from its bytes (strings
    skipped) without parsing; stops counting once past `stop_above`."""
    depth = deepest = 0
    in_string, skip_at = False, -1
    for match in _JSON_TOKENS.finditer(raw):
        at, char = match.start(), raw[match.start()]
        if at == skip_at:  # the character after a backslash inside a string
            continue
        if in_string:
            if char == 0x5C:  # backslash
                skip_at = at + 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    return deepest
        elif char in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _check_json(found: dict[str, str], value: Any, path: str) -> None:
    """Every string valid text, every number finite and within 64 bits (depth is already bounded)."""
    name = path or "body"
    if isinstance(value, str):
        problem = text_problem(name, value)
        if problem:
            found.setdefault(_printable(name), problem)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            found.setdefault(_printable(name), "out_of_range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            found.setdefault(_printable(name), "out_of_range")
    elif isinstance(value, list):
        for item in value:  # list items are named like their list (attachments, nameservers)
            _check_json(found, item, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if text_problem(key, key, multi_line=False):
                found.setdefault(_printable(f"{path}.{key}" if path else key), "invalid_text")
                continue
            _check_json(found, item, f"{path}.{key}" if path else key)


# --- query parameters and form fields ------------------------------------------------------
def _parse_int(name: str, raw: str, minimum: int, maximum: int) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise InputError(422, "invalid_input", {name: "invalid_number"})
    number = int(raw)
    if not minimum <= number <= maximum:
        raise InputError(422, "invalid_input", {name: "out_of_range"})
    return number


def query_int(name: str, default: int, minimum: int = 1, maximum: int = PAGE_MAX) -> int:
    """A whole number from the address: plain ASCII digits within [minimum, maximum]; absent or
    empty gives `default`; anything else is 422 naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    return _parse_int(name, raw, minimum, maximum)


def page_args(per_page: int = 20, max_per_page: int = 100) -> tuple[int, int]:
    """(page, per_page) of a list."""
    return query_int("page", 1), query_int("per_page", per_page, maximum=max_per_page)


def query_choice(name: str, allowed: tuple[str, ...], reason: str = "invalid_choice") -> str | None:
    """One of `allowed`, or None when absent or empty; anything else is 422 naming it."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise InputError(422, "invalid_input", {name: reason})
    return value


def query_text(name: str, default: str = "", max_length: int = 500) -> str:
    value = request.args.get(name, default)
    if len(value) > max_length:
        raise InputError(422, "invalid_input", {name: "too_long"})
    return value


def form_int(name: str, minimum: int, maximum: int, default: int | None = None) -> int | None:
    """A whole number typed into a form (ASCII digits, surrounding spaces allowed); empty gives
    `default`; anything else is 422 naming it."""
    raw = request.form.get(name, "").strip()
    if raw == "":
        return default
    return _parse_int(name, raw, minimum, maximum)


# --- JSON bodies ---------------------------------------------------------------------------
def json_object() -> dict[str, Any]:
    """The JSON object sent (already checked by check_request), or 400 invalid_json."""
    data = g.get("json_body") if request.is_json else None
    if not isinstance(data, dict):
        raise InputError(400, "invalid_json")
    return data


class Body(BaseModel):
    """A part of a JSON body: strict types; an unknown key is refused by name (`billing_address.colour`)."""

    model_config = ConfigDict(strict=True, extra="forbid")


@functools.lru_cache(maxsize=256)
def _model(required: tuple[str, ...], optional: tuple[str, ...], types: tuple[tuple[str, Any], ...]) -> type:
    kinds = dict(types)
    fields: dict[str, Any] = {name: (kinds.get(name, str), ...) for name in required}
    # optional: may be left out, but a value sent (null too) must have the type
    fields.update({name: (kinds.get(name, str), None) for name in optional if name not in required})
    return create_model("Body", __config__=ConfigDict(strict=True, extra="ignore"), **fields)


_REASONS = {"missing": "required", "extra_forbidden": "unknown_field", "string_too_long": "too_long",
            "too_long": "too_long", "literal_error": "invalid_choice", "enum": "invalid_choice",
            "greater_than": "out_of_range", "greater_than_equal": "out_of_range", "less_than": "out_of_range",
            "less_than_equal": "out_of_range"}  # fmt: skip


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as {"a.b": reason}; list positions are left out of the name."""
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "body"
        found.setdefault(name, _REASONS.get(error["type"], "invalid_type"))
    return found


def json_fields(*required: str, optional: tuple[str, ...] = (), types: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON object sent, its named fields type-checked (a string unless `types` says
    otherwise: bool, int, list[str], a Body model, ...). A required field absent or null is
    `required`; a wrong type `invalid_type`, named (`billing_address.city`). Declared fields
    come back as validated (a Body model as a dict of the keys sent); others untouched."""
    data = json_object()
    missing = {name: "required" for name in required if data.get(name) is None}
    if missing:
        raise InputError(422, "invalid_input", missing)
    model = _model(tuple(required), tuple(optional), tuple(sorted((types or {}).items())))
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        raise InputError(422, "invalid_input", validation_fields(exc)) from None
    sent = {name for name in (*required, *optional) if name in data}
    return {**data, **checked.model_dump(include=sent, exclude_unset=True)}


def json_model(model: type[BaseModel], data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON object sent (or `data`), validated by `model` (gateway/schemas.py, which also describes it in
    the OpenAPI document): a required field absent or null is `required`, a wrong type `invalid_type`, named
    (`params.plan`). Returns the fields the model declares, as sent (defaults not added)."""
    data = json_object() if data is None else data
    missing = {name: "required" for name, field in model.model_fields.items()
               if field.is_required() and data.get(name) is None}  # fmt: skip
    if missing:
        raise InputError(422, "invalid_input", missing)
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        raise InputError(422, "invalid_input", validation_fields(exc)) from None
    return checked.model_dump(exclude_unset=True)


# Parts of bodies more than one endpoint takes (each key optional; a key sent must have the type).
class Address(Body):
    company: str = ""
    nip: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""


class MailPreferences(Body):
    billing: bool = True
    services: bool = True
    domains: bool = True
    support: bool = True
    security: bool = True


class Attachment(Body):
    filename: str
    data_base64: str
    content_type: str = ""
