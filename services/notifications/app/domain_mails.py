"""Domain mails (category "domains", honouring the customer's choice): registered, registration
failed, transferred in or rejected, and expired (grace period and redemption: still renewable).

A temporary registry failure is retried by the domains timer; only its first occurrence is mailed,
so a registry outage does not mail the customer on every retry.
"""

from __future__ import annotations

from kernel.contracts import domains
from kernel.events import Event
from services.notifications.app import Deps
from services.notifications.app.mails import mail, target


def domain_mail(deps: Deps, event: Event, template: str, **extra) -> None:
    p: domains.DomainEvent = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "name": p.unicode_name or p.name, "domain_id": p.domain_id,
               "expires_at": (getattr(p, "expires_at", None) or "")[:10], **extra}  # fmt: skip
    mail(deps, event, owner, "domains", template, context)


def registration_failed(deps: Deps, event: Event) -> None:
    p: domains.DomainRegistrationFailed = event.payload
    if p.temporary and p.attempts > 1:
        return
    domain_mail(deps, event, "domain_registration_failed", temporary=p.temporary)


def transfer_rejected(deps: Deps, event: Event) -> None:
    wrong_code = event.payload.reason == "domains_invalid_epp_code"
    domain_mail(deps, event, "domain_transfer_rejected", wrong_code=wrong_code)


def expired(deps: Deps, event: Event) -> None:
    """Mailed while still renewable: in the grace period or in redemption."""
    status = event.payload.status
    if status in ("grace_period", "redemption"):
        domain_mail(deps, event, "domain_expired", redemption=status == "redemption")
