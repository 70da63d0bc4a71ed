"""DNS zones: the records a customer keeps for a domain, their validation, the Zone aggregate
(`dnszone-<domain_id>` stream), its read model with what PowerDNS has applied, and the zone file.

A record is a flat dict: id, name (relative to the zone, ASCII; `@` is the apex), type, ttl, value,
and per type priority (MX, SRV), weight and port (SRV), flags and tag (CAA). SOA and NS are not
records the customer edits: they follow from the zone's nameservers when the zone is applied.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

import mongoengine as me

from kernel.aggregate import Aggregate
from kernel.errors import Conflict, Invalid, NotFound
from kernel.events import Event, NewEvent
from kernel.projections import Projection
from services.domains import names

ALIAS = "domains"
TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")
MIN_TTL, MAX_TTL, DEFAULT_TTL = 60, 86400, 3600
MAX_RECORDS = 500
MAX_TXT = 4000
CAA_TAGS = ("issue", "issuewild", "iodef")
FIELDS = ("name", "type", "ttl", "value", "priority", "weight", "port", "flags", "tag")
# the part of a record's name left of the zone: LDH labels, `_service` labels, `*` first
LABEL = re.compile(r"^(\*|_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# What a new zone points at: the hosting's addresses and its mail server.
HOSTING_IPV4 = os.environ.get("DNS_HOSTING_IPV4", "127.0.0.1")
HOSTING_IPV6 = os.environ.get("DNS_HOSTING_IPV6", "::1")
HOSTMASTER = os.environ.get("DNS_HOSTMASTER", "hostmaster.panel.localhost")


def zone_stream(domain_id: str) -> str:
    return f"dnszone-{domain_id}"


def default_records(new_id) -> list[dict[str, Any]]:
    """The hosting's web and mail addresses at the apex and www, and MX to mail.<zone>."""
    rows = [("@", "A", HOSTING_IPV4, {}), ("@", "AAAA", HOSTING_IPV6, {}), ("www", "CNAME", "@", {}),
            ("mail", "A", HOSTING_IPV4, {}), ("@", "MX", "mail", {"priority": 10}),
            ("@", "TXT", "v=spf1 mx -all", {})]  # fmt: skip
    return [{"id": new_id(), "name": n, "type": t, "ttl": DEFAULT_TTL, "value": v, **extra} for n, t, v, extra in rows]


# --------------------------------------------------------------------------- validation
def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        return None
    number = int(str(value).strip())
    return number if low <= number <= high else None


def _relative_name(raw: Any, zone: str) -> str:
    """`@`, `www`, `_sip._tcp`, `*.dev`, `sklep` in Unicode: the ASCII name relative to the zone."""
    if not isinstance(raw, str):
        raise ValueError("dns_invalid_name")
    text = raw.strip().lower().rstrip(".")
    if text in ("", "@", zone, names.to_unicode(zone)):
        return "@"
    for suffix in (zone, names.to_unicode(zone)):
        text = text.removesuffix("." + suffix)
    labels = []
    for index, label in enumerate(text.split(".")):
        if not label.isascii() and not label.startswith("_"):
            try:
                label = names.to_ascii_label(label)
            except names.InvalidName:
                raise ValueError("dns_invalid_name") from None
        if not LABEL.match(label) or (label == "*" and index):
            raise ValueError("dns_invalid_name")
        labels.append(label)
    relative = ".".join(labels)
    if len(f"{relative}.{zone}") > names.MAX_NAME:
        raise ValueError("dns_name_too_long")
    return relative


