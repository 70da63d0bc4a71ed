"""The EPP registrar (RFC 5730-5734) behind the `Registrar` interface, on the `epptools` client.

Each call opens a session (TLS with the registrar's client certificate, greeting, login), does its
commands and logs out; the calls are blocking socket I/O, which eventlet turns green in a Nameko worker.

Exactly once: the caller's operation ref goes out as the command's clTRID, and before a create the
registrar asks `domain:info` whether the name is already sponsored by us (an earlier attempt of this
order got through); a connection lost in the middle of a create or renew is followed by a new session
and an info that tells whether the command was applied before it is sent again. Contacts are created
from the holder's data (`holder`: name, company, street, postcode, city, country, email) under a handle
derived from that data, so the same holder is one contact.

Settings: REGISTRAR=epp, EPP_HOST, EPP_PORT (700), EPP_CLIENT_ID, EPP_PASSWORD, EPP_CERT_FILE,
EPP_KEY_FILE, EPP_CA_FILE (the CA that signed the registry's certificate; the system's when empty),
EPP_TIMEOUT (seconds, 10).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from epptools import Client, CommandException, Config, ConnectionException, EppException, Response

from services.domains.registry_types import Availability, RegistrarError, add_years

UNAVAILABLE = "domains_registry_unavailable"
# EPP result code -> the registrar error the service knows (anything else is a refusal).
REFUSALS = {2302: "domains_taken", 2303: "domains_not_registered", 2201: "domains_registry_refused",
            2202: "domains_invalid_epp_code", 2304: "domains_locked", 2305: "domains_host_in_use"}  # fmt: skip
# The same codes about a host object.
HOST_REFUSALS = {2302: "domains_host_exists", 2303: "domains_host_not_registered"}
TEMPORARY = {2400, 2500, 2501, 2502}
LOCK = "clientTransferProhibited"
DONE = {"clientApproved", "serverApproved"}


@dataclass(frozen=True)
class EppSettings:
    host: str
    port: int
    client_id: str
    password: str
    cert_file: str | None
    key_file: str | None
    ca_file: str | None
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> EppSettings:
        env = os.environ.get
        return cls(env("EPP_HOST", "127.0.0.1"), int(env("EPP_PORT", "700")), env("EPP_CLIENT_ID", ""),
                   env("EPP_PASSWORD", ""), env("EPP_CERT_FILE") or None, env("EPP_KEY_FILE") or None,
                   env("EPP_CA_FILE") or None, float(env("EPP_TIMEOUT", "10")))  # fmt: skip

    def config(self) -> Config:
        return Config(host=self.host, port=self.port, clid=self.client_id, password=self.password,
                      ca_file=self.ca_file, client_cert=self.cert_file, client_key=self.key_file,
                      connect_timeout=self.timeout, read_timeout=self.timeout, ext_uris=[],
                      login_security=False, cltrid_prefix="panel")  # fmt: skip


class _Client(Client):
    """epptools' client whose next clTRID can be set: the caller's operation ref."""

    next_trid: str | None = None

    def _next_cltrid(self) -> str:
        trid, self.next_trid = self.next_trid, None
        return trid or super()._next_cltrid()


class _Lost(Exception):
    """The connection broke with a command in flight: whether it was applied is not known."""


def _trid(kind: str, ref: str) -> str:
    return f"panel-{kind}-{ref}"[:64]


def _moment(stamp: str | None) -> dt.datetime:
    """An EPP dateTime as the naive UTC datetime the service keeps."""
    if not stamp:
        raise RegistrarError("domains_registry_refused")
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def refusal(exc: CommandException) -> RegistrarError:
    """The registrar error for an EPP error result."""
    if exc.epp_code in TEMPORARY:
        return RegistrarError(UNAVAILABLE, temporary=True)
    return RegistrarError(REFUSALS.get(exc.epp_code, "domains_registry_refused"))


def contact_handle(holder: dict[str, Any]) -> str:
    """One registry contact per holder's data: 'PK' and 12 hex digits (a clIDType is 3-16 characters)."""
    fields = ("name", "company", "street", "postcode", "city", "country", "email")
    digest = hashlib.sha256("\x1f".join(str(holder.get(k, "")) for k in fields).encode()).hexdigest()
    return "PK" + digest[:12].upper()


