"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from gateway import schemas

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "In the account's or the request's language"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}
COMPONENTS: dict[str, dict[str, Any]] = {}  # components/schemas: the declared models (gateway/schemas.py)
_REF = "#/components/schemas/{model}"


def schema_of(model: type[BaseModel] | TypeAdapter) -> dict[str, Any]:
    """The JSON schema pydantic generates for a declared body (a model: a $ref to it; a TypeAdapter, e.g. a
    discriminated union: its schema), the models it uses put in COMPONENTS."""
    if isinstance(model, TypeAdapter):
        schema = model.json_schema(ref_template=_REF)
        COMPONENTS.update(schema.pop("$defs", {}))
        return schema
    schema = model.model_json_schema(ref_template=_REF)
    COMPONENTS.update(schema.pop("$defs", {}))
    COMPONENTS[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _schema(model: dict | type[BaseModel] | None) -> dict[str, Any]:
    """A response body's schema: a declared model's $ref (gateway/schemas.py), or a hand-written one."""
    if model is None:
        return {"type": "object"}
    return model if isinstance(model, dict) else schema_of(model)


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _obj(*required: str, **props: dict) -> dict:
    return {"type": "object", "required": list(required), "properties": props}


STRING = {"type": "string"}
PASSWORD = {"type": "string", "minLength": 10, "maxLength": 128}
ERRORS = {code: {"description": text, **_json(ERROR)} for code, text in (
    ("400", "Malformed request"), ("401", "No valid bearer token"), ("403", "Forbidden"),
    ("404", "Not found (or another account's)"), ("409", "Conflict"), ("422", "Invalid fields"),
    ("429", "Too many attempts"), ("503", "A service is temporarily unavailable"),
)}  # fmt: skip


def _op(summary: str, ok: str, response_model: dict | type[BaseModel] | None = None,
        request: dict | type[BaseModel] | TypeAdapter | None = None, auth: bool = True,
        errors: tuple[str, ...] = ("400", "422", "503")) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "OK", **_json(_schema(response_model))},
            **{e: ERRORS[e] for e in errors},
        },
    }
    if request is not None:
        op["requestBody"] = {"required": True, **_json(request if isinstance(request, dict) else schema_of(request))}
    if auth:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = ERRORS["401"]
    else:
        op["security"] = []
    return op


PATHS: dict[str, dict[str, Any]] = {
    "/auth/register": {
        "post": _op(
            "Create an account; a verification mail is sent",
            "201",
            _obj("account_id", account_id=STRING),
            schemas.Register,
            auth=False,
            errors=("400", "409", "422", "503"),
        )
    },  # fmt: skip
    "/auth/verify-email": {
        "post": _op(
            "Confirm the e-mail address with the token from the mail",
            "200",
            _obj("account_id", account_id=STRING),
            schemas.Token,
            auth=False,
        )
    },  # fmt: skip
    "/auth/login": {
        "post": _op(
            "Log in; returns a bearer token",
            "200",
            _obj("token", token=STRING, account_id=STRING),
            schemas.Login,
            auth=False,
            errors=("400", "401", "403", "422", "429", "503"),
        )
    },  # fmt: skip
    "/auth/logout": {"post": _op("End this token's session", "200")},
    "/auth/password-reset": {
        "post": _op(
            "Mail a single-use reset link (same answer for unknown e-mails)",
            "202",
            None,
            schemas.Email,
            auth=False,
        )
    },  # fmt: skip
    "/auth/password-reset/confirm": {
        "post": _op(
            "Set a new password with the mailed token",
            "200",
            None,
            schemas.NewPassword,
            auth=False,
        )
    },  # fmt: skip
    "/profile": {
        "get": _op(
            "Personal data, billing address, notification preferences, mailing list",
            "200",
            schemas.Profile,
            errors=("503",),
        ),
        "patch": _op(
            "Change any of them; all or nothing",
            "200",
            schemas.Profile,
            schemas.ProfileChange,
            errors=("400", "409", "422", "503"),
        ),
    },
    "/dashboard": {
        "get": _op(
            "Every dashboard section in one call",
            "200",
            schemas.Dashboard,
            errors=("503",),
        )
    },  # fmt: skip
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Panel Klienta API",
            "version": "1.0.0",
            "description": "Customer panel of a hosting provider. Errors: {error: {code, message, fields}}.",
        },  # fmt: skip
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(COMPONENTS.items())),
        },
        "paths": {
            path: _with_input_errors(path, _with_links(path, _with_path_parameters(path, item)))
            for path, item in PATHS.items()
        },
    }


ERRORS["413"] = {"description": "The request body is too large", **_json(ERROR)}