def _target(raw: Any, zone: str) -> str:
    """A host name a CNAME, MX or SRV points at: `@`, a name in the zone (`mail`) or a full one (`a.example.com.`)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("dns_invalid_target")
    text = raw.strip().lower()
    if text == "@":
        return "@"
    if not text.endswith(".") and "." not in text:
        return _relative_name(text, zone)
    host = names.valid_hostname(text)
    if not host:
        raise ValueError("dns_invalid_target")
    return "@" if host == zone else host.removesuffix("." + zone) if host.endswith("." + zone) else host + "."


def _value(kind: str, raw: Any, zone: str) -> str:
    if kind in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(raw.strip() if isinstance(raw, str) else "")
        except ValueError:
            raise ValueError(f"dns_invalid_{kind.lower()}") from None
        if address.version != (4 if kind == "A" else 6):
            raise ValueError(f"dns_invalid_{kind.lower()}")
        return str(address)
    if kind in ("CNAME", "MX", "SRV"):
        return _target(raw, zone)
    if not isinstance(raw, str) or not raw.strip() or CONTROL.search(raw):
        raise ValueError("dns_invalid_text")
    if kind == "TXT":
        if len(raw.encode()) > MAX_TXT:
            raise ValueError("dns_text_too_long")
        return raw.strip()
    if '"' in raw or len(raw) > 255:  # CAA value
        raise ValueError("dns_invalid_caa_value")
    return raw.strip()


def clean_record(raw: Any, zone: str) -> dict[str, Any]:
    """The record as stored, or Invalid naming every bad field."""
    if not isinstance(raw, dict):
        raise Invalid("invalid_input", {"record": "invalid_type"})
    errors = {k: "unknown_field" for k in raw if k not in FIELDS}
    kind = str(raw.get("type") or "").upper()
    if kind not in TYPES:
        raise Invalid("invalid_input", {**errors, "type": "dns_invalid_type"})
    record: dict[str, Any] = {"type": kind}
    for field, clean in (("name", lambda v: _relative_name(v, zone)), ("value", lambda v: _value(kind, v, zone))):
        try:
            record[field] = clean(raw.get(field, "@" if field == "name" else None))
        except ValueError as exc:
            errors[field] = str(exc)
    ttl = _int(raw.get("ttl", DEFAULT_TTL), MIN_TTL, MAX_TTL)
    errors |= {"ttl": "dns_invalid_ttl"} if ttl is None else {}
    record["ttl"] = ttl
    wanted = {"MX": ("priority",), "SRV": ("priority", "weight", "port"), "CAA": ("flags",)}.get(kind, ())
    for field in wanted:
        number = _int(raw.get(field), 0, 255 if field == "flags" else 65535)
        if number is None or (field == "flags" and number not in (0, 128)):
            errors[field] = f"dns_invalid_{field}"
        record[field] = number
    if kind == "CAA":
        record["tag"] = raw.get("tag")
        if record["tag"] not in CAA_TAGS:
            errors["tag"] = "dns_invalid_caa_tag"
    if kind == "SRV" and "name" not in errors and not re.match(r"^_[a-z0-9-]+\._(tcp|udp|tls)(\.|$)", record["name"]):
        errors["name"] = "dns_srv_name"
    if kind == "CNAME" and record.get("name") == "@":
        errors["name"] = "dns_cname_at_apex"
    if errors:
        raise Invalid("invalid_input", errors)
    return record


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in FIELDS if k != "ttl")


def check_fits(records: dict[str, dict[str, Any]], record: dict[str, Any], replacing: str | None = None) -> None:
    """No CNAME beside other records at one name, no record twice, at most MAX_RECORDS."""
    others = [r for i, r in records.items() if i != replacing]
    at_name = [r for r in others if r["name"] == record["name"]]
    if record["type"] == "CNAME" and at_name or any(r["type"] == "CNAME" for r in at_name):
        raise Conflict("invalid_input", {"name": "dns_cname_exclusive"})
    if any(_same(r, record) for r in at_name):
        raise Conflict("invalid_input", {"value": "dns_duplicate_record"})
    if len(others) >= MAX_RECORDS:
        raise Conflict("dns_too_many_records")


# --------------------------------------------------------------------------- the aggregate
class Zone(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.data: dict[str, Any] = {}
        self.records: dict[str, dict[str, Any]] = {}

    @property
    def domain_id(self) -> str:
        return self.stream_id.removeprefix("dnszone-")

    def _base(self) -> dict[str, Any]:
        return {k: self.data[k] for k in ("account_id", "domain_id", "name", "unicode_name")}

    def on_dns_zone_created(self, data: dict, _: Event) -> None:
        self.data = {k: data[k] for k in ("account_id", "domain_id", "name", "unicode_name", "nameservers")}
        self.records = {r["id"]: r for r in data["records"]}

    def on_dns_zone_reset(self, data: dict, _: Event) -> None:
        self.records = {r["id"]: r for r in data["records"]}

    def on_dns_record_added(self, data: dict, _: Event) -> None:
        self.records[data["record"]["id"]] = data["record"]

    on_dns_record_changed = on_dns_record_added

    def on_dns_record_removed(self, data: dict, _: Event) -> None:
        self.records.pop(data["record"]["id"], None)

    def create(self, details: dict[str, Any], records: list[dict[str, Any]]) -> list[NewEvent]:
        if self.exists:
            return []
        return [NewEvent("dns_zone_created", {**details, "domain_id": self.domain_id, "records": records})]

    def _record(self, record_id: str) -> dict[str, Any]:
        if record_id not in self.records:
            raise NotFound("dns_record")
        return self.records[record_id]

    def add(self, record: dict[str, Any]) -> list[NewEvent]:
        check_fits(self.records, record)
        return [NewEvent("dns_record_added", {**self._base(), "record": record})]

    def change(self, record: dict[str, Any]) -> list[NewEvent]:
        before = self._record(record["id"])
        if before == record:
            return []
        check_fits(self.records, record, replacing=record["id"])
        return [NewEvent("dns_record_changed", {**self._base(), "record": record, "previous": before})]

    def remove(self, record_id: str) -> list[NewEvent]:
        return [NewEvent("dns_record_removed", {**self._base(), "record": self._record(record_id)})]

    def reset(self, records: list[dict[str, Any]]) -> list[NewEvent]:
        return [NewEvent("dns_zone_reset", {**self._base(), "records": records})]


# --------------------------------------------------------------------------- what PowerDNS is given
def fqdn(relative: str, zone: str) -> str:
    return f"{zone}." if relative == "@" else f"{relative}.{zone}."


def _absolute(target: str, zone: str) -> str:
    return target if target.endswith(".") else fqdn(target, zone)


def _txt(text: str) -> str:
    raw = text.encode()
    chunks = [raw[i : i + 255].decode(errors="ignore") for i in range(0, len(raw), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def content(record: dict[str, Any], zone: str) -> str:
    """The record's data in presentation format."""
    kind, value = record["type"], record["value"]
    if kind == "CNAME":
        return _absolute(value, zone)
    if kind == "MX":
        return f"{record['priority']} {_absolute(value, zone)}"
    if kind == "SRV":
        return f"{record['priority']} {record['weight']} {record['port']} {_absolute(value, zone)}"
    if kind == "TXT":
        return _txt(value)
    if kind == "CAA":
        return f'{record["flags"]} {record["tag"]} "{value}"'
    return value