class EppRegistrar:
    def __init__(self, settings: EppSettings | None = None) -> None:
        self.settings = settings or EppSettings.from_env()

    # --- sessions --------------------------------------------------------------------------
    @contextmanager
    def _session(self) -> Iterator[_Client]:
        client = _Client(self.settings.config())
        try:
            client.connect()
            client.login()
            yield client
            client.logout()
        except ConnectionException:
            raise _Lost from None
        except CommandException as exc:
            raise refusal(exc) from None
        except EppException:  # a configuration epptools refused before sending anything
            raise RegistrarError("domains_registry_refused") from None
        finally:
            client.disconnect()

    def _once(self, work) -> Any:
        """One session; a broken connection is a temporary failure."""
        try:
            with self._session() as client:
                return work(client)
        except _Lost:
            raise RegistrarError(UNAVAILABLE, temporary=True) from None

    def _twice(self, work) -> Any:
        """`work(client, attempt)` in a session, and once more in a new one if the connection broke."""
        for attempt in (1, 2):
            try:
                with self._session() as client:
                    return work(client, attempt)
            except _Lost:
                continue
        raise RegistrarError(UNAVAILABLE, temporary=True)

    @staticmethod
    def _info(client: _Client, name: str) -> Response | None:
        try:
            return client.domain.info(name)
        except CommandException as exc:
            if exc.epp_code == 2303:
                return None
            raise

    def _ours(self, info: Response | None) -> bool:
        return info is not None and info.sponsor() == self.settings.client_id

    def _own(self, client: _Client, name: str) -> Response:
        info = self._info(client, name)
        if not self._ours(info):
            raise RegistrarError("domains_not_registered")
        return info

    # --- Registrar ---------------------------------------------------------------------------
    def check(self, name: str) -> Availability:
        answer = self._once(lambda c: c.domain.check([name]).availability())
        return Availability(name, bool(answer.get(name)))

    def register(self, name: str, years: int, nameservers: list[str], ref: str,
                 holder: dict[str, Any] | None = None) -> dt.datetime:  # fmt: skip
        def create(client: _Client, _attempt: int) -> dt.datetime:
            info = self._info(client, name)
            if info is not None:  # ours: an earlier attempt of this order got through (never register twice)
                if self._ours(info):
                    return _moment(info.expiry_date())
                raise RegistrarError("domains_taken")
            handle = self._contact(client, holder or self._own_holder())
            client.next_trid = _trid("create", ref)
            answer = client.domain.create(name, years=years, registrant=handle, nameservers=nameservers,
                                          contacts={"admin": handle, "tech": handle})  # fmt: skip
            return _moment(answer.expiry_date())

        return self._twice(create)

    def _own_holder(self) -> dict[str, Any]:
        """No holder given (a domain ordered before holders were recorded): the seller as the registrant."""
        env = os.environ.get
        return {"name": env("SELLER_NAME", "Panel Klienta"), "street": env("SELLER_STREET", ""),
                "postcode": env("SELLER_POSTCODE", ""), "city": env("SELLER_CITY", "Warszawa"),
                "country": env("SELLER_COUNTRY", "PL"), "email": env("EPP_CONTACT_EMAIL", "domeny@panel.localhost")}  # fmt: skip

    @staticmethod
    def _contact(client: _Client, holder: dict[str, Any]) -> str:
        handle = contact_handle(holder)
        name = (holder.get("person") or holder.get("name") or "").strip() or "-"
        try:
            client.contact.create(handle, name=name, org=(holder.get("company") or None),
                                  street=[holder["street"]] if holder.get("street") else None,
                                  city=holder.get("city") or "-", pc=holder.get("postcode") or None,
                                  cc=(holder.get("country") or "PL").upper(), email=holder.get("email") or "-")  # fmt: skip
        except CommandException as exc:
            if exc.epp_code != 2302:  # exists: the same holder's contact, made for an earlier domain
                raise
        return handle

    def renew(self, name: str, years: int, ref: str) -> dt.datetime:
        expected: list[dt.datetime] = []

        def renew(client: _Client, attempt: int) -> dt.datetime:
            current = self._own(client, name).expiry_date()
            if attempt == 2 and expected and _moment(current) == expected[0]:
                return expected[0]  # the renewal whose answer was lost was applied
            expected[:] = [add_years(_moment(current), years)]
            client.next_trid = _trid("renew", ref)
            return _moment(client.domain.renew(name, current, years).expiry_date())

        return self._twice(renew)

    def transfer(self, name: str, epp_code: str, ref: str) -> None:
        def request(client: _Client, attempt: int) -> None:
            if attempt == 2 and self._requested_by_us(client, name):
                return  # the request whose answer was lost was recorded
            client.next_trid = _trid("transfer", ref)
            try:
                client.domain.transfer("request", name, auth_info=epp_code.strip())
            except CommandException as exc:
                if exc.epp_code == 2300 and self._requested_by_us(client, name):
                    return  # already pending, asked by us
                if exc.epp_code == 2106:  # already ours
                    return
                raise

        self._twice(request)

    def _requested_by_us(self, client: _Client, name: str) -> bool:
        query = self._query(client, name)
        return bool(query) and query["requested_by"] == self.settings.client_id

    @staticmethod
    def _query(client: _Client, name: str) -> dict[str, str] | None:
        try:
            return client.domain.transfer("query", name).transfer()
        except CommandException as exc:
            if exc.epp_code in (2201, 2301, 2303):
                return None
            raise

    def transfer_status(self, name: str, ref: str) -> dict[str, Any]:
        def status(client: _Client) -> dict[str, Any]:
            query = self._query(client, name)
            if not query or query["requested_by"] != self.settings.client_id:
                return {"status": "unknown", "reason": None, "expires_at": None}
            if query["status"] == "pending":
                return {"status": "pending", "reason": None, "expires_at": None}
            if query["status"] in DONE:
                return {
                    "status": "completed",
                    "reason": None,
                    "expires_at": _moment(self._own(client, name).expiry_date()),
                }
            return {"status": "rejected", "reason": "domains_transfer_refused", "expires_at": None}

        return self._once(status)

    def set_nameservers(self, name: str, nameservers: list[str]) -> None:
        def update(client: _Client) -> None:
            current = self._own(client, name).nameservers()
            add = [h for h in nameservers if h not in current]
            rem = [h for h in current if h not in nameservers]
            if add or rem:
                client.domain.update(name, add={"ns": add} if add else None, rem={"ns": rem} if rem else None)

        self._once(update)

    def set_lock(self, name: str, locked: bool) -> None:
        def update(client: _Client) -> None:
            present = LOCK in self._own(client, name).statuses()
            if locked and not present:
                client.domain.update(name, add={"statuses": [LOCK]})
            elif present and not locked:
                client.domain.update(name, rem={"statuses": [LOCK]})

        self._once(update)

    def get_epp_code(self, name: str) -> str:
        return self._once(lambda c: self._own(c, name).auth_info() or "")

    def still_ours(self, name: str) -> bool:
        return self._once(lambda c: self._ours(self._info(c, name)))

    def info(self, name: str) -> dict[str, Any]:
        """What the registry holds about one of our domains (EPP extra: not in the `Registrar` protocol)."""

        def read(client: _Client) -> dict[str, Any]:
            info = self._own(client, name)
            return {"name": name, "expires_at": _moment(info.expiry_date()), "nameservers": info.nameservers(),
                    "locked": LOCK in info.statuses(), "statuses": info.statuses()}  # fmt: skip

        return self._once(read)

    # --- child nameservers (host objects with glue) ----------------------------------------------
    def _host_call(self, work) -> Any:
        def call(client: _Client) -> Any:
            try:
                return work(client)
            except CommandException as exc:
                if exc.epp_code in HOST_REFUSALS:
                    raise RegistrarError(HOST_REFUSALS[exc.epp_code]) from None
                raise

        return self._once(call)

    def create_host(self, name: str, addresses: list[str]) -> None:
        self._host_call(lambda c: c.host.create(name, addresses))

    def update_host(self, name: str, addresses: list[str]) -> None:
        def update(client: _Client) -> None:
            current = [a["ip"] for a in client.host.info(name).host_addresses()]
            add = [a for a in addresses if a not in current]
            rem = [a for a in current if a not in addresses]
            if add or rem:
                client.host.update(name, add_addresses=add, rem_addresses=rem)

        self._host_call(update)

    def delete_host(self, name: str) -> None:
        self._host_call(lambda c: c.host.delete(name))

    def host_info(self, name: str) -> dict[str, Any]:
        info = self._host_call(lambda c: c.host.info(name))
        if info.sponsor() != self.settings.client_id:
            raise RegistrarError("domains_host_not_registered")
        return {"name": name, "addresses": [a["ip"] for a in info.host_addresses()]}