def _with_input_errors(path: str, item: dict[str, Any]) -> dict[str, Any]:
    """What gateway/inputs.py answers before any view, on every operation: 422 for a query
    parameter (or field) that is not valid text or a bounded number, 400 for a malformed or too
    deeply nested JSON body, 413 for one too large, 404 for an id that is not valid text."""
    item = dict(item)
    for method, op in item.items():
        if method == "parameters" or not isinstance(op, dict) or "responses" not in op:
            continue
        extra = ("400", "422", *(("413",) if "requestBody" in op else ()), *(("404",) if "{" in path else ()))
        item[method] = {**op, "responses": {**op["responses"], **{e: ERRORS[e] for e in extra
                                                                   if e not in op["responses"]}}}  # fmt: skip
    return item


# Links between operations (OpenAPI 3.1 `links`): where an answer's ids lead. Clients may follow them;
# schemathesis' stateful fuzzing does (tests/faults/test_api_fuzz.py) to reach the reads, changes and
# deletions of what it created. (source path, method, status) -> {name: (target path, method, {parameter: expression})}
_ID = "$response.body#/"
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/tickets", "post", "201"): {
        "GetTicket": ("/tickets/{ticket_id}", "get", {"ticket_id": _ID + "ticket_id"}),
        "ReplyTicket": ("/tickets/{ticket_id}/replies", "post", {"ticket_id": _ID + "ticket_id"}),
        "CloseTicket": ("/tickets/{ticket_id}/close", "post", {"ticket_id": _ID + "ticket_id"}),
    },
    ("/tickets", "get", "200"): {
        "GetTicket": ("/tickets/{ticket_id}", "get", {"ticket_id": _ID + "items/0/ticket_id"})
    },
    ("/contacts", "post", "201"): {
        "GetContact": ("/contacts/{contact_id}", "get", {"contact_id": _ID + "contact_id"}),
        "UpdateContact": ("/contacts/{contact_id}", "patch", {"contact_id": _ID + "contact_id"}),
        "InviteContact": ("/contacts/{contact_id}/invitation", "post", {"contact_id": _ID + "contact_id"}),
        "RemoveContact": ("/contacts/{contact_id}", "delete", {"contact_id": _ID + "contact_id"}),
    },
    ("/contacts", "get", "200"): {
        "GetContact": ("/contacts/{contact_id}", "get", {"contact_id": _ID + "items/0/contact_id"})
    },
    ("/cart/items", "post", "201"): {
        "RemoveItem": ("/cart/items/{item_id}", "delete", {"item_id": _ID + "items/0/item_id"})
    },
    ("/cart/checkout", "post", "200"): {
        "GetInvoice": ("/invoices/{invoice_id}", "get", {"invoice_id": _ID + "invoice_id"}),
        "InvoicePdf": ("/invoices/{invoice_id}/pdf", "get", {"invoice_id": _ID + "invoice_id"}),
        "PayInvoice": ("/invoices/{invoice_id}/pay", "post", {"invoice_id": _ID + "invoice_id"}),
    },
    ("/invoices", "get", "200"): {
        "GetInvoice": ("/invoices/{invoice_id}", "get", {"invoice_id": _ID + "items/0/invoice_id"}),
        "PayInvoice": ("/invoices/{invoice_id}/pay", "post", {"invoice_id": _ID + "items/0/invoice_id"}),
    },
    ("/services", "get", "200"): {
        "GetService": ("/services/{service_id}", "get", {"service_id": _ID + "items/0/service_id"})
    },
    ("/domains", "get", "200"): {
        "GetDomain": ("/domains/{domain_id}", "get", {"domain_id": _ID + "items/0/domain_id"}),
        "UpdateDomain": ("/domains/{domain_id}", "patch", {"domain_id": _ID + "items/0/domain_id"}),
    },
    ("/emails", "get", "200"): {"GetMail": ("/emails/{mail_id}", "get", {"mail_id": _ID + "items/0/mail_id"})},
}


def _with_links(path: str, item: dict[str, Any]) -> dict[str, Any]:
    """The operations of `path` with their LINKS (only to operations the document has)."""
    wanted = {(method, status): links for (source, method, status), links in LINKS.items() if source == path}
    if not wanted:
        return item
    item = dict(item)
    for (method, status), links in wanted.items():
        response = item.get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        present = {name: (target, verb, parameters) for name, (target, verb, parameters) in links.items()
                   if verb in PATHS.get(target, {})}  # fmt: skip
        item[method] = {**item[method], "responses": {**item[method]["responses"], status: {**response, "links": {
            name: {"operationRef": f"#/paths/{_pointer(target)}/{verb}", "parameters": parameters}
            for name, (target, verb, parameters) in present.items()}}}}  # fmt: skip
    return item


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def _with_path_parameters(path: str, item: dict[str, Any]) -> dict[str, Any]:
    """Declare every `{name}` of the path as a required string parameter (OpenAPI requires it)."""
    names = re.findall(r"{(\w+)}", path)
    if not names or "parameters" in item:
        return item
    return {"parameters": [{"name": n, "in": "path", "required": True, "schema": STRING} for n in names], **item}
