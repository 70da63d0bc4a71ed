"""Hosting's entrypoints (issue #21): billing's hosting service events become a real account on a
web server (create, suspend, unsuspend, a plan change's limits, remove after
HOSTING_TERMINATE_DELAY_HOURS), the customer's access details and new password, staff's list of
accounts whose steps keep failing. Each method hands its arguments to the application layer
(`services.hosting.app`)."""

from __future__ import annotations

import logging
import os
from typing import Any

from nameko.timer import timer

from kernel.caller import STAFF, STAFF_OR_SYSTEM, rpc
from kernel.contracts import BILLING
from kernel.events import Event
from kernel.service import EventSourcedService, consumes
from services.hosting import app
from services.hosting.app import access, provisioning
from services.hosting.domain import ALERT_ATTEMPTS
from services.hosting.projections import PROJECTIONS

log = logging.getLogger(__name__)
RETRY_SECONDS = float(os.environ.get("HOSTING_RETRY_SECONDS", "10"))


class HostingService(EventSourcedService):
    name = "hosting"
    projections = PROJECTIONS

    @property
    def deps(self) -> app.Deps:
        return app.Deps(self.events)

    # ------------------------------------------------------------------ billing's services
    @consumes(BILLING, "service_activated")
    def on_service_activated(self, event: Event) -> None:
        provisioning.activated(self.deps, event)

    @consumes(BILLING, "service_suspended")
    def on_service_suspended(self, event: Event) -> None:
        provisioning.suspended(self.deps, event)

    @consumes(BILLING, "service_unsuspended")
    def on_service_unsuspended(self, event: Event) -> None:
        provisioning.unsuspended(self.deps, event)

    @consumes(BILLING, "service_plan_changed")
    def on_service_plan_changed(self, event: Event) -> None:
        provisioning.plan_changed(self.deps, event)

    @consumes(BILLING, "service_terminated")
    def on_service_terminated(self, event: Event) -> None:
        provisioning.ended(self.deps, event, "terminated")

    @consumes(BILLING, "service_cancelled")
    def on_service_cancelled(self, event: Event) -> None:
        provisioning.ended(self.deps, event, "cancelled")

    # ------------------------------------------------------------------ retries
    @timer(interval=RETRY_SECONDS)
    def retry_timer(self) -> None:
        try:
            provisioning.retry_due(self.deps)
        except Exception:
            log.exception("hosting retries failed; the next run tries again")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_retries(self) -> dict[str, int]:
        return provisioning.retry_due(self.deps)

    # ------------------------------------------------------------------ the customer
    @rpc
    def get_access(self, account_id: str, service_id: str) -> dict[str, Any]:
        return access.access(self.deps, account_id, service_id)

    @rpc
    def set_password(self, account_id: str, service_id: str, password: str, ctx: dict | None = None) -> dict[str, Any]:
        return access.set_password(self.deps, account_id, service_id, password, ctx)

    # ------------------------------------------------------------------ staff
    @rpc(actors=STAFF)
    def list_failures(self, min_attempts: int = ALERT_ATTEMPTS) -> list[dict[str, Any]]:
        return access.list_failures(min_attempts)

    @rpc(actors=STAFF_OR_SYSTEM)
    def get_state(self, service_id: str) -> dict[str, Any]:
        return provisioning.state_of(self.deps, service_id)

    @rpc(actors=STAFF)
    def change_plan(self, service_id: str, plan: str, ctx: dict | None = None) -> dict[str, Any]:
        """Staff move an account to another plan's limits (billing's own plan changes arrive as
        `service_plan_changed`; the next of those sets the plan billing sells again)."""
        provisioning.change_plan(self.deps, service_id, plan, ctx)
        return provisioning.state_of(self.deps, service_id)
