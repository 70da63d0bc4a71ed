"""Hosting's read model: one row per hosting account (`hosting-<service_id>`), what the customer's
page and the staff list read. `working_until` and the usage fields are operational (a lease and the
last measurement), not derived from events."""

from __future__ import annotations

from typing import Any

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection

ALIAS = "hosting"


def ts(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") if hasattr(value, "isoformat") else value


class HostingView(me.Document):
    id = me.StringField(primary_key=True)  # the service id
    account_id = me.StringField(required=True)
    plan = me.StringField()  # the plan wanted
    applied_plan = me.StringField(null=True)  # the plan whose limits the server has
    domain = me.StringField()
    server = me.StringField()
    username = me.StringField()
    database = me.StringField()
    disk_mb = me.IntField()
    wanted = me.StringField(default="active")
    applied = me.StringField(null=True)
    state = me.StringField(default="provisioning")
    password_set = me.StringField(default="no")
    failing_step = me.StringField(null=True)
    error = me.StringField(null=True)
    attempts = me.IntField(default=0)
    retry_at = me.StringField(null=True)
    remove_at = me.StringField(null=True)
    due = me.StringField(default="yes")  # a step is waiting (the timer looks at these)
    updated_at = me.StringField()
    working_until = me.FloatField(default=0)
    disk_bytes = me.IntField(null=True)
    measured_at = me.StringField(null=True)
    meta = {"db_alias": ALIAS, "collection": "hosting_accounts", "indexes": ["account_id", "due", "attempts"],
            "auto_create_index": False}  # fmt: skip


hosting = Projection("hosting", ALIAS, [HostingView])

STATE = {"hosting_account_created": "active", "hosting_account_suspended": "suspended",
         "hosting_account_unsuspended": "active", "hosting_account_removed": "removed"}  # fmt: skip
WANTED = {"hosting_suspension_requested": "suspended", "hosting_unsuspension_requested": "active",
          "hosting_removal_requested": "removed"}  # fmt: skip


def _set(event: Event, **fields: Any) -> None:
    HostingView.objects(id=event.data["service_id"]).update_one(
        **{f"set__{k}": v for k, v in fields.items()}, set__updated_at=ts(event.occurred_at)
    )


@hosting.on("hosting_account_requested")
def _requested(event: Event) -> None:
    d = event.data
    if HostingView.objects(id=d["service_id"]).first():
        return
    HostingView(id=d["service_id"], account_id=d["account_id"], plan=d["plan"], applied_plan=d["plan"], domain=d["domain"],
                server=d["server"],
                username=d["username"], database=d["database"], disk_mb=d["limits"]["disk_mb"],
                updated_at=ts(event.occurred_at)).save()  # fmt: skip


@hosting.on(*STATE)
def _applied(event: Event) -> None:
    state = STATE[event.type]
    _set(event, applied=state, failing_step=None, error=None, attempts=0, retry_at=None)
    _derive(event.data["service_id"])


@hosting.on(*WANTED)
def _wanted(event: Event) -> None:
    extra = {"remove_at": event.data["remove_at"]} if "remove_at" in event.data else {}
    _set(event, wanted=WANTED[event.type], due="yes", **extra)
    _derive(event.data["service_id"])


@hosting.on("hosting_step_failed")
def _failed(event: Event) -> None:
    d = event.data
    _set(event, failing_step=d["step"], error=d["error"], attempts=d["attempts"], retry_at=d["retry_at"])
    _derive(d["service_id"])


@hosting.on("hosting_plan_change_requested")
def _plan(event: Event) -> None:
    d = event.data
    view = HostingView.objects(id=d["service_id"]).first()
    if not view:
        return  # a change before the activation: the account is requested with its plan
    _set(event, plan=d["plan"], disk_mb=d["limits"]["disk_mb"])
    if view.failing_step == "change_plan" and d["plan"] == view.applied_plan:
        _set(event, failing_step=None, error=None, attempts=0, retry_at=None)  # the failing change is not wanted now
    _derive(d["service_id"])


@hosting.on("hosting_plan_changed")
def _plan_changed(event: Event) -> None:
    _set(event, applied_plan=event.data["plan"], failing_step=None, error=None, attempts=0, retry_at=None)
    _derive(event.data["service_id"])


@hosting.on("hosting_password_set")
def _password(event: Event) -> None:
    _set(event, password_set="yes")


def _derive(service_id: str) -> None:
    """The customer's state from what is wanted and what is applied (as HostingAccount.state)."""
    view = HostingView.objects(id=service_id).first()
    if not view:
        return
    if view.applied == "removed":
        state = "removed"
    elif view.wanted == "removed":
        state = "removal_scheduled"
    elif view.applied is None:
        state = "delayed" if view.attempts else "provisioning"
    else:
        state = view.applied
    plan_applied = view.applied is None or view.wanted == "removed" or view.applied_plan in (None, view.plan)
    settled = view.applied == "removed" or (view.applied == view.wanted and plan_applied)
    HostingView.objects(id=service_id).update_one(set__state=state, set__due="no" if settled else "yes")


PROJECTIONS: list[Projection] = [hosting]
