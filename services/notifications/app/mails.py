"""Who gets a mail and how it goes: the account's owner unless they switched the category off
(mandatory categories always go), every contact who chose it, or one personal address; each mail
sent once and kept in the account's e-mail history (a secret blanked out)."""

from __future__ import annotations

import logging
from typing import Any

from kernel.aggregate import Aggregate, execute
from kernel.errors import NotFound
from kernel.events import Event, NewEvent, command_meta
from services.notifications import mailer
from services.notifications.app import Deps

log = logging.getLogger(__name__)
# Mail a customer cannot switch off: account security and access, legal notices.
MANDATORY = frozenset({"security", "legal"})
# Security mail is about the owner's own access and never goes to a contact;
# a contact who chose "billing" also gets the legal invoice notices.
CONTACT_CATEGORY = {"security": "", "legal": "billing"}
# What the owner's e-mail history shows instead of a contact's own link token.
HIDDEN = "…"


def mailbox_stream(account_id: str) -> str:
    return f"mailbox-{account_id}"


def caused_by(event: Event) -> dict[str, Any]:
    """Meta of what is stored because of `event` (its mails, a newsletter's delivery)."""
    return command_meta({"causation_id": event.event_id, "correlation_id": event.meta.get("correlation_id")},
                        source_event_id=event.event_id)  # fmt: skip


def target(deps: Deps, event: Event) -> dict[str, Any]:
    """The owner of the account the event is about, with their contacts (and the mail categories
    each contact chose)."""
    account_id = event.data.get("account_id") or event.stream_id.removeprefix("account-")
    found = deps.remote("accounts", "get_notification_target", account_id)
    if not found:
        raise NotFound("account")
    return found


def mail(deps: Deps, event: Event, target: dict, category: str, template: str, context: dict,
         to: str | None = None, language: str | None = None, hide: str | None = None) -> None:  # fmt: skip
    """Mail in `category`: to the owner unless they switched the category off (mandatory categories
    always go), and to every contact who chose it. With `to`, a personal mail to that address only
    (verification, invitation); `hide`, a secret (a contact's link token) left out of the owner's
    e-mail history."""
    meta = caused_by(event)
    for address, lang, personal in recipients(target, category, to, language):
        rendered = mailer.render(template, lang, {**context, **personal})
        deliver(deps, target["account_id"], category, template, address, rendered, meta, hide=hide)


def deliver(deps: Deps, account_id: str, category: str, template: str, address: str, rendered: mailer.RenderedMail,
            meta: dict, headers: dict[str, str] | None = None, hide: str | None = None) -> None:  # fmt: skip
    """Send one mail and keep it in the account's e-mail history (with `hide` blanked out).
    An address with a control character or a line break is never mailed (logged instead)."""
    try:
        message_id = mailer.send(address, rendered, headers)
    except mailer.UnsafeAddress:
        log.warning("not mailing %s for account %s: unsafe recipient address %r", template, account_id, address)
        return
    kept = {"text": rendered.text, "html": rendered.html}
    if hide:
        kept = {part: body.replace(hide, HIDDEN) for part, body in kept.items()}
    data = {
        "account_id": account_id, "category": category, "template": template, "to": address,
        "subject": rendered.subject, **kept, "message_id": message_id,
        "source_event_id": meta.get("source_event_id"),
    }  # fmt: skip
    # several consumers may write one mailbox at once: execute retries on a conflict
    execute(deps.events, Aggregate, mailbox_stream(account_id), lambda _: [NewEvent("mail_sent", data)], meta)


def recipients(target: dict, category: str, to: str | None, language: str | None) -> list[tuple[str, str, dict]]:
    """(address, language, context overrides) for each person who gets this mail."""
    owner_language = language or target.get("language", "pl")
    if to:
        return [(to, owner_language, {})]
    out = []
    preferences = target.get("notification_preferences") or {}
    if category in MANDATORY or preferences.get(category, True):
        out.append((target["email"], owner_language, {}))
    else:
        log.info("not mailing %s: %s mail switched off", target["account_id"], category)
    wanted = CONTACT_CATEGORY.get(category, category)
    for contact in target.get("contacts") or []:
        if wanted in contact.get("categories", []):
            out.append((contact["email"], contact.get("language", "pl"), {"first_name": contact["first_name"]}))
    return out
