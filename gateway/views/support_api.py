"""Support under /api/v1: the account's tickets and the news.

Every call is scoped to the logged-in account (`g.account["account_id"]`).
Attachments are not taken through the JSON API yet.
"""

from __future__ import annotations

from flask import g, jsonify, request

from gateway import rpc
from gateway.auth import request_ctx
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.views.api import api, body, token_required
from gateway.views.billing_api import positive_int


def _account_id() -> str:
    return g.account["account_id"]


@api.get("/tickets")
@token_required
def list_tickets():
    page, per_page = positive_int("page", 1), positive_int("per_page", 20, maximum=100)
    status = request.args.get("status") or None
    return jsonify(rpc.call("support", "list_tickets", _account_id(), status, page, per_page))


@api.post("/tickets")
@token_required
def open_ticket():
    data = body("department", "priority", "subject", "message")
    ticket = rpc.call("support", "open_ticket", _account_id(), data["department"], data["priority"], data["subject"],
                      data["message"], ctx=request_ctx())  # fmt: skip
    return jsonify(ticket), 201


@api.get("/tickets/<ticket_id>")
@token_required
def get_ticket(ticket_id: str):
    return jsonify(rpc.call("support", "get_ticket", _account_id(), ticket_id))


@api.post("/tickets/<ticket_id>/replies")
@token_required
def reply_ticket(ticket_id: str):
    data = body("message")
    return jsonify(rpc.call("support", "reply", _account_id(), ticket_id, data["message"], ctx=request_ctx())), 201


@api.post("/tickets/<ticket_id>/close")
@token_required
def close_ticket(ticket_id: str):
    return jsonify(rpc.call("support", "close_ticket", _account_id(), ticket_id, ctx=request_ctx()))


@api.get("/news")
@token_required
def list_news():
    page, per_page = positive_int("page", 1), positive_int("per_page", 10, maximum=100)
    return jsonify(rpc.call("support", "list_news", g.language, page, per_page, account_id=_account_id()))


# --- OpenAPI ----------------------------------------------------------------
_PAGE = _obj("items", items={"type": "array"}, total={"type": "integer"}, page={"type": "integer"},
             per_page={"type": "integer"}, pages={"type": "integer"})  # fmt: skip
_TICKET = _obj("ticket_id", "number", "status", ticket_id=STRING, number=STRING, subject=STRING, department=STRING,
               priority=STRING, status=STRING, messages={"type": "array"})  # fmt: skip
_OPEN = _obj("department", "priority", "subject", "message",
             department={"type": "string", "enum": ["technical", "billing", "sales"]},
             priority={"type": "string", "enum": ["low", "medium", "high", "urgent"]}, subject=STRING, message=STRING)  # fmt: skip

PATHS["/tickets"] = {
    "get": _op("The account's tickets, most recently updated first (query: status, page, per_page)", "200", _PAGE,
               errors=("422", "503")),
    "post": _op("Open a ticket", "201", _TICKET, _OPEN),
}  # fmt: skip
PATHS["/tickets/{ticket_id}"] = {"get": _op("A ticket and its conversation", "200", _TICKET, errors=("404", "503"))}
PATHS["/tickets/{ticket_id}/replies"] = {
    "post": _op("Answer a ticket (a closed one is reopened)", "201", _TICKET, _obj("message", message=STRING),
                errors=("400", "404", "422", "503"))
}  # fmt: skip
PATHS["/tickets/{ticket_id}/close"] = {"post": _op("Close a ticket", "200", _TICKET, errors=("404", "503"))}
PATHS["/news"] = {"get": _op("News that concern the account, newest first (query: page, per_page)", "200", _PAGE,
                             errors=("422", "503"))}  # fmt: skip
