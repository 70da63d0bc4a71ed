"""A local EPP registry for tests (RFC 5730-5734): TLS with client certificates, length-prefixed frames.

No EPP server is packaged, so this one plays a registry's part closely enough for a registrar client to
be tested against it:

* TLS on loopback with certificates made at start (`cryptography`): a CA of its own signs the server's
  certificate and one client certificate (written to `cert_dir`); a client without a certificate the CA
  signed is refused during the handshake. RFC 5734 framing (a 4-byte big-endian length that counts itself).
* Every frame received is validated against the RFC schemas in `tools/epp_schemas/` (epp-1.0, eppcom-1.0,
  domain-1.0, contact-1.0, host-1.0) with lxml; an invalid frame is answered 2001 with the schema's message.
* greeting, hello, login (clID/password, version, object services), logout (1500, then the link closes);
  domain check/create/info/renew/transfer (request, query; approved by the server after `transfer_seconds`
  or by `approve_transfers()`)/update (nameservers, client statuses, authInfo); contact create/info;
  host create/info/update/delete (glue addresses for hosts under a domain of this registry).
* Result codes as a registry gives them: 1000, 1001 (transfer pending), 1500, 2001, 2002 (not logged in),
  2003, 2005 (a malformed name or address), 2200 (login), 2201 (not yours), 2202 (wrong authInfo), 2300,
  2301, 2302, 2303, 2304 (a status prohibits), 2305, 2306 (e.g. curExpDate not the expiry), 2400.
* It can be told to fail: `fail_next(command, mode)` with mode `drop_before` (the link closes before the
  command is applied), `drop_after` (applied, then the link closes with no answer) or `2400`; `down()`
  refuses every connection until `up()`.

State is kept in memory per instance. Run alone: `python -m tools.epp_server --port 7000 --cert-dir DIR`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import ipaddress
import itertools
import secrets
import socket
import socketserver
import ssl
import struct
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

SCHEMAS = Path(__file__).parent / "epp_schemas"
EPP = "urn:ietf:params:xml:ns:epp-1.0"
DOMAIN = "urn:ietf:params:xml:ns:domain-1.0"
CONTACT = "urn:ietf:params:xml:ns:contact-1.0"
HOST = "urn:ietf:params:xml:ns:host-1.0"
NS = {"epp": EPP, "domain": DOMAIN, "contact": CONTACT, "host": HOST}
OBJECTS = (DOMAIN, CONTACT, HOST)
MESSAGES = {
    1000: "Command completed successfully", 1001: "Command completed successfully; action pending",
    1500: "Command completed successfully; ending session", 2001: "Command syntax error",
    2002: "Command use error", 2003: "Required parameter missing", 2005: "Parameter value syntax error",
    2100: "Unimplemented protocol version", 2101: "Unimplemented command", 2106: "Object is not eligible for transfer",
    2200: "Authentication error", 2201: "Authorization error", 2202: "Invalid authorization information",
    2300: "Object pending transfer", 2301: "Object not pending transfer", 2302: "Object exists",
    2303: "Object does not exist", 2304: "Object status prohibits operation",
    2305: "Object association prohibits operation", 2306: "Parameter value policy error",
    2307: "Unimplemented object service", 2400: "Command failed",
}  # fmt: skip
CLIENT_STATUSES = {"clientDeleteProhibited", "clientHold", "clientRenewProhibited", "clientTransferProhibited",
                   "clientUpdateProhibited"}  # fmt: skip
FAIL_MODES = ("drop_before", "drop_after", "2400")
_MAX_FRAME = 1 << 20


class EppError(Exception):
    def __init__(self, code: int, reason: str | None = None):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class Dropped(Exception):
    """The server was told to close the link at this point."""


def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "all.xsd")))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0Z")


def _add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _hostname(name: str) -> str:
    """A lower-case DNS name with at least two labels, or 2005."""
    text = name.strip().lower().rstrip(".")
    labels = text.split(".")
    if len(labels) < 2 or len(text) > 253:
        raise EppError(2005, f"not a host name: {name}")
    for label in labels:
        if not 0 < len(label) < 64 or label[0] == "-" or label[-1] == "-" or not label.replace("-", "").isalnum():
            raise EppError(2005, f"not a host name: {name}")
        if not label.isascii():
            raise EppError(2005, f"not an ASCII (A-label) name: {name}")
    return text


# ----------------------------------------------------------------------------------------------- objects
@dataclasses.dataclass
class DomainObj:
    name: str
    roid: str
    clid: str
    registrant: str | None
    contacts: list[tuple[str, str]]
    ns: list[str]
    auth: str
    cr_date: dt.datetime
    ex_date: dt.datetime
    statuses: set[str] = dataclasses.field(default_factory=set)
    up_date: dt.datetime | None = None
    tr_date: dt.datetime | None = None


@dataclasses.dataclass
class TransferObj:
    name: str
    status: str  # pending | clientApproved | serverApproved | clientRejected | ...
    re_id: str
    re_date: dt.datetime
    ac_id: str
    ac_date: dt.datetime  # when the server acts if nobody does
    years: int
    ex_date: dt.datetime | None = None


@dataclasses.dataclass
class ContactObj:
    id: str
    roid: str
    clid: str
    postal: list[dict[str, Any]]
    email: str
    voice: str | None
    auth: str
    cr_date: dt.datetime


@dataclasses.dataclass
class HostObj:
    name: str
    roid: str
    clid: str
    addrs: list[tuple[str, str]]  # (address, v4|v6)
    cr_date: dt.datetime
    statuses: set[str] = dataclasses.field(default_factory=set)


# ----------------------------------------------------------------------------------------------- the registry
class Registry:
    """The registry's objects and rules, without I/O. Every method runs under the server's lock."""

    def __init__(self, transfer_seconds: float, tlds: tuple[str, ...]):
        self.transfer_seconds = transfer_seconds
        self.tlds = tlds
        self.domains: dict[str, DomainObj] = {}
        self.contacts: dict[str, ContactObj] = {}
        self.hosts: dict[str, HostObj] = {}
        self.transfers: dict[str, TransferObj] = {}
        self._roids = itertools.count(1)

    def _roid(self, kind: str) -> str:
        return f"{kind}{next(self._roids)}-TEST"

    # --- helpers -----------------------------------------------------------------------------
    def settle(self) -> None:
        """The server approves transfers nobody acted on in time."""
        for transfer in self.transfers.values():
            if transfer.status == "pending" and _now() >= transfer.ac_date:
                self.approve(transfer.name, "serverApproved")

    def approve(self, name: str, how: str = "serverApproved") -> None:
        transfer, domain = self.transfers[name], self.domains[name]
        domain.ex_date = _add_years(domain.ex_date, transfer.years)
        domain.clid, domain.tr_date, domain.auth = transfer.re_id, _now(), secrets.token_urlsafe(9)
        domain.statuses.discard("pendingTransfer")
        transfer.status, transfer.ac_date, transfer.ex_date = how, _now(), domain.ex_date

    def reject(self, name: str) -> None:
        self.transfers[name].status = "clientRejected"
        self.transfers[name].ac_date = _now()
        self.domains[name].statuses.discard("pendingTransfer")

    def _domain(self, name: str) -> DomainObj:
        domain = self.domains.get(name.lower())
        if not domain:
            raise EppError(2303, name)
        return domain

    @staticmethod
    def _sponsor(obj: Any, clid: str) -> None:
        if obj.clid != clid:
            raise EppError(2201, "not the sponsoring registrar")

    def _domain_name(self, text: str) -> str:
        name = _hostname(text)
        if not any(name.endswith("." + tld) and name.count(".") == tld.count(".") + 1 for tld in self.tlds):
            raise EppError(2306, f"not a second-level name under {', '.join(self.tlds)}")
        return name

    def _superordinate(self, host: str) -> DomainObj | None:
        """The domain of this registry a host name lies under, if any."""
        labels = host.split(".")
        for i in range(1, len(labels) - 1):
            parent = self.domains.get(".".join(labels[i:]))
            if parent:
                return parent
        return None

    def _nameservers(self, names: list[str]) -> list[str]:
        """hostObj references: a name under this registry must be a host object here (its glue)."""
        out = []
        for text in names:
            name = _hostname(text)
            if self._superordinate(name) and name not in self.hosts:
                raise EppError(2303, name)
            out.append(name)
        return out

    def _linked(self, host: str) -> bool:
        return any(host in d.ns for d in self.domains.values())

    # --- domain ------------------------------------------------------------------------------
    def domain_check(self, clid: str, el) -> etree._Element:
        res = _el(DOMAIN, "chkData")
        for name_el in el.findall("domain:name", NS):
            name = name_el.text.strip().lower()
            taken = name in self.domains
            cd = _sub(res, DOMAIN, "cd")
            _sub(cd, DOMAIN, "name", name, avail="0" if taken else "1")
            if taken:
                _sub(cd, DOMAIN, "reason", "In use")
        return res

    def domain_create(self, clid: str, el) -> etree._Element:
        name = self._domain_name(_text(el, "domain:name"))
        if name in self.domains:
            raise EppError(2302, name)
        years = int(el.findtext("domain:period", "1", NS))
        if el.find("domain:ns/domain:hostAttr", NS) is not None:
            raise EppError(2306, "this registry takes host objects (hostObj), not host attributes")
        nameservers = self._nameservers([h.text for h in el.findall("domain:ns/domain:hostObj", NS)])
        registrant = el.findtext("domain:registrant", None, NS)
        contacts = [(c.get("type"), c.text.strip()) for c in el.findall("domain:contact", NS)]
        for handle in [registrant, *(h for _, h in contacts)]:
            if handle is not None and handle not in self.contacts:
                raise EppError(2303, handle)
        if registrant is None:
            raise EppError(2003, "registrant")
        now = _now()
        auth = el.findtext("domain:authInfo/domain:pw", "", NS) or secrets.token_urlsafe(9)
        domain = DomainObj(name, self._roid("D"), clid, registrant, contacts, nameservers, auth, now,
                           _add_years(now, years))  # fmt: skip
        self.domains[name] = domain
        res = _el(DOMAIN, "creData")
        _sub(res, DOMAIN, "name", name)
        _sub(res, DOMAIN, "crDate", _stamp(now))
        _sub(res, DOMAIN, "exDate", _stamp(domain.ex_date))
        return res

    def domain_info(self, clid: str, el) -> etree._Element:
        domain = self._domain(_text(el, "domain:name"))
        given = el.findtext("domain:authInfo/domain:pw", None, NS)
        full = domain.clid == clid or (given is not None and secrets.compare_digest(given, domain.auth))
        if given is not None and not full:
            raise EppError(2202)
        res = _el(DOMAIN, "infData")
        _sub(res, DOMAIN, "name", domain.name)
        _sub(res, DOMAIN, "roid", domain.roid)
        for status in sorted(domain.statuses) or ["ok"]:
            _sub(res, DOMAIN, "status", s=status)
        if full:
            if domain.registrant:
                _sub(res, DOMAIN, "registrant", domain.registrant)
            for kind, handle in domain.contacts:
                _sub(res, DOMAIN, "contact", handle, type=kind)
            if domain.ns:
                ns_el = _sub(res, DOMAIN, "ns")
                for host in domain.ns:
                    _sub(ns_el, DOMAIN, "hostObj", host)
            for host in sorted(h for h in self.hosts if h.endswith("." + domain.name)):
                _sub(res, DOMAIN, "host", host)
        _sub(res, DOMAIN, "clID", domain.clid)
        if full:
            _sub(res, DOMAIN, "crID", domain.clid)
            _sub(res, DOMAIN, "crDate", _stamp(domain.cr_date))
            if domain.up_date:
                _sub(res, DOMAIN, "upDate", _stamp(domain.up_date))
            _sub(res, DOMAIN, "exDate", _stamp(domain.ex_date))
            if domain.tr_date:
                _sub(res, DOMAIN, "trDate", _stamp(domain.tr_date))
            auth = _sub(res, DOMAIN, "authInfo")
            _sub(auth, DOMAIN, "pw", domain.auth)
        return res

    def domain_renew(self, clid: str, el) -> etree._Element:
        domain = self._domain(_text(el, "domain:name"))
        self._sponsor(domain, clid)
        if domain.statuses & {"clientRenewProhibited", "pendingTransfer"}:
            raise EppError(2304)
        if _text(el, "domain:curExpDate") != domain.ex_date.date().isoformat():
            raise EppError(2306, "curExpDate is not the current expiry date")
        domain.ex_date = _add_years(domain.ex_date, int(el.findtext("domain:period", "1", NS)))
        res = _el(DOMAIN, "renData")
        _sub(res, DOMAIN, "name", domain.name)
        _sub(res, DOMAIN, "exDate", _stamp(domain.ex_date))
        return res

    def domain_transfer(self, clid: str, op: str, el) -> tuple[int, etree._Element]:
        domain = self._domain(_text(el, "domain:name"))
        given = el.findtext("domain:authInfo/domain:pw", None, NS)
        if op == "request":
            return 1001, self._transfer_request(clid, domain, given, int(el.findtext("domain:period", "1", NS)))
        if op != "query":
            raise EppError(2101, f"transfer op {op} is not offered here")
        transfer = self.transfers.get(domain.name)
        if not transfer:
            raise EppError(2301)
        authorised = clid in (transfer.re_id, domain.clid) or (given and secrets.compare_digest(given, domain.auth))
        if not authorised:
            raise EppError(2201)
        return 1000, _trn_data(transfer)

    def _transfer_request(self, clid: str, domain: DomainObj, given: str | None, years: int) -> etree._Element:
        if domain.clid == clid:
            raise EppError(2106, "already sponsored by you")
        if "pendingTransfer" in domain.statuses:
            raise EppError(2300)
        if given is None or not secrets.compare_digest(given, domain.auth):
            raise EppError(2202)
        if domain.statuses & {"clientTransferProhibited", "serverTransferProhibited"}:
            raise EppError(2304, "transfer prohibited")
        now = _now()
        transfer = TransferObj(domain.name, "pending", clid, now, domain.clid,
                               now + dt.timedelta(seconds=self.transfer_seconds), years)  # fmt: skip
        self.transfers[domain.name] = transfer
        domain.statuses.add("pendingTransfer")
        return _trn_data(transfer)

    def domain_update(self, clid: str, el) -> None:
        domain = self._domain(_text(el, "domain:name"))
        self._sponsor(domain, clid)
        add_statuses = {s.get("s") for s in el.findall("domain:add/domain:status", NS)}
        rem_statuses = {s.get("s") for s in el.findall("domain:rem/domain:status", NS)}
        if (add_statuses | rem_statuses) - CLIENT_STATUSES:
            raise EppError(2306, "only client statuses can be set")
        if "clientUpdateProhibited" in domain.statuses - rem_statuses:
            raise EppError(2304, "clientUpdateProhibited")
        if "pendingTransfer" in domain.statuses:
            raise EppError(2304, "pendingTransfer")
        if add_statuses & domain.statuses or rem_statuses - domain.statuses:
            raise EppError(2306, "a status to add is set already, or one to remove is not set")
        add_ns = self._nameservers([h.text for h in el.findall("domain:add/domain:ns/domain:hostObj", NS)])
        rem_ns = [_hostname(h.text) for h in el.findall("domain:rem/domain:ns/domain:hostObj", NS)]
        if set(add_ns) & set(domain.ns) or set(rem_ns) - set(domain.ns):
            raise EppError(2306, "a nameserver to add is there already, or one to remove is not")
        domain.ns = [h for h in domain.ns if h not in rem_ns] + add_ns
        domain.statuses = (domain.statuses - rem_statuses) | add_statuses
        pw = el.findtext("domain:chg/domain:authInfo/domain:pw", None, NS)
        if pw is not None:
            domain.auth = pw or secrets.token_urlsafe(9)
        domain.up_date = _now()

    # --- contact -----------------------------------------------------------------------------
    def contact_create(self, clid: str, el) -> etree._Element:
        handle = _text(el, "contact:id")
        if handle in self.contacts:
            raise EppError(2302, handle)
        postal = []
        for info in el.findall("contact:postalInfo", NS):
            postal.append({"type": info.get("type"), "name": info.findtext("contact:name", "", NS),
                           "org": info.findtext("contact:org", None, NS),
                           "street": [s.text or "" for s in info.findall("contact:addr/contact:street", NS)],
                           "city": info.findtext("contact:addr/contact:city", "", NS),
                           "pc": info.findtext("contact:addr/contact:pc", None, NS),
                           "cc": info.findtext("contact:addr/contact:cc", "", NS).upper()})  # fmt: skip
        email = _text(el, "contact:email")
        if "@" not in email:
            raise EppError(2005, f"not an e-mail address: {email}")
        auth = el.findtext("contact:authInfo/contact:pw", "", NS) or secrets.token_urlsafe(9)
        now = _now()
        self.contacts[handle] = ContactObj(handle, self._roid("C"), clid, postal, email,
                                           el.findtext("contact:voice", None, NS), auth, now)  # fmt: skip
        res = _el(CONTACT, "creData")
        _sub(res, CONTACT, "id", handle)
        _sub(res, CONTACT, "crDate", _stamp(now))
        return res

    def contact_info(self, clid: str, el) -> etree._Element:
        contact = self.contacts.get(_text(el, "contact:id"))
        if not contact:
            raise EppError(2303)
        given = el.findtext("contact:authInfo/contact:pw", None, NS)
        if contact.clid != clid and not (given and secrets.compare_digest(given, contact.auth)):
            raise EppError(2201)
        res = _el(CONTACT, "infData")
        _sub(res, CONTACT, "id", contact.id)
        _sub(res, CONTACT, "roid", contact.roid)
        _sub(res, CONTACT, "status", s="linked" if self._contact_linked(contact.id) else "ok")
        for info in contact.postal:
            block = _sub(res, CONTACT, "postalInfo", type=info["type"])
            _sub(block, CONTACT, "name", info["name"])
            if info["org"] is not None:
                _sub(block, CONTACT, "org", info["org"])
            addr = _sub(block, CONTACT, "addr")
            for line in info["street"]:
                _sub(addr, CONTACT, "street", line)
            _sub(addr, CONTACT, "city", info["city"])
            if info["pc"] is not None:
                _sub(addr, CONTACT, "pc", info["pc"])
            _sub(addr, CONTACT, "cc", info["cc"])
        if contact.voice:
            _sub(res, CONTACT, "voice", contact.voice)
        _sub(res, CONTACT, "email", contact.email)
        for tag, value in (("clID", contact.clid), ("crID", contact.clid), ("crDate", _stamp(contact.cr_date))):
            _sub(res, CONTACT, tag, value)
        _sub(_sub(res, CONTACT, "authInfo"), CONTACT, "pw", contact.auth)
        return res

    def _contact_linked(self, handle: str) -> bool:
        return any(d.registrant == handle or handle in (h for _, h in d.contacts) for d in self.domains.values())

    # --- host --------------------------------------------------------------------------------
    def _addresses(self, elements) -> list[tuple[str, str]]:
        out = []
        for addr in elements:
            version = addr.get("ip", "v4")
            try:
                ip = ipaddress.ip_address(addr.text.strip())
            except ValueError:
                raise EppError(2005, f"not an IP address: {addr.text}") from None
            if f"v{ip.version}" != version:
                raise EppError(2005, f"{addr.text} is not an IP{version} address")
            if not ip.is_global and not ip.is_private:
                raise EppError(2306, f"{addr.text} cannot be a nameserver's address")
            out.append((ip.compressed, version))
        return out

    def host_create(self, clid: str, el) -> etree._Element:
        name = _hostname(_text(el, "host:name"))
        if name in self.hosts:
            raise EppError(2302, name)
        addrs = self._addresses(el.findall("host:addr", NS))
        parent = self._superordinate(name)
        if parent:
            self._sponsor(parent, clid)
            if not addrs:
                raise EppError(2003, "a host under a domain of this registry needs its addresses (glue)")
        elif addrs:
            raise EppError(2306, "an external host takes no addresses")
        now = _now()
        self.hosts[name] = HostObj(name, self._roid("H"), clid, addrs, now)
        res = _el(HOST, "creData")
        _sub(res, HOST, "name", name)
        _sub(res, HOST, "crDate", _stamp(now))
        return res

    def _host(self, el) -> HostObj:
        host = self.hosts.get(_hostname(_text(el, "host:name")))
        if not host:
            raise EppError(2303)
        return host

    def host_info(self, clid: str, el) -> etree._Element:
        host = self._host(el)
        res = _el(HOST, "infData")
        _sub(res, HOST, "name", host.name)
        _sub(res, HOST, "roid", host.roid)
        for status in sorted(host.statuses | ({"linked"} if self._linked(host.name) else set())) or ["ok"]:
            _sub(res, HOST, "status", s=status)
        for address, version in host.addrs:
            _sub(res, HOST, "addr", address, ip=version)
        for tag, value in (("clID", host.clid), ("crID", host.clid), ("crDate", _stamp(host.cr_date))):
            _sub(res, HOST, tag, value)
        return res

    def host_update(self, clid: str, el) -> None:
        host = self._host(el)
        self._sponsor(host, clid)
        if el.find("host:chg", NS) is not None:
            raise EppError(2306, "hosts are not renamed here")
        add = self._addresses(el.findall("host:add/host:addr", NS))
        rem = self._addresses(el.findall("host:rem/host:addr", NS))
        if set(add) & set(host.addrs) or set(rem) - set(host.addrs):
            raise EppError(2306, "an address to add is there already, or one to remove is not")
        addrs = [a for a in host.addrs if a not in rem] + add
        if not addrs and self._superordinate(host.name):
            raise EppError(2306, "a host under a domain of this registry keeps at least one address")
        host.addrs = addrs

    def host_delete(self, clid: str, el) -> None:
        host = self._host(el)
        self._sponsor(host, clid)
        if self._linked(host.name):
            raise EppError(2305, "a domain delegates to this host")
        del self.hosts[host.name]


def _trn_data(transfer: TransferObj) -> etree._Element:
    res = _el(DOMAIN, "trnData")
    _sub(res, DOMAIN, "name", transfer.name)
    _sub(res, DOMAIN, "trStatus", transfer.status)
    _sub(res, DOMAIN, "reID", transfer.re_id)
    _sub(res, DOMAIN, "reDate", _stamp(transfer.re_date))
    _sub(res, DOMAIN, "acID", transfer.ac_id)
    _sub(res, DOMAIN, "acDate", _stamp(transfer.ac_date))
    if transfer.ex_date:
        _sub(res, DOMAIN, "exDate", _stamp(transfer.ex_date))
    return res


def _el(uri: str, tag: str) -> etree._Element:
    prefix = next(k for k, v in NS.items() if v == uri)
    return etree.Element(f"{{{uri}}}{tag}", nsmap={prefix: uri})


def _sub(parent, uri: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{uri}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def _text(el, path: str) -> str:
    return (el.findtext(path, "", NS) or "").strip()


# ----------------------------------------------------------------------------------------------- certificates
def _key_and_cert(subject: str, issuer: tuple | None, ca: bool, names: list[str]):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = (issuer[1].subject, issuer[0]) if issuer else (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))  # fmt: skip
    if names:
        alt = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, key, cert) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))  # fmt: skip


def make_certificates(cert_dir: Path) -> dict[str, str]:
    """A CA made now, and the server's and one client's certificates signed by it (PEM files in cert_dir)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = _key_and_cert("EPP test registry CA", None, True, [])
    _write(cert_dir / "ca", None, ca[1])
    _write(cert_dir / "server", *_key_and_cert("epp.test", ca, False, ["127.0.0.1", "localhost"]))
    _write(cert_dir / "client", *_key_and_cert("registrar", ca, False, []))
    return {"ca": str(cert_dir / "ca.pem"), "client_cert": str(cert_dir / "client.pem"),
            "client_key": str(cert_dir / "client.key")}  # fmt: skip


