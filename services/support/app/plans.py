"""The plans customers hold, learnt from billing's events (who a news item concerns)."""

from __future__ import annotations

from kernel.contracts.billing import ServiceEvent
from kernel.events import Event
from services.support import operational as ops
from services.support import validation as v
from services.support.app import invalid


def hold(event: Event) -> None:
    """A service activated or unsuspended: its customer holds its plan."""
    p: ServiceEvent = event.payload
    if p.service_id and p.account_id and p.plan:
        ops.CustomerService(id=p.service_id, account_id=p.account_id, plan=p.plan).save()


def drop(event: Event) -> None:
    """A service terminated or cancelled: its plan is no longer held through it."""
    ops.CustomerService.objects(id=event.payload.service_id).delete()


def accounts_with(plans: list[str]) -> list[str]:
    """The customers holding an active service on any of `plans`."""
    clean, code = v.check_plans(plans)
    if code:
        raise invalid("concerns_plans", code)
    return sorted({s.account_id for s in ops.CustomerService.objects(plan__in=clean).only("account_id")})
