"""Notifications: listens to everyone's events and mails the customer in their language."""

from __future__ import annotations

import logging
from typing import Any

from nameko.rpc import RpcProxy, rpc

from kernel.aggregate import Aggregate, execute
from kernel.errors import NotFound
from kernel.events import Event, NewEvent, command_meta
from kernel.service import EventSourcedService, consumes
from services.notifications import mailer
from services.notifications.billing_mails import BillingMails
from services.notifications.projections import PROJECTIONS, SentMail

log = logging.getLogger(__name__)
# Mail a customer cannot switch off: account security and access.
MANDATORY = frozenset({"security"})


def mailbox_stream(account_id: str) -> str:
    return f"mailbox-{account_id}"


class NotificationsService(BillingMails, EventSourcedService):
    """Account mails live here; each other area's mails are a mixin in its own
    module (e.g. billing_mails.BillingMails) added to this class's bases and
    built on `_target` and `_mail`."""

    name = "notifications"
    projections = PROJECTIONS

    accounts = RpcProxy("accounts")

    # --- account events -----------------------------------------------------
    @consumes("accounts", "email_verification_requested")
    def on_verification_requested(self, event: Event) -> None:
        target = self._target(event)
        context = {"first_name": target["first_name"], "email": event.data["email"], "token": event.data["token"]}
        self._mail(event, target, "security", "verify_email", context, to=event.data["email"],
                   language=event.data.get("language"))  # fmt: skip

    @consumes("accounts", "email_verified")
    def on_email_verified(self, event: Event) -> None:
        target = self._target(event)
        self._mail(event, target, "security", "welcome", {"first_name": target["first_name"]})

    @consumes("accounts", "password_reset_requested")
    def on_password_reset_requested(self, event: Event) -> None:
        target = self._target(event)
        self._mail(event, target, "security", "password_reset", {"token": event.data["token"]})

    @consumes("accounts", "email_changed")
    def on_email_changed(self, event: Event) -> None:
        target = self._target(event)
        context = {"old_email": event.data["old_email"], "email": event.data["email"]}
        self._mail(event, target, "security", "email_changed", context, to=event.data["old_email"])

    # --- queries ------------------------------------------------------------
    @rpc
    def list_mails(self, account_id: str, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        mails = SentMail.objects(account_id=account_id).order_by("-sent_at")
        page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
        items = [m.summary() for m in mails.skip((page - 1) * per_page).limit(per_page)]
        return {"items": items, "total": mails.count(), "page": page, "per_page": per_page}

    @rpc
    def get_mail(self, account_id: str, mail_id: str) -> dict[str, Any]:
        mail = SentMail.objects(id=mail_id, account_id=account_id).first()
        if not mail:
            raise NotFound("mail")
        return {**mail.summary(), "text": mail.text, "html": mail.html}

    # --- helpers ------------------------------------------------------------
    def _target(self, event: Event) -> dict[str, Any]:
        account_id = event.data.get("account_id") or event.stream_id.removeprefix("account-")
        target = self.accounts.get_notification_target(account_id)
        if not target:
            raise NotFound("account")
        return target

    def _mail(self, event: Event, target: dict, category: str, template: str, context: dict,
              to: str | None = None, language: str | None = None) -> None:  # fmt: skip
        preferences = target.get("notification_preferences") or {}
        if category not in MANDATORY and not preferences.get(category, True):
            log.info("not sending %s to %s: %s mail switched off", template, target["account_id"], category)
            return
        rendered = mailer.render(template, language or target.get("language", "pl"), context)
        address = to or target["email"]
        message_id = mailer.send(address, rendered)
        data = {
            "account_id": target["account_id"], "category": category, "template": template, "to": address,
            "subject": rendered.subject, "text": rendered.text, "html": rendered.html, "message_id": message_id,
            "source_event_id": event.event_id,
        }  # fmt: skip
        meta = command_meta({"causation_id": event.event_id, "correlation_id": event.meta.get("correlation_id")})
        # several consumers may write one mailbox at once: execute retries on a conflict
        execute(
            self.events, Aggregate, mailbox_stream(target["account_id"]), lambda _: [NewEvent("mail_sent", data)], meta
        )
