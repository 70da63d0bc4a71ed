"""Notifications: listens to everyone's events and mails the customer in their language."""

from __future__ import annotations

import logging
from typing import Any

from kernel import contracts, settings
from kernel.aggregate import Aggregate, execute
from kernel.caller import STAFF, ServiceRpc, rpc
from kernel.contracts.accounts import (
    ContactInvited,
    ContactPasswordResetRequested,
    EmailChanged,
    EmailVerificationRequested,
    RegistrationAttempted,
)
from kernel.contracts.notifications import NewsletterRequested
from kernel.errors import Invalid, NotFound
from kernel.events import Event, NewEvent, command_meta, new_id
from kernel.service import EventSourcedService, consumes
from services.notifications import mailer
from services.notifications.billing_mails import BillingMails
from services.notifications.domain_mails import DomainMails
from services.notifications.projections import PROJECTIONS, SentMail
from services.notifications.support_mails import SupportMails

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


def newsletter_stream(newsletter_id: str) -> str:
    return f"newsletter-{newsletter_id}"


class NotificationsService(BillingMails, DomainMails, SupportMails, EventSourcedService):
    """Account mails live here; each other area's mails are a mixin in its own
    module (e.g. billing_mails.BillingMails) added to this class's bases and
    built on `_target` and `_mail`."""

    name = "notifications"
    projections = PROJECTIONS

    accounts = ServiceRpc("accounts")

    # --- account events -----------------------------------------------------
    @consumes("accounts", "email_verification_requested")
    def on_verification_requested(self, event: Event) -> None:
        p: EmailVerificationRequested = event.payload
        target = self._target(event)
        context = {"first_name": target["first_name"], "email": p.email, "token": p.token}
        self._mail(event, target, "security", "verify_email", context, to=p.email, language=p.language)

    @consumes("accounts", "email_verified")
    def on_email_verified(self, event: Event) -> None:
        self._security_notice(event, "welcome")

    @consumes("accounts", "password_reset_requested")
    def on_password_reset_requested(self, event: Event) -> None:
        target = self._target(event)
        self._mail(event, target, "security", "password_reset", {"token": event.payload.token})

    @consumes("accounts", "registration_attempted")
    def on_registration_attempted(self, event: Event) -> None:
        """Someone registered with an address already in use: the address is told (log in or reset),
        the person registering was answered as if it were new."""
        p: RegistrationAttempted = event.payload
        self._mail(event, self._target(event), "security", "account_exists", {"email": p.email}, to=p.email,
                   language=p.language)  # fmt: skip

    @consumes("accounts", "password_changed")
    def on_password_changed(self, event: Event) -> None:
        self._security_notice(event, "password_changed")

    @consumes("accounts", "email_changed")
    def on_email_changed(self, event: Event) -> None:
        p: EmailChanged = event.payload
        target = self._target(event)
        self._mail(event, target, "security", "email_changed", {"old_email": p.old_email, "email": p.email},
                   to=p.old_email)  # fmt: skip

    # --- queries ------------------------------------------------------------
    @rpc
    def list_mails(self, account_id: str, page: int = 1, per_page: int = 20,
                   category: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The account's sent mail, newest first, one page; `category` narrows it to one category."""
        if category is not None and category not in contracts.MAIL_CATEGORIES:
            raise Invalid("invalid_input", {"category": "unknown_category"})
        mails = SentMail.objects(account_id=account_id, **({"category": category} if category else {}))
        mails = mails.order_by("-sent_at")
        page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
        items = [m.summary() for m in mails.skip((page - 1) * per_page).limit(per_page)]
        return {"items": items, "total": mails.count(), "page": page, "per_page": per_page, "category": category}

    @rpc
    def get_mail(self, account_id: str, mail_id: str) -> dict[str, Any]:
        mail = SentMail.objects(id=mail_id, account_id=account_id).first()
        if not mail:
            raise NotFound("mail")
        return {**mail.summary(), "text": mail.text, "html": mail.html}

    # --- contacts and security ------------------------------------------------
    @consumes("accounts", "contact_invited")
    def on_contact_invited(self, event: Event) -> None:
        p: ContactInvited = event.payload
        target = self._target(event)
        context = {"first_name": p.first_name, "owner_name": p.owner_name, "token": p.token}
        self._mail(event, target, "security", "contact_invitation", context, to=p.email, language=p.language,
                   hide=p.token)  # fmt: skip

    @consumes("accounts", "contact_password_reset_requested")
    def on_contact_password_reset_requested(self, event: Event) -> None:
        p: ContactPasswordResetRequested = event.payload
        self._mail(event, self._target(event), "security", "password_reset", {"token": p.token}, to=p.email,
                   language=p.language, hide=p.token)  # fmt: skip

    @consumes("accounts", "two_factor_enabled")
    def on_two_factor_enabled(self, event: Event) -> None:
        self._security_notice(event, "two_factor_enabled")

    @consumes("accounts", "two_factor_disabled")
    def on_two_factor_disabled(self, event: Event) -> None:
        self._security_notice(event, "two_factor_disabled")

    def _security_notice(self, event: Event, template: str) -> None:
        target = self._target(event)
        self._mail(event, target, "security", template, {"first_name": target["first_name"]})

    # --- newsletter ---------------------------------------------------------
    @rpc(actors=STAFF)
    def send_newsletter(self, subject_pl: str, body_pl: str, subject_en: str, body_en: str,
                        ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        """Staff only. Queued at once as an event; `deliver_newsletter` then mails it."""
        texts = {"subject_pl": subject_pl, "body_pl": body_pl, "subject_en": subject_en, "body_en": body_en}
        errors = {k: "required" for k, val in texts.items() if not isinstance(val, str) or not val.strip()}
        subjects = {k: val for k, val in texts.items() if k.startswith("subject") and isinstance(val, str)}
        errors.update({k: "too_long" for k, val in subjects.items() if len(val) > 150 or "\n" in val or "\r" in val})
        if errors:
            raise Invalid("invalid_input", errors)
        newsletter_id = new_id()
        data = {"newsletter_id": newsletter_id, **{k: val.strip() for k, val in texts.items()}}
        execute(self.events, Aggregate, newsletter_stream(newsletter_id),
                lambda _: [NewEvent("newsletter_requested", data)], command_meta(ctx))  # fmt: skip
        return {"newsletter_id": newsletter_id}

    @consumes("notifications", "newsletter_requested")
    def deliver_newsletter(self, event: Event) -> None:
        """To every customer who opted in (asked now, so an unsubscribe since the request counts),
        each in their language, with a one-click unsubscribe link (also as List-Unsubscribe,
        RFC 8058). A redelivered event resumes: whoever already got it is skipped."""
        p: NewsletterRequested = event.payload
        meta = command_meta({"causation_id": event.event_id, "correlation_id": event.meta.get("correlation_id")},
                            source_event_id=event.event_id)  # fmt: skip
        recipients = self.accounts.mailing_list_recipients()
        for person in recipients:
            if SentMail.objects(account_id=person["account_id"], source_event_id=event.event_id).first():
                continue
            language = person["language"] if person["language"] in mailer.LANGUAGES else "pl"
            link = f"{settings.PUBLIC_URL}/unsubscribe/{person['unsubscribe_token']}"
            context = {"title": getattr(p, f"subject_{language}"), "body": getattr(p, f"body_{language}"),
                       "first_name": person["first_name"], "unsubscribe_url": link}  # fmt: skip
            headers = {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
            self._deliver(person["account_id"], "newsletter", "newsletter", person["email"],
                          mailer.render("newsletter", language, context), meta, headers)  # fmt: skip
        done = {"newsletter_id": p.newsletter_id, "recipients": len(recipients)}
        execute(self.events, Aggregate, newsletter_stream(p.newsletter_id),
                lambda _: [NewEvent("newsletter_delivered", done)], meta)  # fmt: skip

    @rpc(actors=STAFF)
    def newsletter_status(self, newsletter_id: str) -> dict[str, Any]:
        events = self.events.load(newsletter_stream(newsletter_id))
        if not events:
            raise NotFound("newsletter")
        delivered = next((e for e in events if e.type == "newsletter_delivered"), None)
        return {"newsletter_id": newsletter_id, "delivered": delivered is not None,
                "recipients": delivered.data["recipients"] if delivered else None}  # fmt: skip

    # --- helpers ------------------------------------------------------------
    def _target(self, event: Event) -> dict[str, Any]:
        """The owner of the account the event is about, with their contacts (and the
        mail categories each contact chose)."""
        account_id = event.data.get("account_id") or event.stream_id.removeprefix("account-")
        target = self.accounts.get_notification_target(account_id)
        if not target:
            raise NotFound("account")
        return target

    def _mail(self, event: Event, target: dict, category: str, template: str, context: dict,
              to: str | None = None, language: str | None = None, hide: str | None = None) -> None:  # fmt: skip
        """Mail in `category`: to the owner unless they switched the category off
        (mandatory categories always go), and to every contact who chose it. With
        `to`, a personal mail to that address only (verification, invitation);
        `hide`, a secret (a contact's link token) left out of the owner's e-mail history."""
        meta = command_meta({"causation_id": event.event_id, "correlation_id": event.meta.get("correlation_id")},
                            source_event_id=event.event_id)  # fmt: skip
        for address, lang, personal in _recipients(target, category, to, language):
            rendered = mailer.render(template, lang, {**context, **personal})
            self._deliver(target["account_id"], category, template, address, rendered, meta, hide=hide)

    def _deliver(self, account_id: str, category: str, template: str, address: str, rendered: mailer.RenderedMail,
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
        execute(self.events, Aggregate, mailbox_stream(account_id), lambda _: [NewEvent("mail_sent", data)], meta)


def _recipients(target: dict, category: str, to: str | None, language: str | None) -> list[tuple[str, str, dict]]:
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