# ----------------------------------------------------------------------------------------------- the server
class _Handler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        self.server.epp.session(self.request)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    epp: EppServer


class EppServer:
    """`start()` listens on 127.0.0.1:`port` (0 = a free one) in a thread; `stop()` closes it."""

    def __init__(self, cert_dir: Path, port: int = 0, clients: dict[str, str] | None = None,
                 transfer_seconds: float = 5 * 86400, tlds: tuple[str, ...] = ("pl", "com.pl", "eu", "com", "net")):  # fmt: skip
        self.cert_dir = Path(cert_dir)
        self.files = make_certificates(self.cert_dir)
        self.clients = clients or {"panel-test": "secret-pw1"}
        self.registry = Registry(transfer_seconds, tlds)
        self.schema = _schema()
        self.lock = threading.RLock()
        self.received: list[dict[str, Any]] = []  # every command: who, what, on what, clTRID, the code answered
        self._failures: list[tuple[str, str]] = []
        self._down = False
        self._svtrids = itertools.count(1)
        self._tcp = _TcpServer(("127.0.0.1", port), _Handler, bind_and_activate=True)
        self._tcp.epp = self
        self.port = self._tcp.server_address[1]
        self._ssl = self._context()

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_dir / "server.pem", self.cert_dir / "server.key")
        context.verify_mode = ssl.CERT_REQUIRED  # a registrar proves itself with its certificate
        context.load_verify_locations(self.files["ca"])
        return context

    # --- control -----------------------------------------------------------------------------
    def start(self) -> EppServer:
        threading.Thread(target=self._tcp.serve_forever, name="epp-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._tcp.shutdown()
        self._tcp.server_close()

    def down(self) -> None:
        self._down = True

    def up(self) -> None:
        self._down = False

    def fail_next(self, command: str, mode: str) -> None:
        """The next `command` ("domain:create", "domain:renew", ... or "*") fails in `mode`."""
        if mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {FAIL_MODES}")
        with self.lock:
            self._failures.append((command, mode))

    def approve_transfers(self, name: str | None = None) -> None:
        """The losing registrar approves the pending transfers (of `name`, or all)."""
        with self.lock:
            for transfer in list(self.registry.transfers.values()):
                if transfer.status == "pending" and name in (None, transfer.name):
                    self.registry.approve(transfer.name, "clientApproved")

    def reject_transfers(self, name: str) -> None:
        with self.lock:
            self.registry.reject(name)

    def seed_domain(self, name: str, clid: str = "other-reg", years: int = 1) -> str:
        """A domain held by another registrar; returns its authInfo (what its holder would be given)."""
        with self.lock:
            now, auth = _now(), secrets.token_urlsafe(9)
            self.registry.domains[name] = DomainObj(name, self.registry._roid("D"), clid, None, [], [], auth, now,
                                                    _add_years(now, years))  # fmt: skip
            return auth

    def commands(self, what: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.received if c["command"] == what]

    # --- a session ---------------------------------------------------------------------------
    def session(self, raw: socket.socket) -> None:
        if self._down:
            raw.close()
            return
        try:
            conn = self._ssl.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        clid: list[str | None] = [None]
        try:
            _send(conn, self._greeting())
            while not self._down:
                frame = _receive(conn)
                if frame is None:
                    return
                answer, close = self._answer(frame, clid)
                _send(conn, answer)
                if close:
                    return
        except (Dropped, OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def _answer(self, frame: bytes, clid: list[str | None]) -> tuple[bytes, bool]:
        try:
            doc = etree.fromstring(frame, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            return self._response(2001, None, reason=str(exc)[:200]), False
        if not self.schema.validate(doc):
            error = self.schema.error_log.last_error
            trid = doc.findtext("epp:command/epp:clTRID", None, NS)
            return self._response(2001, trid, reason=f"{error.message} (line {error.line})"[:200]), False
        if doc.find("epp:hello", NS) is not None:
            return self._greeting(), False
        command = doc.find("epp:command", NS)
        return self._command(command, clid)

    def _command(self, command, clid: list[str | None]) -> tuple[bytes, bool]:
        trid = command.findtext("epp:clTRID", None, NS)
        verb = command[0]
        name = etree.QName(verb).localname
        what = f"{_prefix(verb[0])}:{name}" if len(verb) else name
        subject = (verb[0][0].text or "").strip() if len(verb) and len(verb[0]) else None
        with self.lock:
            failure = self._take_failure(what)
            if failure == "drop_before":
                self._log(clid[0], what, subject, trid, None)
                raise Dropped
            if failure == "2400":
                self._log(clid[0], what, subject, trid, 2400)
                return self._response(2400, trid), False
            code, res, reason = self._run(verb, name, clid)
            self._log(clid[0], what, subject, trid, code)
            if failure == "drop_after":
                raise Dropped
        return self._response(code, trid, res, reason), code == 1500

    def _run(self, verb, name: str, clid: list[str | None]) -> tuple[int, Any, str | None]:
        try:
            if name == "login":
                clid[0] = self._login(verb, clid[0])
                return 1000, None, None
            if clid[0] is None:
                raise EppError(2002, "log in first")
            if name == "logout":
                return 1500, None, None
            self.registry.settle()
            code, res = self._dispatch(verb, name, clid[0])
            return code, res, None
        except EppError as exc:
            return exc.code, None, exc.reason

    def _dispatch(self, verb, name: str, clid: str) -> tuple[int, etree._Element | None]:
        obj = verb[0]
        kind = _prefix(obj)
        if name == "transfer":
            if kind != "domain":
                raise EppError(2101, f"{kind} transfer is not offered here")
            return self.registry.domain_transfer(clid, verb.get("op"), obj)
        handler = getattr(self.registry, f"{kind}_{name}", None)
        if handler is None:
            raise EppError(2101, f"{kind}:{name} is not offered here")
        return 1000, handler(clid, obj)

    def _login(self, verb, current: str | None) -> str:
        if current is not None:
            raise EppError(2002, "already logged in")
        clid, pw = _text(verb, "epp:clID"), _text(verb, "epp:pw")
        if _text(verb, "epp:options/epp:version") != "1.0":
            raise EppError(2100)
        expected = self.clients.get(clid)
        if expected is None or not secrets.compare_digest(pw, expected):
            raise EppError(2200)
        if {u.text.strip() for u in verb.findall("epp:svcs/epp:objURI", NS)} - set(OBJECTS):
            raise EppError(2307)
        return clid

    def _take_failure(self, what: str) -> str | None:
        for i, (command, mode) in enumerate(self._failures):
            if command in (what, "*"):
                del self._failures[i]
                return mode
        return None

    def _log(self, clid: str | None, what: str, subject: str | None, trid: str | None, code: int | None) -> None:
        self.received.append({"clid": clid, "command": what, "name": subject, "cltrid": trid, "code": code})

    # --- frames ------------------------------------------------------------------------------
    def _greeting(self) -> bytes:
        root = etree.Element(f"{{{EPP}}}epp", nsmap={None: EPP})
        greeting = _sub(root, EPP, "greeting")
        _sub(greeting, EPP, "svID", "Panel Klienta EPP test registry")
        _sub(greeting, EPP, "svDate", _stamp(_now()))
        menu = _sub(greeting, EPP, "svcMenu")
        _sub(menu, EPP, "version", "1.0")
        _sub(menu, EPP, "lang", "en")
        for uri in OBJECTS:
            _sub(menu, EPP, "objURI", uri)
        dcp = _sub(greeting, EPP, "dcp")
        _sub(_sub(dcp, EPP, "access"), EPP, "all")
        statement = _sub(dcp, EPP, "statement")
        purpose = _sub(statement, EPP, "purpose")
        _sub(purpose, EPP, "admin")
        _sub(purpose, EPP, "prov")
        _sub(_sub(statement, EPP, "recipient"), EPP, "ours")
        _sub(_sub(statement, EPP, "retention"), EPP, "stated")
        return self._serialise(root)

    def _response(self, code: int, cltrid: str | None, res=None, reason: str | None = None) -> bytes:
        root = etree.Element(f"{{{EPP}}}epp", nsmap={None: EPP})
        response = _sub(root, EPP, "response")
        result = _sub(response, EPP, "result", code=str(code))
        _sub(result, EPP, "msg", MESSAGES[code])
        if reason:
            ext = _sub(result, EPP, "extValue")  # <value> holds one element: the subject, as text here
            _sub(_sub(ext, EPP, "value"), EPP, "text", reason)
            _sub(ext, EPP, "reason", reason)
        if res is not None:
            _sub(response, EPP, "resData").append(res)
        trid = _sub(response, EPP, "trID")
        if cltrid:
            _sub(trid, EPP, "clTRID", cltrid)
        _sub(trid, EPP, "svTRID", f"SV-{next(self._svtrids):08d}")
        return self._serialise(root)

    def _serialise(self, root) -> bytes:
        if not self.schema.validate(root):  # what it sends is held to the same schemas
            raise AssertionError(f"the test server built an invalid frame: {self.schema.error_log.last_error}")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _prefix(el) -> str:
    uri = etree.QName(el).namespace
    return next((k for k, v in NS.items() if v == uri), "?")


def _send(conn, body: bytes) -> None:
    conn.sendall(struct.pack("!I", len(body) + 4) + body)


def _receive(conn) -> bytes | None:
    head = _exactly(conn, 4)
    if head is None:
        return None
    (length,) = struct.unpack("!I", head)
    if not 4 < length <= _MAX_FRAME:
        raise Dropped
    return _exactly(conn, length - 4)


def _exactly(conn, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7000)
    parser.add_argument("--cert-dir", default="var/epp")
    parser.add_argument("--client", default="panel-test:secret-pw1", help="clID:password")
    parser.add_argument("--transfer-seconds", type=float, default=60)
    args = parser.parse_args()
    clid, _, password = args.client.partition(":")
    server = EppServer(Path(args.cert_dir), args.port, {clid: password}, args.transfer_seconds)
    print(f"EPP test registry on 127.0.0.1:{server.port}; CA and client certificate in {args.cert_dir}", flush=True)
    server._tcp.serve_forever()


if __name__ == "__main__":
    main()
