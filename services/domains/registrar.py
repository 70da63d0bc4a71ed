"""The registrar adapter, and a sandbox registry that answers like a real one.

`Registrar` is what the domains service needs from a registry: the sandbox below, or
the EPP registrar (`services.domains.epp`, REGISTRAR=epp). `SandboxRegistrar` keeps its own state in
the domains database (collections `sandbox_registry_*`) and behaves by
deterministic rules, so tests and demos can drive every answer:

* taken: a fixed set of labels (`TAKEN_LABELS`), any label containing `taken` or
  `zajeta`, and every name registered here before;
* premium: labels containing `premium` or of at most two characters cost
  `PREMIUM_NET` per year;
* a label containing `fail-temp` fails temporarily on the first attempt of each
  operation and succeeds after; `fail-perm` is refused for good;
* a label containing `slow` answers after `SANDBOX_SLOW_SECONDS`;
* a name not renewed is released `SANDBOX_RELEASE_DAYS` after its expiry;
* `transfer_out(name, epp_code)` plays another registrar taking an unlocked domain away;
* transfers: the name must be registered elsewhere and the EPP code must match
  (`sandbox_epp_code(name)` for names registered elsewhere); a transfer stays
  pending for `SANDBOX_TRANSFER_SECONDS`, then completes, or is rejected by the
  losing registrar when the label contains `reject`.

Mutating calls carry a `ref` (the caller's id for the operation): a repeated
call with the same ref returns the first answer and changes nothing, so
"register / renew exactly once" holds across retries and crashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from typing import Any, Protocol

import eventlet
import mongoengine as me
from pymongo import ReturnDocument

from kernel import clock
from services.domains.registry_types import Availability, RegistrarError, add_years

ALIAS = "domains"
TAKEN_LABELS = frozenset({"google", "allegro", "onet", "wp", "interia", "example", "panel", "zajeta"})
PREMIUM_NET = 99900


class Registrar(Protocol):
    def check(self, name: str) -> Availability: ...

    def register(self, name: str, years: int, nameservers: list[str], ref: str,
                 holder: dict[str, Any] | None = None) -> dt.datetime:  # fmt: skip
        """Register for `years` with the holder's data as its contacts; returns the expiry date."""

    def info(self, name: str) -> dict[str, Any]:
        """One of our domains as the registry holds it: name, expires_at, nameservers, locked."""

    def transfer(self, name: str, epp_code: str, ref: str) -> None:
        """Start a transfer in (it is then pending); refuses a wrong EPP code at once."""

    def transfer_status(self, name: str, ref: str) -> dict[str, Any]:
        """{"status": pending | completed | rejected, "reason", "expires_at"}."""

    def renew(self, name: str, years: int, ref: str) -> dt.datetime:
        """Extend by `years`; returns the new expiry date."""

    def set_nameservers(self, name: str, nameservers: list[str]) -> None: ...

    def set_lock(self, name: str, locked: bool) -> None: ...

    def get_epp_code(self, name: str) -> str: ...

    def still_ours(self, name: str) -> bool:
        """False once another registrar has taken the domain away (with its EPP code, unlocked)."""

    def create_host(self, name: str, addresses: list[str]) -> None:
        """A child nameserver (host object) under one of our domains, with its glue addresses."""

    def update_host(self, name: str, addresses: list[str]) -> None:
        """Its addresses become exactly `addresses`."""

    def delete_host(self, name: str) -> None:
        """Refused (domains_host_in_use) while a domain delegates to it."""

    def host_info(self, name: str) -> dict[str, Any]:
        """{"name", "addresses"} of a host we created."""


# --------------------------------------------------------------------------- sandbox state
class RegistryDomain(me.Document):
    id = me.StringField(primary_key=True)  # the ASCII name
    ref = me.StringField()
    expires_at = me.FloatField()  # epoch seconds: compares the same on every MongoDB-compatible server
    nameservers = me.ListField(me.StringField())
    locked = me.StringField(default="yes")
    away = me.StringField(default="no")  # yes: transferred to another registrar
    epp_code = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "sandbox_registry_domains", "auto_create_index": False}


class RegistryTransfer(me.Document):
    id = me.StringField(primary_key=True)  # the caller's ref
    name = me.StringField()
    requested_at = me.FloatField()
    outcome = me.StringField()  # completed | rejected, decided when the pending time is over
    meta = {"db_alias": ALIAS, "collection": "sandbox_registry_transfers", "indexes": ["name"],
            "auto_create_index": False}  # fmt: skip


class RegistryOperation(me.Document):
    """The answer given to one ref, returned again on a repeated call."""

    id = me.StringField(primary_key=True)
    result = me.FloatField()
    meta = {"db_alias": ALIAS, "collection": "sandbox_registry_operations", "auto_create_index": False}


