"""Support under /api/v1: the account's tickets and the news.

Every call is scoped to the logged-in account (`g.account["account_id"]`).
Replies (and new tickets) take attachments either as multipart/form-data
(fields plus `attachments` files) or as JSON with `attachments:
[{filename, data_base64}]`.
"""

from __future__ import annotations

from flask import g, jsonify, request

from gateway import clients, inputs, rpc, schemas
from gateway.errors import ApiError
from gateway.openapi import PATHS, STRING, _obj, _op, schema_of
from gateway.views.api import api, token_required
from gateway.views.support_pages import attachment_response, chosen_related, related_choices, uploaded_files

# which list of related_choices a related value's kind comes from
RELATED_LISTS = {"service": "services", "domain": "domains"}
# attachments in base64 make a JSON body larger than others may be (up to the request limit)
ATTACHMENTS_JSON_MAX_BYTES = 30 * 1024 * 1024


def _account_id() -> str:
    return g.account["account_id"]


def _fields_and_files(model: type[schemas.Request]) -> tuple[dict, list | None]:
    """The model's fields and the attachments, from a multipart form or a JSON body."""
    if request.mimetype == "multipart/form-data":
        names = [name for name in model.model_fields if name != "attachments"]
        data = {name: request.form.get(name) for name in names}
        missing = {name: "required" for name in names if model.model_fields[name].is_required() and data[name] is None}
        if missing:
            raise ApiError(422, "invalid_input", missing)
        return data, uploaded_files()
    data = inputs.json_model(model)
    return data, data.get("attachments")


def _related(account_id: str, value: str | None) -> dict | None:
    """`related` ("service:<id>" or "domain:<id>") checked the way the page form checks it:
    only the account's own services and domains; a list that cannot be read now is a 503."""
    if not value:
        return None
    choices, missing = related_choices(account_id)
    if RELATED_LISTS.get(value.partition(":")[0]) in missing:
        raise rpc.ServiceUnavailable(f"related {value.partition(':')[0]} list")
    return chosen_related(value, choices)


@api.get("/tickets")
@token_required
def list_tickets():
    page, per_page = inputs.page_args()
    status, department = inputs.query_text("status") or None, inputs.query_text("department") or None
    return jsonify(
        clients.support.list_tickets(
            account_id=_account_id(), status=status, page=page, per_page=per_page, department=department
        )
    )


@api.post("/tickets")
@token_required
@inputs.json_limit(ATTACHMENTS_JSON_MAX_BYTES)
def open_ticket():
    data, files = _fields_and_files(schemas.NewTicket)
    related = _related(_account_id(), data.get("related"))
    ticket = clients.support.open_ticket(account_id=_account_id(), department=data["department"], priority=data["priority"], subject=data["subject"], message=data["message"], related=related, attachments=files)  # fmt: skip
    return jsonify(ticket), 201


@api.get("/tickets/<ticket_id>")
@token_required
def get_ticket(ticket_id: str):
    return jsonify(clients.support.get_ticket(account_id=_account_id(), ticket_id=ticket_id))


@api.post("/tickets/<ticket_id>/replies")
@token_required
@inputs.json_limit(ATTACHMENTS_JSON_MAX_BYTES)
def reply_ticket(ticket_id: str):
    data, files = _fields_and_files(schemas.Reply)
    reply = clients.support.reply(
        account_id=_account_id(), ticket_id=ticket_id, message=data["message"], attachments=files
    )
    return jsonify(reply), 201


@api.get("/tickets/<ticket_id>/attachments/<attachment_id>")
@token_required
def ticket_attachment(ticket_id: str, attachment_id: str):
    return attachment_response(
        clients.support.get_attachment(account_id=_account_id(), ticket_id=ticket_id, attachment_id=attachment_id)
    )


@api.post("/tickets/<ticket_id>/close")
@token_required
def close_ticket(ticket_id: str):
    return jsonify(clients.support.close_ticket(account_id=_account_id(), ticket_id=ticket_id))


@api.get("/news")
@token_required
def list_news():
    page, per_page = inputs.page_args(per_page=10)
    return jsonify(
        clients.support.list_news(language=g.language, page=page, per_page=per_page, account_id=_account_id())
    )


# --- OpenAPI ----------------------------------------------------------------
_PAGE = _obj("items", items={"type": "array"}, total={"type": "integer"}, page={"type": "integer"},
             per_page={"type": "integer"}, pages={"type": "integer"})  # fmt: skip
_FILES = {"type": "array", "items": {"type": "string", "format": "binary"}}


def _with_files(model: type[schemas.Request]) -> dict:
    """A request body as JSON (attachments base64) or multipart/form-data (the same fields, attachments as files)."""
    as_form = model.model_json_schema()
    as_form.pop("$defs", None)
    as_form["properties"]["attachments"] = _FILES
    return {"required": True, "content": {"application/json": {"schema": schema_of(model)},
                                          "multipart/form-data": {"schema": as_form}}}  # fmt: skip


PATHS["/tickets"] = {
    "get": _op("The account's tickets, most recently updated first (query: status, department, page, per_page)",
               "200", _PAGE, errors=("422", "503")),
    "post": {**_op("Open a ticket (attachments as multipart files or base64 in JSON)", "201", schemas.Ticket),
             "requestBody": _with_files(schemas.NewTicket)},
}  # fmt: skip
PATHS["/tickets/{ticket_id}"] = {
    "get": _op("A ticket and its conversation", "200", schemas.Ticket, errors=("404", "503"))
}
PATHS["/tickets/{ticket_id}/replies"] = {
    "post": {
        **_op("Answer a ticket (a closed one is reopened); attachments as multipart files or base64 in JSON", "201",
              schemas.Ticket, errors=("400", "404", "422", "503")),
        "requestBody": _with_files(schemas.Reply),
    }
}  # fmt: skip
_DOWNLOAD = _op("Download an attachment of the account's ticket (always as an attachment)", "200",
               errors=("404", "503"))  # fmt: skip
_DOWNLOAD["responses"]["200"] = {"description": "The file, as Content-Disposition: attachment",
                                 "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}  # fmt: skip
PATHS["/tickets/{ticket_id}/attachments/{attachment_id}"] = {"get": _DOWNLOAD}
PATHS["/tickets/{ticket_id}/close"] = {"post": _op("Close a ticket", "200", schemas.Ticket, errors=("404", "503"))}
_NEWS_ITEM = _obj("news_id", "title", "published_at", "relevant", news_id=STRING, title=STRING, body=STRING,
                  body_html=STRING, language=STRING, concerns_plans={"type": "array", "items": STRING},
                  published_at=STRING, updated_at=STRING,
                  relevant={"type": "boolean", "description": "Concerns a plan the account holds"})  # fmt: skip
_NEWS_PAGE = {**_PAGE, "properties": {**_PAGE["properties"], "items": {"type": "array", "items": _NEWS_ITEM}}}
PATHS["/news"] = {"get": _op("Every published item in the account's language, newest first, those concerning the "
                             "account's plans marked relevant (query: page, per_page)", "200", _NEWS_PAGE,
                             errors=("422", "503"))}  # fmt: skip
