"""What the notifications service publishes: the e-mail history (stream `mailbox-<account_id>`)
and newsletters (stream `newsletter-<newsletter_id>`, requested by staff: meta.actor)."""

from __future__ import annotations

from typing import Literal

from kernel.contracts import MAIL_CATEGORIES, NOTIFICATIONS
from kernel.contracts.base import Contract, by_type

SOURCE = NOTIFICATIONS
MailCategory = Literal[MAIL_CATEGORIES]  # type: ignore[valid-type]


class MailSent(Contract):
    """One mail as sent (a contact's link token in it blanked out); `source_event_id` is the event
    that caused it."""

    TYPE = "mail_sent"
    account_id: str
    category: MailCategory
    template: str
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    source_event_id: str | None


class NewsletterRequested(Contract):
    TYPE = "newsletter_requested"
    newsletter_id: str
    subject_pl: str
    body_pl: str
    subject_en: str
    body_en: str


class NewsletterDelivered(Contract):
    TYPE = "newsletter_delivered"
    newsletter_id: str
    recipients: int


EVENTS = by_type(MailSent, NewsletterRequested, NewsletterDelivered)
