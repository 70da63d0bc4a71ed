"""Child nameservers (glue) of a customer's own domain: host objects at the registry, such as
ns1.example.pl with its IPv4/IPv6 addresses, so that example.pl can be delegated to servers inside itself.

Stream `domainhosts-<domain_id>`: `domain_host_created`, `domain_host_changed` (the whole address list)
and `domain_host_deleted`. The registry is asked first (the registrar's create_host / update_host /
delete_host); only what it accepted is recorded. A host a delegation uses (the domain's own nameservers)
cannot be deleted.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kernel.aggregate import Aggregate, execute
from kernel.errors import Conflict, Invalid, NotFound, Unavailable
from kernel.events import Event, NewEvent, command_meta
from services.domains import names
from services.domains.app import SYSTEM, Deps, own
from services.domains.domain import HELD
from services.domains.projections import DomainView
from services.domains.registry_types import RegistrarError

MAX_HOSTS = 13
MAX_ADDRESSES = 8
SEPARATORS = re.compile(r"[\s,;]+")


def host_stream(domain_id: str) -> str:
    return f"domainhosts-{domain_id}"


class Hosts(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.hosts: dict[str, dict[str, Any]] = {}  # ASCII name -> {"unicode_host", "addresses"}

    def on_domain_host_created(self, data: dict, _: Event) -> None:
        self.hosts[data["host"]] = {"unicode_host": data["unicode_host"], "addresses": list(data["addresses"])}

    def on_domain_host_changed(self, data: dict, _: Event) -> None:
        self.hosts[data["host"]]["addresses"] = list(data["addresses"])

    def on_domain_host_deleted(self, data: dict, _: Event) -> None:
        self.hosts.pop(data["host"], None)

    def create(self, base: dict[str, str], host: str, unicode_host: str, addresses: list[str]) -> list[NewEvent]:
        if host in self.hosts:
            raise Conflict("domains_host_exists")
        if len(self.hosts) >= MAX_HOSTS:
            raise Invalid("invalid_input", {"host": "domains_too_many_hosts"})
        return [NewEvent("domain_host_created", {**base, "host": host, "unicode_host": unicode_host,
                                                 "addresses": addresses})]  # fmt: skip

    def change(self, base: dict[str, str], host: str, addresses: list[str]) -> list[NewEvent]:
        current = self.existing(host)
        if current["addresses"] == addresses:
            return []
        return [NewEvent("domain_host_changed", {**base, "host": host, "unicode_host": current["unicode_host"],
                                                 "addresses": addresses, "previous_addresses": current["addresses"]})]  # fmt: skip

    def delete(self, base: dict[str, str], host: str) -> list[NewEvent]:
        current = self.existing(host)
        return [NewEvent("domain_host_deleted", {**base, "host": host, "unicode_host": current["unicode_host"]})]

    def existing(self, host: str) -> dict[str, Any]:
        if host not in self.hosts:
            raise NotFound("host")
        return self.hosts[host]

    def public(self) -> list[dict[str, Any]]:
        return [{"host": h, "unicode_host": v["unicode_host"], "addresses": list(v["addresses"])}
                for h, v in sorted(self.hosts.items())]  # fmt: skip


# --- input -----------------------------------------------------------------------------------------
def parse_host(domain: DomainView, raw: Any) -> tuple[str, str]:
    """A host under the domain, given whole (ns1.example.pl) or as one label before it (ns1): (ASCII, Unicode)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("invalid_input", {"host": "required"})
    text = raw.strip().rstrip(".").lower()
    host = names.valid_hostname(text if "." in text else f"{text}.{domain.name}")
    if not host or not host.endswith("." + domain.name):
        raise Invalid("invalid_input", {"host": "domains_host_not_under_domain" if host else "domains_invalid_host"})
    return host, names.to_unicode(host)


def parse_addresses(raw: Any) -> list[str]:
    """1-8 public IPv4/IPv6 addresses, given as a list or as text separated by spaces, commas or lines."""
    items = SEPARATORS.split(raw.strip()) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not [i for i in items if i]:
        raise Invalid("invalid_input", {"addresses": "domains_addresses_required"})
    out: list[str] = []
    for item in items:
        if not item:
            continue
        try:
            address = ipaddress.ip_address(item.strip() if isinstance(item, str) else item)
        except ValueError:
            raise Invalid("invalid_input", {"addresses": "domains_invalid_ip"}) from None
        if not address.is_global:
            raise Invalid("invalid_input", {"addresses": "domains_ip_not_public"})
        if address.compressed not in out:
            out.append(address.compressed)
    if len(out) > MAX_ADDRESSES:
        raise Invalid("invalid_input", {"addresses": "domains_too_many_addresses"})
    return out


# --- the customer's commands ---------------------------------------------------------------------
def _held(account_id: str, domain_id: Any) -> DomainView:
    view = own(account_id, domain_id)
    if view.status not in HELD:
        raise Conflict("domains_not_active")
    return view


def _base(view: DomainView) -> dict[str, str]:
    return {"account_id": view.account_id, "domain_id": view.id, "name": view.name,
            "unicode_name": view.unicode_name or view.name}  # fmt: skip


def _load(deps: Deps, domain_id: str) -> Hosts:
    return Hosts.load(deps.events, host_stream(domain_id))


def _record(deps: Deps, view: DomainView, decide, ctx: dict | None) -> dict[str, Any]:
    execute(deps.events, Hosts, host_stream(view.id), decide, command_meta(ctx or SYSTEM))
    return listing(deps, view.account_id, view.id)


def _registry(deps: Deps, method: str, *args: Any) -> None:
    try:
        deps.registry(method, *args)
    except RegistrarError as exc:
        raise (Unavailable if exc.temporary else Conflict)(exc.code) from None


def listing(deps: Deps, account_id: str, domain_id: Any) -> dict[str, Any]:
    view = own(account_id, domain_id)
    return {**_base(view), "hosts": _load(deps, view.id).public(), "max_hosts": MAX_HOSTS,
            "max_addresses": MAX_ADDRESSES}  # fmt: skip


def create(deps: Deps, account_id: str, domain_id: Any, host: Any, addresses: Any, ctx: dict | None) -> dict[str, Any]:
    view = _held(account_id, domain_id)
    name, unicode_host = parse_host(view, host)
    clean = parse_addresses(addresses)
    _load(deps, view.id).create(_base(view), name, unicode_host, clean)  # refused before the registry is asked
    _registry(deps, "create_host", name, clean)
    return _record(deps, view, lambda h: h.create(_base(view), name, unicode_host, clean), ctx)


def change(deps: Deps, account_id: str, domain_id: Any, host: Any, addresses: Any, ctx: dict | None) -> dict[str, Any]:
    view = _held(account_id, domain_id)
    name, _ = parse_host(view, host)
    clean = parse_addresses(addresses)
    if _load(deps, view.id).change(_base(view), name, clean):
        _registry(deps, "update_host", name, clean)
    return _record(deps, view, lambda h: h.change(_base(view), name, clean), ctx)


def delete(deps: Deps, account_id: str, domain_id: Any, host: Any, ctx: dict | None) -> dict[str, Any]:
    view = _held(account_id, domain_id)
    name, _ = parse_host(view, host)
    _load(deps, view.id).existing(name)
    if name in view.nameservers:
        raise Conflict("domains_host_in_use")
    _registry(deps, "delete_host", name)
    return _record(deps, view, lambda h: h.delete(_base(view), name), ctx)
