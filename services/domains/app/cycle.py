"""The domains cycle: registrations to retry, transfers to poll, paid renewals the registry has not
taken yet, domains another registrar took, renewal invoices to ask billing for, expiry."""

from __future__ import annotations

import datetime as dt
import logging
import time

import eventlet

from kernel.aggregate import execute
from kernel.errors import CommandError
from kernel.events import command_meta
from services.domains import registrar
from services.domains.app import SYSTEM, Deps, do, load, orders
from services.domains.domain import HELD, STALE_REQUEST, Domain, Policy, domain_stream
from services.domains.projections import DomainView

log = logging.getLogger(__name__)
Asked = list[tuple[str, str]]  # (domain id, expiry) whose renewal invoice billing was asked for


def run(deps: Deps) -> tuple[dict[str, int], Asked]:
    """Safe to run twice or concurrently: every step is decided by the aggregate from its state,
    registry calls carry the operation's ref, a renewal invoice is asked for once per expiry."""
    now, policy = deps.now(), Policy.from_env()
    stats = {"domains": 0, "retried": 0, "renewal_invoices": 0, "events": 0, "errors": 0}
    asked: Asked = []
    candidates = DomainView.objects(status__in=["pending_registration", "pending_transfer", *HELD]).only("id")
    for view in candidates:
        stats["domains"] += 1
        try:
            run_domain(deps, view.id, now, policy, stats, asked)
        except (CommandError, registrar.RegistrarError) as exc:
            stats["errors"] += 1
            log.warning("domains cycle for %s: %r", view.id, exc)
    return stats, asked


def run_domain(deps: Deps, domain_id: str, now: dt.datetime, policy: Policy, stats: dict[str, int],
               asked: Asked) -> None:  # fmt: skip
    domain = load(deps, domain_id)
    if domain.due_for_retry(now):
        stats["retried"] += 1
        orders.submit(deps, domain_id)
    elif domain.status == "pending_transfer" and not domain.failure:
        orders.poll_transfer(deps, domain)
    stale = now - STALE_REQUEST  # newer ones are still with the worker that stored them
    if domain.pending_renewals(stale):
        orders.renew_pending(deps, domain_id, stale)
        domain = load(deps, domain_id)
    if domain.status in HELD and not deps.registry("still_ours", domain.data["name"]):
        do(deps, domain_id, lambda d: d.transferred_away())
        return
    _, stored = execute(deps.events, Domain, domain_stream(domain_id),
                        lambda d: d.ask_renewal_invoice(now, policy) + d.expire(now, policy), command_meta(SYSTEM))  # fmt: skip
    for event in stored:
        if event.type == "domain_renewal_due":
            stats["renewal_invoices"] += 1
            asked.append((domain_id, event.data["for_expiry"]))
    stats["events"] += len(stored)


def wait_for_renewal_invoices(deps: Deps, asked: Asked, seconds: float) -> None:
    """Until billing's `invoice_issued` has recorded each asked-for invoice, or `seconds` are over (the
    event stays queued for billing; the invoice is recorded whenever it comes)."""
    deadline = time.monotonic() + seconds
    waiting = list(asked)
    while waiting and time.monotonic() < deadline:
        waiting = [(d, e) for d, e in waiting if e not in load(deps, d).renewal_invoices]
        if waiting:
            eventlet.sleep(0.05)
    if waiting:
        log.warning("billing has not reported the renewal invoices of %s yet", [d for d, _ in waiting])
