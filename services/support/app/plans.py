"""The plans customers hold, learnt from billing's service events (who a news item concerns).

Each billing fact is decided by the customer's CustomerPlans aggregate (stream `plans-<account_id>`) into
`customer_plan_held` / `customer_plan_dropped`, only when it changes what the customer holds; the `plans`
projection (HeldPlan) answers `plans_of` and `accounts_with`. Being support's own events about the account,
they also make the gateway's view ask support again for the account's dashboard (its news)."""

from __future__ import annotations

from collections.abc import Callable

from kernel.aggregate import execute
from kernel.contracts.billing import ServiceEvent
from kernel.events import Event, NewEvent, command_meta
from services.support import validation as v
from services.support.app import Deps, invalid
from services.support.domain import CustomerPlans, plans_stream
from services.support.projections import HeldPlan, plans_of

__all__ = ["HELD_BY", "DROPPED_BY", "accounts_with", "drop", "hold", "learn", "plans_of"]

SYSTEM = {"type": "system", "id": "support-plans"}
# billing's service events and what each says about the plan held
HELD_BY = ("service_activated", "service_unsuspended", "service_plan_changed")
DROPPED_BY = ("service_terminated", "service_cancelled")


def _decide(deps: Deps, event: Event, decide: Callable[[CustomerPlans], list[NewEvent]]) -> list[Event]:
    p: ServiceEvent = event.payload
    meta = command_meta({"causation_id": event.event_id, "correlation_id": event.meta.get("correlation_id"),
                         "actor": SYSTEM})  # fmt: skip
    _, stored = execute(deps.events, CustomerPlans, plans_stream(p.account_id), decide, meta, retries=10)
    return stored


def hold(deps: Deps, event: Event) -> list[Event]:
    """A service activated, unsuspended or moved to another plan: its customer holds its (new) plan."""
    p: ServiceEvent = event.payload
    if not (p.service_id and p.account_id and p.plan):
        return []
    return _decide(deps, event, lambda plans: plans.hold(p.service_id, p.plan, event.version))


def drop(deps: Deps, event: Event) -> list[Event]:
    """A service terminated or cancelled: its plan is no longer held through it."""
    p: ServiceEvent = event.payload
    if not (p.service_id and p.account_id):
        return []
    return _decide(deps, event, lambda plans: plans.drop(p.service_id, event.version))


def learn(deps: Deps, event: Event) -> list[Event]:
    """Any of billing's service events (its payload parsed): held, dropped, or nothing it concerns."""
    if event.type in HELD_BY:
        return hold(deps, event)
    if event.type in DROPPED_BY:
        return drop(deps, event)
    return []


def accounts_with(plans: list[str]) -> list[str]:
    """The customers holding an active service on any of `plans`."""
    clean, code = v.check_plans(plans)
    if code:
        raise invalid("concerns_plans", code)
    return sorted({h.account_id for h in HeldPlan.objects(plan__in=clean).only("account_id")})
