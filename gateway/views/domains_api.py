"""Domains under /api/v1: availability check, the account's domains, management, EPP code.

Every call is scoped to the logged-in account; another account's domain is a 404.
Cart items of kind domain_registration / domain_transfer go through billing's cart endpoints.
"""

from __future__ import annotations

from flask import g, jsonify

from gateway import clients, inputs, schemas
from gateway.errors import ApiError
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.views.api import api, token_required

STATUSES = ("pending", "pending_registration", "pending_transfer", "active", "grace_period", "redemption", "expired",
            "transferred_away", "cancelled")  # fmt: skip


def _account_id() -> str:
    return g.account["account_id"]


@api.get("/domains/check")
@token_required
def domains_check():
    name = inputs.query_text("name")
    if not name.strip():
        raise ApiError(422, "invalid_input", {"name": "domains_name_required"})
    return jsonify(clients.domains.check(name=name))


@api.get("/domains")
@token_required
def domains_list():
    status = inputs.query_choice("status", STATUSES, "invalid_status")
    page, per_page = inputs.page_args()
    query = inputs.query_text("q") or inputs.query_text("query") or None
    return jsonify(
        clients.domains.list_domains(account_id=_account_id(), page=page, per_page=per_page, status=status, query=query)
    )


@api.get("/domains/<domain_id>")
@token_required
def domains_get(domain_id: str):
    return jsonify(clients.domains.get_domain(account_id=_account_id(), domain_id=domain_id))


@api.patch("/domains/<domain_id>")
@token_required
def domains_patch(domain_id: str):
    data = inputs.json_model(schemas.DomainChange)
    if not data:
        raise ApiError(422, "invalid_input", {"nameservers": "required"})
    return jsonify(clients.domains.update_domain(account_id=_account_id(), domain_id=domain_id, changes=data))


@api.get("/domains/<domain_id>/epp-code")
@token_required
def domains_epp_code(domain_id: str):
    return jsonify(clients.domains.reveal_epp_code(account_id=_account_id(), domain_id=domain_id))


# --- OpenAPI ----------------------------------------------------------------
_BOOL = {"type": "boolean"}
_RESULT = _obj("name", "unicode_name", "tld", "available", "prices", name=STRING, unicode_name=STRING, tld=STRING,
               available=_BOOL, premium=_BOOL, vat_rate={"type": "integer"}, currency=STRING,
               prices=_obj("register", "transfer", "renew",
                           **{k: {"type": "integer", "description": "net grosze per year"}
                              for k in ("register", "transfer", "renew")}))  # fmt: skip

PATHS["/domains/check"] = {"get": _op("Availability and prices of a name, or of a label under every TLD we sell "
                                      "(query: name)", "200", _obj("results", query=STRING,
                                                                    results={"type": "array", "items": _RESULT}),
                                      errors=("422", "503"))}  # fmt: skip
PATHS["/domains"] = {"get": _op("The account's domains (query: page, per_page, status, q)", "200",
                                schemas.DomainPage, errors=("422", "503"))}  # fmt: skip
PATHS["/domains/{domain_id}"] = {
    "get": _op("One domain", "200", schemas.Domain, errors=("404", "503")),
    "patch": _op("Change nameservers (2-13 host names), registrar lock or auto-renew; all or nothing", "200",
                 schemas.Domain, schemas.DomainChange, errors=("400", "404", "409", "422", "503")),
}  # fmt: skip
PATHS["/domains/{domain_id}/epp-code"] = {"get": _op("Reveal the EPP (auth) code to move the domain elsewhere", "200",
                                                     _obj("epp_code", domain_id=STRING, name=STRING, epp_code=STRING),
                                                     errors=("404", "409", "503"))}  # fmt: skip
