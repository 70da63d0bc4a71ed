"""The Domain aggregate (`domain-<id>` stream): every decision about one domain, no I/O.

A domain is born `pending` when billing issues an invoice with a registration or
transfer line (its id is derived from the invoice id and the line's position, so
`invoice_issued` and `invoice_paid` name the same domain whatever order they
arrive in). Paying moves it to `pending_registration` / `pending_transfer`; the
registry's answer makes it `active` or leaves a visible failure with a retry.
Renewals are remembered per paid invoice, so a renewal is applied exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import Any

from kernel.aggregate import Aggregate
from kernel.dates import iso, parse
from kernel.errors import Conflict
from kernel.events import Event, NewEvent

NAMESPACE = uuid.UUID("0c4b1f7e-52d4-4c3a-8a1e-6f0d9b2a7e11")
STATUSES = ("pending", "pending_registration", "pending_transfer", "active", "grace_period", "redemption", "expired",
            "transferred_away", "cancelled")  # fmt: skip
# Registered or transferred with us: what the dashboard tile counts and what can be renewed.
HELD = ("active", "grace_period", "redemption")
ORDER_KINDS = {"domain_registration": "registration", "domain_transfer": "transfer"}
MAX_BACKOFF = dt.timedelta(hours=1)
# A paid registration with no answer recorded this long after the request (the worker died between
# the registry and the event store) is submitted again; the registry answers a repeated ref the same.
STALE_REQUEST = dt.timedelta(minutes=5)


def domain_id_for(invoice_id: str, line_index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{invoice_id}:{line_index}"))


def domain_stream(domain_id: str) -> str:
    return f"domain-{domain_id}"


@dataclass(frozen=True)
class Policy:
    """Days: renewal invoice lead before expiry, then grace period and redemption after it."""

    renewal_days: int = 30
    grace_days: int = 30
    redemption_days: int = 30

    @classmethod
    def from_env(cls) -> Policy:
        return cls(int(os.environ.get("DOMAIN_RENEWAL_DAYS", "30")), int(os.environ.get("DOMAIN_GRACE_DAYS", "30")),
                   int(os.environ.get("DOMAIN_REDEMPTION_DAYS", "30")))  # fmt: skip


class Domain(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.data: dict[str, Any] = {}
        self.status = "pending"
        self.kind = "registration"
        self.years = 1
        self.expires_at: dt.datetime | None = None
        self.nameservers: list[str] = []
        self.locked = True
        self.auto_renew = True
        self.epp_code = ""
        self.failure: dict[str, Any] | None = None
        self.attempts = 0
        self.requested_at: dt.datetime | None = None
        self.renewal_invoices: dict[str, str] = {}  # expiry (iso) -> renewal invoice id
        self.renewals_due: set[str] = set()  # expiries (iso) whose renewal invoice billing was asked for
        self.renewals_requested: dict[str, int] = {}  # invoice id -> years
        self.renewals_requested_at: dict[str, dt.datetime] = {}
        self.renewals_done: set[str] = set()

    @property
    def domain_id(self) -> str:
        return self.stream_id.removeprefix("domain-")

    def _base(self) -> dict[str, Any]:
        return {k: self.data[k] for k in ("account_id", "domain_id", "name", "unicode_name")}

    # --- state ----------------------------------------------------------------
    def on_domain_ordered(self, data: dict, _: Event) -> None:
        self.data = data
        self.kind, self.years, self.epp_code = data["kind"], data["years"], data.get("epp_code", "")
        self.nameservers = list(data.get("nameservers") or [])

    def on_domain_registration_requested(self, data: dict, event: Event) -> None:
        self.status = "pending_registration"
        self.requested_at = event.occurred_at

    def on_domain_transfer_requested(self, data: dict, _: Event) -> None:
        self.status, self.failure = "pending_transfer", None
        self.epp_code = data.get("epp_code") or self.epp_code
        self.attempts = data["attempt"]

    def on_domain_registration_failed(self, data: dict, _: Event) -> None:
        self.failure = {k: data.get(k) for k in ("code", "temporary", "retry_at")}
        self.attempts = data["attempts"]

    def on_domain_transfer_rejected(self, data: dict, _: Event) -> None:
        self.failure = {"code": data["reason"], "temporary": False, "retry_at": None}

    def _activate(self, data: dict) -> None:
        self.status, self.failure = "active", None
        self.expires_at = parse(data["expires_at"])

    def on_domain_registered(self, data: dict, _: Event) -> None:
        self._activate(data)
        self.nameservers = list(data.get("nameservers") or [])

    def on_domain_transferred_in(self, data: dict, _: Event) -> None:
        self._activate(data)

    def on_domain_renewal_invoiced(self, data: dict, _: Event) -> None:
        self.renewal_invoices[data["for_expiry"]] = data["invoice_id"]

    def on_domain_renewal_due(self, data: dict, _: Event) -> None:
        self.renewals_due.add(data["for_expiry"])

    def on_domain_renewal_requested(self, data: dict, event: Event) -> None:
        self.renewals_requested[data["invoice_id"]] = data["years"]
        self.renewals_requested_at[data["invoice_id"]] = event.occurred_at

    def on_domain_renewed(self, data: dict, _: Event) -> None:
        self._activate(data)
        self.renewals_done.add(data["invoice_id"])

    def on_domain_expired(self, data: dict, _: Event) -> None:
        self.status = data["status"]

    def on_nameservers_changed(self, data: dict, _: Event) -> None:
        self.nameservers = list(data["nameservers"])

    def on_domain_lock_changed(self, data: dict, _: Event) -> None:
        self.locked = data["locked"]

    def on_auto_renew_changed(self, data: dict, _: Event) -> None:
        self.auto_renew = data["auto_renew"]

    def on_domain_cancelled(self, data: dict, _: Event) -> None:
        self.status = "cancelled"

    def on_domain_transferred_away(self, data: dict, _: Event) -> None:
        self.status = "transferred_away"

    # --- ordering and paying -------------------------------------------------
    def order(self, details: dict[str, Any]) -> list[NewEvent]:
        """`details`: account_id, name, unicode_name, tld, kind, years, invoice_id, epp_code?, nameservers?"""
        if self.exists:
            return []
        return [NewEvent("domain_ordered", {**details, "domain_id": self.domain_id, "status": "pending"})]

    def request(self, invoice_id: str) -> list[NewEvent]:
        """The order's invoice is paid: ask the registry (once)."""
        if self.status != "pending":
            return []
        if self.kind == "transfer":
            return [NewEvent("domain_transfer_requested", {**self._base(), "invoice_id": invoice_id, "attempt": 1,
                                                            "status": "pending_transfer"})]  # fmt: skip
        return [NewEvent("domain_registration_requested", {**self._base(), "invoice_id": invoice_id,
                                                            "years": self.years, "status": "pending_registration"})]  # fmt: skip

    def cancel(self, reason: str) -> list[NewEvent]:
        if self.status != "pending":
            return []
        return [NewEvent("domain_cancelled", {**self._base(), "reason": reason, "status": "cancelled"})]

    # --- the registry's answers ----------------------------------------------
    def registered(self, expires_at: dt.datetime) -> list[NewEvent]:
        if self.status != "pending_registration":
            return []
        return [NewEvent("domain_registered", {**self._base(), "expires_at": iso(expires_at), "status": "active",
                                                "nameservers": self.nameservers})]  # fmt: skip

    def registration_failed(self, code: str, temporary: bool, now: dt.datetime) -> list[NewEvent]:
        if self.status != "pending_registration":
            return []
        attempts = self.attempts + 1
        retry_at = now + min(dt.timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF) if temporary else None
        return [NewEvent("domain_registration_failed", {**self._base(), "code": code, "temporary": temporary,
                                                         "attempts": attempts, "retry_at": iso(retry_at)})]  # fmt: skip

    def transferred_in(self, expires_at: dt.datetime) -> list[NewEvent]:
        if self.status != "pending_transfer" or self.failure:
            return []
        return [NewEvent("domain_transferred_in", {**self._base(), "expires_at": iso(expires_at), "status": "active"})]

    def transfer_rejected(self, reason: str) -> list[NewEvent]:
        if self.status != "pending_transfer" or self.failure:
            return []
        return [NewEvent("domain_transfer_rejected", {**self._base(), "reason": reason})]

    def due_for_retry(self, now: dt.datetime) -> bool:
        """A registration the timer should try again: a temporary failure whose wait is over,
        or a request that never got its answer recorded."""
        if self.status != "pending_registration":
            return False
        if self.failure:
            return bool(self.failure["temporary"] and parse(self.failure["retry_at"]) <= now)
        return bool(self.requested_at and now >= self.requested_at + STALE_REQUEST)

    def retry(self, epp_code: str | None) -> list[NewEvent]:
        """The customer's "try again": a failed registration is simply submitted again; a
        rejected transfer is requested again (with a corrected EPP code if given)."""
        if self.status not in ("pending_registration", "pending_transfer") or not self.failure:
            raise Conflict("domains_nothing_to_retry")
        if self.status == "pending_transfer":
            return [NewEvent("domain_transfer_requested", {**self._base(), "attempt": self.attempts + 1,
                                                            "epp_code": epp_code or self.epp_code,
                                                            "status": "pending_transfer"})]  # fmt: skip
        return []

    # --- renewals and expiry --------------------------------------------------
    def renewal_due(self, now: dt.datetime, policy: Policy) -> bool:
        """Auto-renew is on and the renewal invoice for this expiry is due but neither issued nor asked for."""
        for_expiry = iso(self.expires_at)
        return bool(self.auto_renew and self.status in HELD and self.expires_at
                    and now >= self.expires_at - dt.timedelta(days=policy.renewal_days)
                    and for_expiry not in self.renewal_invoices and for_expiry not in self.renewals_due)  # fmt: skip

    def ask_renewal_invoice(self, now: dt.datetime, policy: Policy) -> list[NewEvent]:
        """`domain_renewal_due` once per expiry: billing issues the invoice (once per key) and reports it
        with `invoice_issued`, whose line keeps `for_expiry` (then `renewal_invoiced`)."""
        if not self.renewal_due(now, policy):
            return []
        for_expiry = iso(self.expires_at)
        return [NewEvent("domain_renewal_due", {**self._base(), "for_expiry": for_expiry, "years": 1,
                                                 "idempotency_key": f"domain-renewal:{self.domain_id}:{for_expiry}"})]  # fmt: skip

    def renewal_invoiced(self, invoice_id: str, for_expiry: str) -> list[NewEvent]:
        if not self.exists or for_expiry in self.renewal_invoices:
            return []
        return [NewEvent("domain_renewal_invoiced", {**self._base(), "invoice_id": invoice_id,
                                                      "for_expiry": for_expiry})]  # fmt: skip

    def request_renewal(self, invoice_id: str, years: int) -> list[NewEvent]:
        if invoice_id in self.renewals_requested:
            return []
        return [NewEvent("domain_renewal_requested", {**self._base(), "invoice_id": invoice_id, "years": years})]

    def pending_renewals(self, requested_before: dt.datetime | None = None) -> dict[str, int]:
        """Paid renewals not yet applied at the registry (only those requested before the given moment)."""
        return {i: y for i, y in self.renewals_requested.items() if i not in self.renewals_done
                and (requested_before is None or self.renewals_requested_at[i] <= requested_before)}  # fmt: skip

    def renewed(self, invoice_id: str, expires_at: dt.datetime) -> list[NewEvent]:
        if invoice_id in self.renewals_done or invoice_id not in self.renewals_requested:
            return []
        return [NewEvent("domain_renewed", {**self._base(), "invoice_id": invoice_id, "status": "active",
                                             "years": self.renewals_requested[invoice_id],
                                             "expires_at": iso(expires_at)})]  # fmt: skip

    def expiry_phase(self, now: dt.datetime, policy: Policy) -> str | None:
        if not self.expires_at or now < self.expires_at:
            return None
        if now < self.expires_at + dt.timedelta(days=policy.grace_days):
            return "grace_period"
        if now < self.expires_at + dt.timedelta(days=policy.grace_days + policy.redemption_days):
            return "redemption"
        return "expired"

    def expire(self, now: dt.datetime, policy: Policy) -> list[NewEvent]:
        """Past expiry: grace period, then redemption, then expired (state-based, so twice decides nothing new)."""
        phase = self.expiry_phase(now, policy)
        if self.status not in HELD or phase is None or phase == self.status:
            return []
        return [NewEvent("domain_expired", {**self._base(), "status": phase, "expires_at": iso(self.expires_at)})]

    def transferred_away(self) -> list[NewEvent]:
        if self.status not in HELD:
            return []
        return [NewEvent("domain_transferred_away", {**self._base(), "status": "transferred_away"})]

    # --- management --------------------------------------------------------------
    def _require(self, *statuses: str) -> None:
        if self.status not in statuses:
            raise Conflict("domains_not_active")

    def change_nameservers(self, nameservers: list[str]) -> list[NewEvent]:
        self._require("active")
        if nameservers == self.nameservers:
            return []
        return [NewEvent("nameservers_changed", {**self._base(), "nameservers": nameservers,
                                                  "previous": self.nameservers})]  # fmt: skip

    def change_lock(self, locked: bool) -> list[NewEvent]:
        self._require("active")
        return [] if locked == self.locked else [NewEvent("domain_lock_changed", {**self._base(), "locked": locked})]

    def change_auto_renew(self, auto_renew: bool) -> list[NewEvent]:
        self._require(*HELD)
        if auto_renew == self.auto_renew:
            return []
        return [NewEvent("auto_renew_changed", {**self._base(), "auto_renew": auto_renew})]

    def reveal_epp_code(self) -> list[NewEvent]:
        self._require("active")
        return [NewEvent("domain_epp_code_revealed", self._base())]
