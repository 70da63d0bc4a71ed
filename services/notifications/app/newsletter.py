"""The newsletter: staff queue it (an event), the consumer mails every customer who opted in, each in
their language with a one-click unsubscribe link, and records that it was delivered."""

from __future__ import annotations

from typing import Any

from kernel import settings
from kernel.aggregate import Aggregate, execute
from kernel.contracts.notifications import NewsletterRequested
from kernel.errors import Invalid, NotFound
from kernel.events import Event, NewEvent, command_meta, new_id
from services.notifications import mailer
from services.notifications.app import Deps
from services.notifications.app.mails import caused_by, deliver
from services.notifications.projections import SentMail


def newsletter_stream(newsletter_id: str) -> str:
    return f"newsletter-{newsletter_id}"


def request(deps: Deps, texts: dict[str, Any], ctx: dict | None) -> dict[str, str]:
    """Queued at once as an event (`deliver` then mails it); every text required, subjects one short line."""
    errors = {k: "required" for k, val in texts.items() if not isinstance(val, str) or not val.strip()}
    subjects = {k: val for k, val in texts.items() if k.startswith("subject") and isinstance(val, str)}
    errors.update({k: "too_long" for k, val in subjects.items() if len(val) > 150 or "\n" in val or "\r" in val})
    if errors:
        raise Invalid("invalid_input", errors)
    newsletter_id = new_id()
    data = {"newsletter_id": newsletter_id, **{k: val.strip() for k, val in texts.items()}}
    execute(deps.events, Aggregate, newsletter_stream(newsletter_id),
            lambda _: [NewEvent("newsletter_requested", data)], command_meta(ctx))  # fmt: skip
    return {"newsletter_id": newsletter_id}


def deliver_all(deps: Deps, event: Event) -> None:
    """To every customer who opted in (asked now, so an unsubscribe since the request counts), each in
    their language, with a one-click unsubscribe link (also as List-Unsubscribe, RFC 8058). A
    redelivered event resumes: whoever already got it is skipped."""
    p: NewsletterRequested = event.payload
    meta = caused_by(event)
    recipients = deps.remote("accounts", "mailing_list_recipients")
    for person in recipients:
        if SentMail.objects(account_id=person["account_id"], source_event_id=event.event_id).first():
            continue
        language = person["language"] if person["language"] in mailer.LANGUAGES else "pl"
        link = f"{settings.PUBLIC_URL}/unsubscribe/{person['unsubscribe_token']}"
        context = {"title": getattr(p, f"subject_{language}"), "body": getattr(p, f"body_{language}"),
                   "first_name": person["first_name"], "unsubscribe_url": link}  # fmt: skip
        headers = {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        deliver(deps, person["account_id"], "newsletter", "newsletter", person["email"],
                mailer.render("newsletter", language, context), meta, headers)  # fmt: skip
    done = {"newsletter_id": p.newsletter_id, "recipients": len(recipients)}
    execute(deps.events, Aggregate, newsletter_stream(p.newsletter_id),
            lambda _: [NewEvent("newsletter_delivered", done)], meta)  # fmt: skip


def status(deps: Deps, newsletter_id: str) -> dict[str, Any]:
    events = deps.events.load(newsletter_stream(newsletter_id))
    if not events:
        raise NotFound("newsletter")
    delivered = next((e for e in events if e.type == "newsletter_delivered"), None)
    return {"newsletter_id": newsletter_id, "delivered": delivered is not None,
            "recipients": delivered.data["recipients"] if delivered else None}  # fmt: skip