def rrsets(zone: str, nameservers: list[str], records: list[dict[str, Any]], serial: int) -> list[dict[str, Any]]:
    """Every RRset of the zone: SOA and NS from the nameservers, then the records grouped by name and type
    (an RRset has one TTL: the lowest of its records)."""
    primary = (nameservers or ["ns1.panel.localhost"])[0]
    soa = f"{primary}. {HOSTMASTER}. {serial} 10800 3600 604800 3600"
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((fqdn(record["name"], zone), record["type"]), []).append(record)
    sets = [{"name": f"{zone}.", "type": "SOA", "ttl": DEFAULT_TTL, "records": [soa]},
            {"name": f"{zone}.", "type": "NS", "ttl": DEFAULT_TTL, "records": [f"{n}." for n in nameservers]}]  # fmt: skip
    for (name, kind), found in sorted(groups.items()):
        data = sorted({content(r, zone) for r in found})
        sets.append({"name": name, "type": kind, "ttl": min(r["ttl"] for r in found), "records": data})
    return sets


def zone_file(zone: str, nameservers: list[str], records: list[dict[str, Any]], serial: int) -> str:
    """RFC 1035 master file of the zone (what `named` or PowerDNS's zone2sql would read)."""
    lines = [f"$ORIGIN {zone}.", f"$TTL {DEFAULT_TTL}"]
    for rrset in rrsets(zone, nameservers, records, serial):
        owner = "@" if rrset["name"] == f"{zone}." else rrset["name"].removesuffix(f".{zone}.")
        lines += [f"{owner}\t{rrset['ttl']}\tIN\t{rrset['type']}\t{data}" for data in rrset["records"]]
    return "\n".join(lines) + "\n"


