"""From billing's service events to a real account on the server, one idempotent step at a time.

A billing event only records what is wanted (`HostingAccount.request/suspend/unsuspend/remove`), then
`converge` takes the steps the account is due under a lease in the read model (one worker per
account at a time): each step is asked of the server's module, and recorded when it answers, or
recorded as failed with the time of the next try. The timer (`retry_due`) takes up what is due:
a failed step whose time came, a removal whose delay passed, a worker that died mid-way.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from typing import Any

from kernel.dates import iso, parse
from kernel.events import Event
from services.hosting import plans
from services.hosting.app import Deps, do, load, spec
from services.hosting.domain import HostingAccount
from services.hosting.modules import ServerError
from services.hosting.projections import HostingView

log = logging.getLogger(__name__)
LEASE_SECONDS = 120


def terminate_delay() -> dt.timedelta:
    return dt.timedelta(hours=float(os.environ.get("HOSTING_TERMINATE_DELAY_HOURS", "72")))


def activated(deps: Deps, event: Event) -> None:
    e = event.payload
    domain = (e.domain or "").strip().lower() or f"{e.service_id[:8]}.{deps.server.site_suffix}"
    do(deps, e.service_id, lambda a: a.request(e.account_id, e.service_id, e.plan, domain, deps.server.name,
                                                plans.limits(e.plan)))  # fmt: skip
    converge(deps, e.service_id)


def suspended(deps: Deps, event: Event) -> None:
    do(deps, event.payload.service_id, lambda a: a.suspend(event.payload.reason))
    converge(deps, event.payload.service_id)


def unsuspended(deps: Deps, event: Event) -> None:
    do(deps, event.payload.service_id, lambda a: a.unsuspend())
    converge(deps, event.payload.service_id)


def ended(deps: Deps, event: Event, reason: str) -> None:
    remove_at = deps.now() + terminate_delay()
    do(deps, event.payload.service_id, lambda a: a.remove(reason, remove_at))
    converge(deps, event.payload.service_id)


def plan_changed(deps: Deps, event: Event) -> None:
    """Billing's paid upgrade or downgrade: the account gets the new plan's limits on the server (a
    change older than one already recorded, or the same again, changes nothing)."""
    e = event.payload
    ids = {"account_id": e.account_id, "service_id": e.service_id}
    do(deps, e.service_id, lambda a: a.change_plan(e.plan, plans.limits(e.plan), parse(e.changed_at), ids))
    converge(deps, e.service_id)


def change_plan(deps: Deps, service_id: str, plan: str, ctx: dict | None = None) -> None:
    do(deps, service_id, lambda a: a.change_plan(plan, plans.limits(plan)), ctx)
    converge(deps, service_id)


def converge(deps: Deps, service_id: str) -> HostingAccount:
    """Take every step the account is due now (stopping at a failure), under the account's lease."""
    now = time.time()
    if not HostingView.objects(id=service_id, working_until__lt=now).update_one(set__working_until=now + LEASE_SECONDS):
        return load(deps, service_id)  # another worker is at it, or no read model yet (the projection follows)
    try:
        account = load(deps, service_id)
        while account.due(deps.now()):
            account = _step(deps, account)
            if account.attempts:
                break
        return account
    finally:
        HostingView.objects(id=service_id).update_one(set__working_until=0)


def _step(deps: Deps, account: HostingAccount) -> HostingAccount:
    step = account.next_step(deps.now())
    target = spec(account)
    try:
        getattr(deps.module, step)(target)
    except ServerError as exc:
        log.warning("hosting %s: %s failed (%s %s), retried later", target.username, step, exc.code, exc.detail)
        error = exc
        return do(deps, account.data["service_id"], lambda a: _failed(a, step, error, deps.now()))
    return do(deps, account.data["service_id"], lambda a: a.done(step) if a.next_step(deps.now()) == step else [])


def _failed(account: HostingAccount, step: str, exc: ServerError, now: dt.datetime) -> list:
    return account.failed(step, exc.code, exc.temporary, now) if account.next_step(now) == step else []


def retry_due(deps: Deps) -> dict[str, int]:
    """Converge every account with a step waiting whose time has come."""
    now = deps.now()
    waiting = [v.id for v in HostingView.objects(due="yes", retry_at=None).only("id")]
    waiting += [v.id for v in HostingView.objects(due="yes", retry_at__lte=iso(now)).only("id")]  # ISO text sorts
    taken = [service_id for service_id in waiting if load(deps, service_id).due(now)]
    settled = 0
    for service_id in taken:
        try:
            settled += not converge(deps, service_id).due(deps.now())
        except Exception:
            log.exception("hosting %s: converge failed; the next run retries", service_id)
    return {"waiting": len(waiting), "taken": len(taken), "settled": settled}


def state_of(deps: Deps, service_id: str) -> dict[str, Any]:
    account = load(deps, service_id)
    return {"state": account.state, "attempts": account.attempts, "next_step": account.next_step(deps.now())}
