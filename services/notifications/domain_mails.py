"""Domain mails (category "domains", honouring the customer's choice): registered, registration
failed, transferred in or rejected, and expired (grace period and redemption: still renewable).

A temporary registry failure is retried by the domains timer; only its first occurrence is mailed,
so a registry outage does not mail the customer on every retry.
"""

from __future__ import annotations

from kernel.contracts import domains
from kernel.events import Event
from kernel.service import consumes


class DomainMails:
    def _domain_mail(self, event: Event, template: str, **extra) -> None:
        p: domains.DomainEvent = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "name": p.unicode_name or p.name, "domain_id": p.domain_id,
                   "expires_at": (getattr(p, "expires_at", None) or "")[:10], **extra}  # fmt: skip
        self._mail(event, target, "domains", template, context)

    @consumes("domains", "domain_registered")
    def on_domain_registered(self, event: Event) -> None:
        self._domain_mail(event, "domain_registered")

    @consumes("domains", "domain_registration_failed")
    def on_domain_registration_failed(self, event: Event) -> None:
        p: domains.DomainRegistrationFailed = event.payload
        if p.temporary and p.attempts > 1:
            return
        self._domain_mail(event, "domain_registration_failed", temporary=p.temporary)

    @consumes("domains", "domain_transferred_in")
    def on_domain_transferred_in(self, event: Event) -> None:
        self._domain_mail(event, "domain_transferred_in")

    @consumes("domains", "domain_transfer_rejected")
    def on_domain_transfer_rejected(self, event: Event) -> None:
        wrong_code = event.payload.reason == "domains_invalid_epp_code"
        self._domain_mail(event, "domain_transfer_rejected", wrong_code=wrong_code)

    @consumes("domains", "domain_expired")
    def on_domain_expired(self, event: Event) -> None:
        status = event.payload.status
        if status in ("grace_period", "redemption"):
            self._domain_mail(event, "domain_expired", redemption=status == "redemption")
