"""Support mails: staff answers to the customer, new tickets and customer replies to staff, news.

- Staff reply -> the customer, category "support" (their choice is honoured).
  Internal notes are separate events (ticket_note_added) and are never mailed.
- New ticket / customer reply -> the staff address (SUPPORT_STAFF_EMAIL); not kept
  in any customer's e-mail history.
- News published -> customers in the news item's language. Accounts has no "news"
  notification category; the closest is the mailing-list opt-in ("news, information
  and offers"), so only customers who opted in get it, with the unsubscribe link.
  A news item for given plans goes only to customers holding one of them.
  Scheduled news (published_at in the future) is not mailed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kernel import settings
from kernel.contracts.support import NewsPublished, TicketOpened, TicketReplied
from kernel.events import Event
from services.notifications import mailer
from services.notifications.app import Deps
from services.notifications.app.mails import mail, target

log = logging.getLogger(__name__)
STAFF_LANGUAGE = "pl"


def _ticket_context(p: TicketOpened | TicketReplied) -> dict[str, Any]:
    return {"number": p.number, "subject": p.subject, "ticket_id": p.ticket_id, "message": p.message,
            "attachments": [a.filename for a in p.attachments]}  # fmt: skip


def ticket_replied(deps: Deps, event: Event) -> None:
    p: TicketReplied = event.payload
    if p.by == "staff":
        owner = target(deps, event)
        context = {**_ticket_context(p), "first_name": owner["first_name"]}
        mail(deps, event, owner, "support", "ticket_replied", context)
    else:
        _mail_staff("ticket_customer_replied", {**_ticket_context(p), "reopened": p.reopened})


def ticket_opened(deps: Deps, event: Event) -> None:
    p: TicketOpened = event.payload
    context = {**_ticket_context(p), "department": p.department, "priority": p.priority}
    _mail_staff("ticket_opened_staff", context)


def news_published(deps: Deps, event: Event) -> None:
    p: NewsPublished = event.payload
    published_at = dt.datetime.fromisoformat(p.published_at.rstrip("Z"))
    if published_at > deps.now() + dt.timedelta(minutes=5):
        log.info("news %s is scheduled for %s: not mailed", p.news_id, p.published_at)
        return
    holders = set(deps.remote("support", "accounts_with_plans", p.concerns_plans)) if p.concerns_plans else None
    for person in deps.remote("accounts", "mailing_list_recipients"):
        if person["language"] != p.language or (holders is not None and person["account_id"] not in holders):
            continue
        # one marker per recipient: a retried delivery does not mail anyone twice
        if not deps.events.first_time(f"news_mail:{person['account_id']}", event.event_id):
            continue
        try:
            _mail_news(deps, event, person)
        except Exception:
            deps.events.forget(f"news_mail:{person['account_id']}", event.event_id)
            raise


def _mail_news(deps: Deps, event: Event, person: dict[str, Any]) -> None:
    p: NewsPublished = event.payload
    owner = {"account_id": person["account_id"], "email": person["email"], "language": person["language"],
             "first_name": person["first_name"], "notification_preferences": {}, "contacts": []}  # fmt: skip
    context = {"first_name": person["first_name"], "title": p.title, "body": p.body, "news_id": p.news_id,
               "unsubscribe_url": f"{settings.PUBLIC_URL}/unsubscribe/{person['unsubscribe_token']}"}  # fmt: skip
    mail(deps, event, owner, "news", "news_published", context, language=p.language)


def _mail_staff(template: str, context: dict[str, Any]) -> None:
    address = settings.SUPPORT_STAFF_EMAIL
    if address:
        mailer.send(address, mailer.render(template, STAFF_LANGUAGE, context))
