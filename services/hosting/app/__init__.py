"""The hosting service's application layer: billing's events become what is wanted of an account
(`provisioning`), the steps are taken on the server through its module (`provisioning.converge`),
the customer reads and acts on the account (`access`), staff see what keeps failing (`staff`).
Each function takes what it needs in `Deps`; `services.hosting.service` only exposes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel import clock
from kernel.aggregate import execute
from kernel.errors import NotFound
from kernel.events import command_meta
from services.hosting.domain import HostingAccount, hosting_stream
from services.hosting.modules import HostingAccountSpec, ServerModule
from services.hosting.projections import HostingView
from services.hosting.servers import Server

SYSTEM = {"actor": {"type": "system", "id": "hosting"}}


@dataclass(frozen=True)
class Deps:
    """`events` (load/append), `server` (the configured server: its module and the addresses shown to
    customers), `now()`."""

    events: Any
    server: Server = field(default_factory=Server.configured)
    now: Callable[[], dt.datetime] = clock.now

    @property
    def module(self) -> ServerModule:
        return self.server.module()


def load(deps: Deps, service_id: str) -> HostingAccount:
    return HostingAccount.load(deps.events, hosting_stream(service_id))


def do(
    deps: Deps, service_id: str, decide: Callable[[HostingAccount], list], ctx: dict | None = None
) -> HostingAccount:
    account, _ = execute(deps.events, HostingAccount, hosting_stream(service_id), decide, command_meta(ctx or SYSTEM))
    return account


def own(account_id: str, service_id: Any) -> HostingView:
    """The account's hosting account; NotFound for another's or for a service with none."""
    view = HostingView.objects(id=service_id, account_id=account_id).first() if isinstance(service_id, str) else None
    if not view:
        raise NotFound("hosting_account")
    return view


def spec(account: HostingAccount) -> HostingAccountSpec:
    d = account.data
    return HostingAccountSpec(
        username=d["username"], domain=d["domain"], plan=account.plan, limits=dict(account.limits)
    )
