"""The HostingAccount aggregate (`hosting-<service_id>`): what billing asked for (`wanted`), what the
server has done (`applied`), and the next step to take between them. No I/O.

Billing's events only move `wanted` (active, suspended, removed) and the plan (the newest of billing's
plan changes wins, whatever order they arrive in; one that arrives before the activation is the plan
the account is created with); the steps that bring
the server there (create, suspend, unsuspend, change_plan, terminate) are taken one at a time by the
application layer, each recorded when the server confirms it, or as `hosting_step_failed` with the
time of the next try (backing off up to MAX_BACKOFF).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

from kernel.aggregate import Aggregate
from kernel.dates import iso, parse
from kernel.events import Event, NewEvent

# The first retry of a failed step; each next one waits twice as long, up to MAX_BACKOFF.
RETRY = dt.timedelta(seconds=float(os.environ.get("HOSTING_RETRY_SECONDS", "10")))
MAX_BACKOFF = dt.timedelta(minutes=30)
# After this many failed tries in a row the account is listed for staff (list_failures).
ALERT_ATTEMPTS = 3


def hosting_stream(service_id: str) -> str:
    return f"hosting-{service_id}"


def username_for(service_id: str) -> str:
    """A Linux, SFTP and database user name: 'h' and 11 hex digits of the service id's hash."""
    return "h" + hashlib.sha256(service_id.encode()).hexdigest()[:11]


