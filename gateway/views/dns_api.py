"""A domain's DNS zone under /api/v1/domains/<id>/dns: records (A, AAAA, CNAME, MX, TXT, SRV, CAA),
reset to the defaults, export as a zone file; and its child nameservers (glue) under
/api/v1/domains/<id>/hosts. Scoped to the logged-in account (another's is a 404);
the route rules of /domains (view to read, manage to change) apply."""

from __future__ import annotations

from flask import g, jsonify
from pydantic import Field

from gateway import clients, rpc
from gateway.inputs import json_model
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.schemas import DnsRecord, Request, Zone
from gateway.views.api import api, token_required


def _account_id() -> str:
    return g.account["account_id"]


def _record() -> dict:
    return json_model(DnsRecord)


@api.get("/domains/<domain_id>/dns")
@token_required
def dns_zone(domain_id: str):
    return jsonify(rpc.call("domains", "get_zone", _account_id(), domain_id))


@api.post("/domains/<domain_id>/dns/records")
@token_required
def dns_add_record(domain_id: str):
    return jsonify(rpc.call("domains", "add_dns_record", _account_id(), domain_id, _record())), 201


@api.put("/domains/<domain_id>/dns/records/<record_id>")
@token_required
def dns_update_record(domain_id: str, record_id: str):
    return jsonify(rpc.call("domains", "update_dns_record", _account_id(), domain_id, record_id, _record()))


@api.delete("/domains/<domain_id>/dns/records/<record_id>")
@token_required
def dns_delete_record(domain_id: str, record_id: str):
    return jsonify(rpc.call("domains", "delete_dns_record", _account_id(), domain_id, record_id))


@api.post("/domains/<domain_id>/dns/reset")
@token_required
def dns_reset(domain_id: str):
    return jsonify(rpc.call("domains", "reset_zone", _account_id(), domain_id))


@api.get("/domains/<domain_id>/dns/export")
@token_required
def dns_export(domain_id: str):
    return jsonify(rpc.call("domains", "export_zone", _account_id(), domain_id))


# --- OpenAPI ----------------------------------------------------------------
_INT = {"type": "integer"}
_CHANGE = ("400", "404", "409", "422", "503")

PATHS["/domains/{domain_id}/dns"] = {"get": _op("The domain's DNS zone (created with the defaults on first use); "
                                                "status pending while PowerDNS has not applied the last change",
                                                "200", Zone, errors=("404", "409", "503"))}  # fmt: skip
PATHS["/domains/{domain_id}/dns/records"] = {"post": _op("Add a record", "201", Zone, DnsRecord, errors=_CHANGE)}
PATHS["/domains/{domain_id}/dns/records/{record_id}"] = {
    "put": _op("Replace a record", "200", Zone, DnsRecord, errors=_CHANGE),
    "delete": _op("Delete a record", "200", Zone, errors=("404", "409", "503")),
}
PATHS["/domains/{domain_id}/dns/reset"] = {"post": _op("Put the default records back", "200", Zone,
                                                       errors=("404", "409", "503"))}  # fmt: skip
PATHS["/domains/{domain_id}/dns/export"] = {"get": _op("The zone as an RFC 1035 zone file", "200",
                                                       _obj("text", domain_id=STRING, name=STRING, filename=STRING,
                                                            text=STRING), errors=("404", "409", "503"))}  # fmt: skip


# --- child nameservers (glue: host objects with addresses at the registry) -------------------------
class HostCreate(Request):
    host: str = Field(description="a host under the domain, whole (ns1.example.pl) or the part before it (ns1)")
    addresses: list[str] = Field(description="1-8 public IPv4/IPv6 addresses (the glue)")


class HostChange(Request):
    addresses: list[str] = Field(description="the host's addresses from now on (1-8)")


@api.get("/domains/<domain_id>/hosts")
@token_required
def hosts_list(domain_id: str):
    return jsonify(clients.domains.list_hosts(account_id=_account_id(), domain_id=domain_id))


@api.post("/domains/<domain_id>/hosts")
@token_required
def hosts_create(domain_id: str):
    data = json_model(HostCreate)
    return jsonify(clients.domains.create_host(account_id=_account_id(), domain_id=domain_id, host=data["host"],
                                               addresses=data["addresses"])), 201  # fmt: skip


@api.put("/domains/<domain_id>/hosts/<host>")
@token_required
def hosts_update(domain_id: str, host: str):
    data = json_model(HostChange)
    return jsonify(clients.domains.update_host(account_id=_account_id(), domain_id=domain_id, host=host,
                                               addresses=data["addresses"]))  # fmt: skip


@api.delete("/domains/<domain_id>/hosts/<host>")
@token_required
def hosts_delete(domain_id: str, host: str):
    return jsonify(clients.domains.delete_host(account_id=_account_id(), domain_id=domain_id, host=host))


_HOST = _obj("host", "unicode_host", "addresses", host=STRING, unicode_host=STRING,
             addresses={"type": "array", "items": STRING})  # fmt: skip
_HOSTS = _obj("domain_id", "name", "hosts", domain_id=STRING, name=STRING, unicode_name=STRING,
              hosts={"type": "array", "items": _HOST}, max_hosts=_INT, max_addresses=_INT)  # fmt: skip
PATHS["/domains/{domain_id}/hosts"] = {
    "get": _op("The domain's child nameservers (glue)", "200", _HOSTS, errors=("404", "503")),
    "post": _op("Create a child nameserver at the registry", "201", _HOSTS, HostCreate, errors=_CHANGE),
}
PATHS["/domains/{domain_id}/hosts/{host}"] = {
    "put": _op("Replace a child nameserver's addresses", "200", _HOSTS, HostChange, errors=_CHANGE),
    "delete": _op(
        "Delete a child nameserver (refused while the domain uses it)", "200", _HOSTS, errors=("404", "409", "503")
    ),  # fmt: skip
}