def public_record(record: dict[str, Any], zone: str) -> dict[str, Any]:
    shown = {k: record[k] for k in ("id", *FIELDS) if record.get(k) is not None}
    full = fqdn(record["name"], zone).rstrip(".")
    return {**shown, "fqdn": full, "unicode_name": "@" if record["name"] == "@" else names.to_unicode(record["name"]),
            "unicode_fqdn": names.to_unicode(full), "content": content(record, zone)}  # fmt: skip


# --------------------------------------------------------------------------- read model
class ZoneView(me.Document):
    """One row per zone: its records as of `version`, and how far PowerDNS has applied them."""

    id = me.StringField(primary_key=True)  # the domain id
    account_id = me.StringField(required=True)
    name = me.StringField()
    unicode_name = me.StringField()
    nameservers = me.ListField(me.StringField())
    records = me.ListField(me.DictField())
    version = me.IntField(default=0)
    applied_version = me.IntField(default=0)
    applying_until = me.FloatField(default=0)  # a lease (epoch seconds) held by whoever pushes it now
    apply_error = me.StringField(null=True)
    meta = {"db_alias": ALIAS, "collection": "dns_zones", "indexes": ["account_id", "version"],
            "auto_create_index": False}  # fmt: skip

    def public(self) -> dict[str, Any]:
        records = sorted(self.records, key=lambda r: (r["name"] != "@", r["name"], r["type"], str(r.get("value"))))
        return {"domain_id": self.id, "name": self.name, "unicode_name": self.unicode_name,
                "nameservers": list(self.nameservers), "records": [public_record(r, self.name) for r in records],
                "version": self.version, "applied_version": self.applied_version,
                "status": "applied" if self.applied_version >= self.version else "pending", "error": self.apply_error,
                "types": list(TYPES)}  # fmt: skip


zones = Projection("dns_zones", ALIAS, [ZoneView])


@zones.on("dns_zone_created")
def _created(event: Event) -> None:
    d = event.data
    if ZoneView.objects(id=d["domain_id"]).first():
        return
    ZoneView(id=d["domain_id"], account_id=d["account_id"], name=d["name"], unicode_name=d["unicode_name"],
             nameservers=d["nameservers"], records=d["records"], version=event.version).save()  # fmt: skip


@zones.on("dns_zone_reset", "dns_record_added", "dns_record_changed", "dns_record_removed")
def _changed(event: Event) -> None:
    view = ZoneView.objects(id=event.data["domain_id"]).first()
    if not view:
        return
    records = {r["id"]: r for r in view.records}
    if event.type == "dns_zone_reset":
        records = {r["id"]: r for r in event.data["records"]}
    elif event.type == "dns_record_removed":
        records.pop(event.data["record"]["id"], None)
    elif "record" in event.data:
        records[event.data["record"]["id"]] = event.data["record"]
    ZoneView.objects(id=view.id).update_one(set__records=list(records.values()), set__version=event.version)