class HostingAccount(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.data: dict[str, Any] = {}
        self.wanted = "active"
        self.applied: str | None = None  # None (not created yet), active, suspended, removed
        self.plan = ""
        self.applied_plan = ""
        self.limits: dict[str, int] = {}
        self.plan_changed_at: dt.datetime | None = None  # billing's time of the newest plan change recorded
        self.remove_at: dt.datetime | None = None
        self.attempts = 0
        self.retry_at: dt.datetime | None = None
        self.password_set = False

    # ------------------------------------------------------------------ state
    def on_hosting_account_requested(self, d: dict, _: Event) -> None:
        self.data = dict(d)
        self.plan = self.applied_plan = d["plan"]
        self.limits = dict(d["limits"])

    def on_hosting_account_created(self, d: dict, _: Event) -> None:
        self.applied = "active"
        self._done()

    def on_hosting_step_failed(self, d: dict, _: Event) -> None:
        self.attempts = d["attempts"]
        self.retry_at = parse(d["retry_at"])

    def on_hosting_suspension_requested(self, d: dict, _: Event) -> None:
        self.wanted = "suspended"

    def on_hosting_account_suspended(self, d: dict, _: Event) -> None:
        self.applied = "suspended"
        self._done()

    def on_hosting_unsuspension_requested(self, d: dict, _: Event) -> None:
        self.wanted = "active"

    def on_hosting_account_unsuspended(self, d: dict, _: Event) -> None:
        self.applied = "active"
        self._done()

    def on_hosting_removal_requested(self, d: dict, _: Event) -> None:
        self.wanted = "removed"
        self.remove_at = parse(d["remove_at"])

    def on_hosting_account_removed(self, d: dict, _: Event) -> None:
        self.applied = "removed"
        self._done()

    def on_hosting_plan_change_requested(self, d: dict, _: Event) -> None:
        changing = self.applied not in (None, "removed") and self.plan != self.applied_plan
        self.plan, self.limits = d["plan"], dict(d["limits"])
        if d.get("changed_at"):
            self.plan_changed_at = parse(d["changed_at"])
        if changing and self.plan == self.applied_plan:
            self._done()  # back to the plan the server has: the change_plan step (perhaps failing) is not wanted now

    def on_hosting_plan_changed(self, d: dict, _: Event) -> None:
        self.applied_plan = d["plan"]
        self._done()

    def on_hosting_password_set(self, d: dict, _: Event) -> None:
        self.password_set = True

    def _done(self) -> None:
        self.attempts, self.retry_at = 0, None

    @property
    def requested(self) -> bool:
        """Billing's activation is recorded (a plan change may be recorded before it)."""
        return bool(self.data)

    @property
    def ids(self) -> dict[str, str]:
        return {"account_id": self.data["account_id"], "service_id": self.data["service_id"]}

    # ------------------------------------------------------------------ what billing asks
    def request(self, account_id: str, service_id: str, plan: str, domain: str, server: str,
                limits: dict[str, int]) -> list[NewEvent]:  # fmt: skip
        if self.requested:
            return []  # activated once; a redelivery or a replay changes nothing
        if self.plan:  # billing's plan change arrived first: it is newer than the activation's plan
            plan, limits = self.plan, self.limits
        user = username_for(service_id)
        return [NewEvent("hosting_account_requested", {
            "account_id": account_id, "service_id": service_id, "plan": plan, "domain": domain, "server": server,
            "username": user, "database": f"{user}_web", "limits": dict(limits)})]  # fmt: skip

    def suspend(self, reason: str) -> list[NewEvent]:
        if not self.requested or self.wanted != "active":
            return []
        return [NewEvent("hosting_suspension_requested", {**self.ids, "reason": reason})]

    def unsuspend(self) -> list[NewEvent]:
        if not self.requested or self.wanted != "suspended":
            return []
        return [NewEvent("hosting_unsuspension_requested", self.ids)]

    def remove(self, reason: str, remove_at: dt.datetime) -> list[NewEvent]:
        if not self.requested or self.wanted == "removed":
            return []
        return [NewEvent("hosting_removal_requested", {**self.ids, "reason": reason, "remove_at": iso(remove_at)})]

    def change_plan(self, plan: str, limits: dict[str, int], changed_at: dt.datetime | None = None,
                    ids: dict[str, str] | None = None) -> list[NewEvent]:  # fmt: skip
        """Billing's plan change (`changed_at`, billing's time of it; `ids` for one that arrives before the
        activation) or staff's (neither). A change older than the newest recorded is one delivered late or
        again: nothing. A newer one back to the current plan is recorded all the same (its time is what an
        older one arriving after it is compared with)."""
        if self.wanted == "removed" or self.applied == "removed":
            return []
        if changed_at is not None and self.plan_changed_at is not None and changed_at <= self.plan_changed_at:
            return []
        if not self.requested and ids is None:
            return []
        if (plan, limits) == (self.plan, self.limits) and changed_at is None:
            return []
        data = {**(self.ids if self.requested else ids), "plan": plan, "limits": dict(limits)}
        return [NewEvent("hosting_plan_change_requested",
                         {**data, "changed_at": iso(changed_at)} if changed_at else data)]  # fmt: skip

    # ------------------------------------------------------------------ the steps
    def next_step(self, now: dt.datetime) -> str | None:
        """The step that brings the server closer to what is wanted now, or None."""
        if self.applied == "removed" or not self.requested:
            return None
        if self.wanted == "removed":
            return "terminate" if self.remove_at is None or now >= self.remove_at else None
        if self.applied is None:
            return "create"
        if self.applied_plan != self.plan:
            return "change_plan"
        if self.wanted == "suspended" and self.applied == "active":
            return "suspend"
        if self.wanted == "active" and self.applied == "suspended":
            return "unsuspend"
        return None

    def due(self, now: dt.datetime) -> bool:
        return self.next_step(now) is not None and (self.retry_at is None or now >= self.retry_at)

    def done(self, step: str) -> list[NewEvent]:
        """What the server confirmed, for the step it was asked to take."""
        d = self.data
        if step == "create":
            return [NewEvent("hosting_account_created", {**self.ids, "server": d["server"], "username": d["username"],
                                                         "database": d["database"], "domain": d["domain"]})]  # fmt: skip
        if step == "change_plan":
            return [NewEvent("hosting_plan_changed", {**self.ids, "plan": self.plan})]
        if step == "suspend":
            return [NewEvent("hosting_account_suspended", self.ids)]
        if step == "unsuspend":
            return [NewEvent("hosting_account_unsuspended", self.ids)]
        return [NewEvent("hosting_account_removed", self.ids)]

    def failed(self, step: str, error: str, temporary: bool, now: dt.datetime) -> list[NewEvent]:
        attempts = self.attempts + 1
        backoff = min(RETRY * 2 ** min(attempts - 1, 10), MAX_BACKOFF) if temporary else MAX_BACKOFF
        return [NewEvent("hosting_step_failed", {**self.ids, "step": step, "error": error, "attempts": attempts,
                                                 "retry_at": iso(now + backoff)})]  # fmt: skip

    def password_changed(self) -> list[NewEvent]:
        return [NewEvent("hosting_password_set", self.ids)]

    # ------------------------------------------------------------------ what the customer sees
    @property
    def state(self) -> str:
        """provisioning, delayed (a step keeps failing), active, suspended, removal_scheduled, removed."""
        if self.applied == "removed":
            return "removed"
        if self.wanted == "removed":
            return "removal_scheduled"
        if self.applied is None:
            return "delayed" if self.attempts else "provisioning"
        return self.applied
