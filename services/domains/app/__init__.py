"""The domains service's application layer: one module per concern (quotes, orders and the registry,
the customer's management, the cycle), each of plain functions.

A function takes what it needs in `Deps` (the event store, the registry caller, what to do once a
domain is held here, the clock), decides through the Domain aggregate (`services.domains.domain`),
reads the read models (`services.domains.projections`) and returns plain data;
`services.domains.service` only exposes them as Nameko entrypoints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import eventlet

from kernel import clock
from kernel.aggregate import execute
from kernel.errors import NotFound
from kernel.events import command_meta
from services.domains import registrar
from services.domains.domain import Domain, domain_stream
from services.domains.projections import DomainView

SYSTEM = {"actor": {"type": "system", "id": "domains"}}


@dataclass(frozen=True)
class Deps:
    """`events` (load/append), `registry(method, *args)` (the registrar, a silent one a temporary
    RegistrarError), `on_held(domain)` (a domain just registered or transferred in: its DNS zone),
    `now()`."""

    events: Any
    registry: Callable[..., Any]
    on_held: Callable[[Domain], Domain] = lambda domain: domain
    now: Callable[[], dt.datetime] = clock.now


def registry_caller(timeout: float) -> Callable[..., Any]:
    """Calls to the configured registrar, each given `timeout` seconds."""

    def call(method: str, *args: Any) -> Any:
        try:
            with eventlet.Timeout(timeout):
                return getattr(registrar.registrar(), method)(*args)
        except eventlet.Timeout:
            raise registrar.RegistrarError("domains_registry_timeout", temporary=True) from None

    return call


def load(deps: Deps, domain_id: str) -> Domain:
    return Domain.load(deps.events, domain_stream(domain_id))


def do(deps: Deps, domain_id: str, decide: Callable[[Domain], list], ctx: dict | None = None) -> Domain:
    """Decide on the domain's current state and store what was decided (as the system unless `ctx`)."""
    domain, _ = execute(deps.events, Domain, domain_stream(domain_id), decide, command_meta(ctx or SYSTEM))
    return domain


def own(account_id: str, domain_id: Any) -> DomainView:
    """The account's domain; NotFound for another account's."""
    view = DomainView.objects(id=domain_id, account_id=account_id).first() if isinstance(domain_id, str) else None
    if not view:
        raise NotFound("domain")
    return view