class RegistryHost(me.Document):
    id = me.StringField(primary_key=True)  # the host name, under one of the sandbox's domains
    addresses = me.ListField(me.StringField())
    meta = {"db_alias": ALIAS, "collection": "sandbox_registry_hosts", "auto_create_index": False}


DOCUMENTS = [RegistryDomain, RegistryTransfer, RegistryOperation, RegistryHost]


def sandbox_epp_code(name: str) -> str:
    """The EPP code of a name registered elsewhere in the sandbox (what its owner would get)."""
    return "EPP-" + hashlib.sha256(f"sandbox-epp:{name}".encode()).hexdigest()[:10].upper()


def _label(name: str) -> str:
    return name.split(".", 1)[0]


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


def _moment(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


class SandboxRegistrar:
    def __init__(self) -> None:
        self.slow_seconds = float(os.environ.get("SANDBOX_SLOW_SECONDS", "2"))
        self.transfer_seconds = float(os.environ.get("SANDBOX_TRANSFER_SECONDS", "60"))
        # A name not renewed is released this long after its expiry (grace period plus redemption).
        self.release_days = float(os.environ.get("SANDBOX_RELEASE_DAYS", "60"))

    def _release_if_lapsed(self, name: str) -> None:
        cutoff = _epoch(clock.now() - dt.timedelta(days=self.release_days))
        RegistryDomain.objects(id=name, expires_at__lt=cutoff).delete()

    # --- behaviours -----------------------------------------------------------
    def _answer(self, name: str, operation: str) -> None:
        """Slow answers and failures, driven by the label."""
        label = _label(name)
        if "slow" in label:
            eventlet.sleep(self.slow_seconds)  # green: the caller's eventlet.Timeout can cut it short
        if "fail-perm" in label:
            raise RegistrarError("domains_registry_refused")
        if "fail-temp" in label and self._attempt(f"{operation}:{name}") == 1:
            raise RegistrarError("domains_registry_unavailable", temporary=True)

    @staticmethod
    def _attempt(key: str) -> int:
        counters = RegistryOperation._get_db()["sandbox_registry_attempts"]
        doc = counters.find_one_and_update({"_id": key}, {"$inc": {"n": 1}}, upsert=True,
                                           return_document=ReturnDocument.AFTER)  # fmt: skip
        return int(doc["n"])

    @staticmethod
    def _registered_elsewhere(name: str) -> bool:
        label = _label(name)
        return label in TAKEN_LABELS or "taken" in label or "zajeta" in label

    @staticmethod
    def _done(ref: str) -> dt.datetime | None:
        operation = RegistryOperation.objects(id=ref).first()
        return _moment(operation.result) if operation else None

    @staticmethod
    def _remember(ref: str, expires_at: dt.datetime) -> dt.datetime:
        RegistryOperation(id=ref, result=_epoch(expires_at)).save(force_insert=True)
        return expires_at

    # --- Registrar --------------------------------------------------------------
    def check(self, name: str) -> Availability:
        label = _label(name)
        self._release_if_lapsed(name)
        taken = self._registered_elsewhere(name) or RegistryDomain.objects(id=name).first() is not None
        premium = "premium" in label or len(label) <= 2
        return Availability(name, not taken, premium, PREMIUM_NET if premium else None)

    def register(self, name: str, years: int, nameservers: list[str], ref: str,
                 holder: dict[str, Any] | None = None) -> dt.datetime:  # fmt: skip
        mine = RegistryDomain.objects(id=name, ref=ref).first()
        if mine:  # registered by this very request before (a retry, or a crash before the answer was recorded)
            return _moment(mine.expires_at)
        self._answer(name, "register")
        if self._registered_elsewhere(name):
            raise RegistrarError("domains_taken")
        self._release_if_lapsed(name)
        expires_at = add_years(clock.now(), years)
        try:  # the unique name decides who gets it
            RegistryDomain(id=name, ref=ref, expires_at=_epoch(expires_at), nameservers=nameservers, locked="yes",
                           epp_code=secrets.token_urlsafe(9)).save(force_insert=True)  # fmt: skip
        except me.NotUniqueError:
            mine = RegistryDomain.objects(id=name, ref=ref).first()
            if mine:  # a racing retry of this same request won
                return _moment(mine.expires_at)
            raise RegistrarError("domains_taken") from None
        return expires_at

    def transfer(self, name: str, epp_code: str, ref: str) -> None:
        if RegistryTransfer.objects(id=ref).first():
            return
        self._answer(name, "transfer")
        ours = RegistryDomain.objects(id=name).first()
        if not ours and not self._registered_elsewhere(name):
            raise RegistrarError("domains_not_registered")
        expected = ours.epp_code if ours else sandbox_epp_code(name)
        if not secrets.compare_digest(epp_code.strip(), expected):
            raise RegistrarError("domains_invalid_epp_code")
        outcome = "rejected" if "reject" in _label(name) else "completed"
        RegistryTransfer(id=ref, name=name, requested_at=_epoch(clock.now()), outcome=outcome).save(force_insert=True)

    def transfer_status(self, name: str, ref: str) -> dict[str, Any]:
        transfer = RegistryTransfer.objects(id=ref).first()
        if not transfer:
            return {"status": "unknown", "reason": None, "expires_at": None}
        if _epoch(clock.now()) < transfer.requested_at + self.transfer_seconds:
            return {"status": "pending", "reason": None, "expires_at": None}
        if transfer.outcome == "rejected":
            return {"status": "rejected", "reason": "domains_transfer_refused", "expires_at": None}
        done = self._done(f"transfer:{ref}")
        if not done:
            current = RegistryDomain.objects(id=name).first()
            base = _moment(current.expires_at) if current else add_years(_moment(transfer.requested_at), 1)
            done = self._remember(f"transfer:{ref}", add_years(base, 1))
            RegistryDomain.objects(id=name).update_one(upsert=True, set__ref=ref, set__expires_at=_epoch(done),
                                                       set__locked="yes", set__away="no",
                                                       set__epp_code=secrets.token_urlsafe(9))  # fmt: skip
        return {"status": "completed", "reason": None, "expires_at": done}

    def _own(self, name: str) -> RegistryDomain:
        domain = RegistryDomain.objects(id=name).first()
        if not domain:
            raise RegistrarError("domains_not_registered")
        return domain

    def renew(self, name: str, years: int, ref: str) -> dt.datetime:
        done = self._done(f"renew:{ref}")
        if done:
            return done
        self._answer(name, "renew")
        domain = self._own(name)
        expires_at = add_years(_moment(domain.expires_at), years)
        RegistryDomain.objects(id=name).update_one(set__expires_at=_epoch(expires_at))
        return self._remember(f"renew:{ref}", expires_at)

    def info(self, name: str) -> dict[str, Any]:
        domain = self._own(name)
        return {"name": name, "expires_at": _moment(domain.expires_at), "nameservers": list(domain.nameservers),
                "locked": domain.locked == "yes"}  # fmt: skip

    def set_nameservers(self, name: str, nameservers: list[str]) -> None:
        self._answer(name, "nameservers")
        self._own(name)
        RegistryDomain.objects(id=name).update_one(set__nameservers=list(nameservers))

    def set_lock(self, name: str, locked: bool) -> None:
        self._own(name)
        RegistryDomain.objects(id=name).update_one(set__locked="yes" if locked else "no")

    def get_epp_code(self, name: str) -> str:
        return self._own(name).epp_code

    def still_ours(self, name: str) -> bool:
        domain = RegistryDomain.objects(id=name).first()
        return bool(domain) and domain.away != "yes"

    # --- child nameservers -------------------------------------------------------------------
    def _host(self, name: str) -> RegistryHost:
        host = RegistryHost.objects(id=name).first()
        if not host:
            raise RegistrarError("domains_host_not_registered")
        return host

    def create_host(self, name: str, addresses: list[str]) -> None:
        self._answer(name, "host")
        self._own(name.split(".", 1)[1])
        try:
            RegistryHost(id=name, addresses=list(addresses)).save(force_insert=True)
        except me.NotUniqueError:
            raise RegistrarError("domains_host_exists") from None

    def update_host(self, name: str, addresses: list[str]) -> None:
        self._host(name)
        RegistryHost.objects(id=name).update_one(set__addresses=list(addresses))

    def delete_host(self, name: str) -> None:
        self._host(name)
        if RegistryDomain.objects(nameservers=name, away="no").first():
            raise RegistrarError("domains_host_in_use")
        RegistryHost.objects(id=name).delete()

    def host_info(self, name: str) -> dict[str, Any]:
        return {"name": name, "addresses": list(self._host(name).addresses)}

    def transfer_out(self, name: str, epp_code: str) -> None:
        """Sandbox only: what another registrar does to take a domain away from us."""
        domain = self._own(name)
        if domain.locked == "yes":
            raise RegistrarError("domains_locked")
        if not secrets.compare_digest(epp_code, domain.epp_code):
            raise RegistrarError("domains_invalid_epp_code")
        RegistryDomain.objects(id=name).update_one(set__away="yes")


def registrar() -> Registrar:
    """The configured registrar: REGISTRAR=sandbox (the default) or epp."""
    kind = os.environ.get("REGISTRAR", "sandbox")
    if kind == "epp":
        from services.domains.epp import EppRegistrar  # only a deployment that speaks EPP loads epptools

        return EppRegistrar()
    if kind != "sandbox":
        raise RuntimeError(f"unknown REGISTRAR {kind!r}")
    return SandboxRegistrar()
