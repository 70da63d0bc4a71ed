"""The events the notifications service publishes, as typed contracts (one pydantic model per event type,
with its VERSION). They are defined in kernel.contracts.notifications, where every service can import them;
this module is the notifications service's own place to look. A new event type is declared there."""

from kernel.contracts.notifications import (
    EVENTS,
    SOURCE,
    MailSent,
    NewsletterDelivered,
    NewsletterRequested,
)

__all__ = [
    "EVENTS",
    "SOURCE",
    "MailSent",
    "NewsletterRequested",
    "NewsletterDelivered",
]
