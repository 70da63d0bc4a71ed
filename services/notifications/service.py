"""Notifications' entrypoints: consumers of everyone's events that mail the customer in their
language, the newsletter, and the account's e-mail history. Each hands the event or its arguments
to the application layer (`services.notifications.app`: one module per mail family)."""

from __future__ import annotations

from typing import Any

from kernel.app import Deps, Remote
from kernel.caller import STAFF, ServiceRpc, rpc
from kernel.events import Event
from kernel.service import EventSourcedService, consumes
from services.notifications.app import (
    account_mails,
    billing_mails,
    domain_mails,
    hosting_mails,
    mailbox,
    newsletter,
    support_mails,
)
from services.notifications.projections import PROJECTIONS

# Seconds a call to accounts or support may take (as long as a ServiceRpc waits by default).
RPC_TIMEOUT = 30


class NotificationsService(EventSourcedService):
    name = "notifications"
    projections = PROJECTIONS

    accounts = ServiceRpc("accounts")
    support = ServiceRpc("support")

    @property
    def deps(self) -> Deps:
        return Deps(self.events, Remote({"accounts": self.accounts, "support": self.support}, RPC_TIMEOUT))

    # --- account events -----------------------------------------------------
    @consumes("accounts", "email_verification_requested")
    def on_verification_requested(self, event: Event) -> None:
        account_mails.verification_requested(self.deps, event)

    @consumes("accounts", "email_verified")
    def on_email_verified(self, event: Event) -> None:
        account_mails.security_notice(self.deps, event, "welcome")

    @consumes("accounts", "password_reset_requested")
    def on_password_reset_requested(self, event: Event) -> None:
        account_mails.password_reset_requested(self.deps, event)

    @consumes("accounts", "registration_attempted")
    def on_registration_attempted(self, event: Event) -> None:
        account_mails.registration_attempted(self.deps, event)

    @consumes("accounts", "password_changed")
    def on_password_changed(self, event: Event) -> None:
        account_mails.security_notice(self.deps, event, "password_changed")

    @consumes("accounts", "email_changed")
    def on_email_changed(self, event: Event) -> None:
        account_mails.email_changed(self.deps, event)

    @consumes("accounts", "contact_invited")
    def on_contact_invited(self, event: Event) -> None:
        account_mails.contact_invited(self.deps, event)

    @consumes("accounts", "contact_password_reset_requested")
    def on_contact_password_reset_requested(self, event: Event) -> None:
        account_mails.contact_password_reset_requested(self.deps, event)

    @consumes("accounts", "two_factor_enabled")
    def on_two_factor_enabled(self, event: Event) -> None:
        account_mails.security_notice(self.deps, event, "two_factor_enabled")

    @consumes("accounts", "two_factor_disabled")
    def on_two_factor_disabled(self, event: Event) -> None:
        account_mails.security_notice(self.deps, event, "two_factor_disabled")

    # --- billing events ------------------------------------------------------
    @consumes("billing", "invoice_issued")
    def on_invoice_issued(self, event: Event) -> None:
        billing_mails.invoice_issued(self.deps, event)

    @consumes("billing", "invoice_paid")
    def on_invoice_paid(self, event: Event) -> None:
        billing_mails.invoice_paid(self.deps, event)

    @consumes("billing", "invoice_overdue_reminder")
    def on_invoice_overdue_reminder(self, event: Event) -> None:
        billing_mails.invoice_overdue_reminder(self.deps, event)

    @consumes("billing", "invoice_refunded")
    def on_invoice_refunded(self, event: Event) -> None:
        billing_mails.invoice_refunded(self.deps, event)

    @consumes("billing", "auto_charge_failed")
    def on_auto_charge_failed(self, event: Event) -> None:
        billing_mails.auto_charge_failed(self.deps, event)

    @consumes("billing", "card_expiring")
    def on_card_expiring(self, event: Event) -> None:
        billing_mails.card_expiring(self.deps, event)

    @consumes("billing", "service_suspended")
    def on_service_suspended(self, event: Event) -> None:
        billing_mails.service_mail(self.deps, event, "billing_service_suspended")

    @consumes("billing", "service_unsuspended")
    def on_service_unsuspended(self, event: Event) -> None:
        billing_mails.service_mail(self.deps, event, "billing_service_unsuspended")

    @consumes("billing", "service_terminated")
    def on_service_terminated(self, event: Event) -> None:
        billing_mails.service_mail(self.deps, event, "billing_service_terminated", category="legal")

    @consumes("billing", "service_withdrawn")
    def on_service_withdrawn(self, event: Event) -> None:  # the acknowledgement the withdrawal right asks for
        billing_mails.service_withdrawn(self.deps, event)

    # --- hosting events (issue #21) ---------------------------------------------
    @consumes("hosting", "hosting_account_created")
    def on_hosting_account_created(self, event: Event) -> None:
        hosting_mails.account_created(self.deps, event)

    # --- domain events -------------------------------------------------------
    @consumes("domains", "domain_registered")
    def on_domain_registered(self, event: Event) -> None:
        domain_mails.domain_mail(self.deps, event, "domain_registered")

    @consumes("domains", "domain_registration_failed")
    def on_domain_registration_failed(self, event: Event) -> None:
        domain_mails.registration_failed(self.deps, event)

    @consumes("domains", "domain_transferred_in")
    def on_domain_transferred_in(self, event: Event) -> None:
        domain_mails.domain_mail(self.deps, event, "domain_transferred_in")

    @consumes("domains", "domain_transfer_rejected")
    def on_domain_transfer_rejected(self, event: Event) -> None:
        domain_mails.transfer_rejected(self.deps, event)

    @consumes("domains", "domain_expired")
    def on_domain_expired(self, event: Event) -> None:
        domain_mails.expired(self.deps, event)

    # --- support events ------------------------------------------------------
    @consumes("support", "ticket_replied")
    def on_ticket_replied(self, event: Event) -> None:
        support_mails.ticket_replied(self.deps, event)

    @consumes("support", "ticket_opened")
    def on_ticket_opened(self, event: Event) -> None:
        support_mails.ticket_opened(self.deps, event)

    @consumes("support", "news_published")
    def on_news_published(self, event: Event) -> None:
        support_mails.news_published(self.deps, event)

    # --- newsletter ---------------------------------------------------------
    @rpc(actors=STAFF)
    def send_newsletter(self, subject_pl: str, body_pl: str, subject_en: str, body_en: str,
                        ctx: dict | None = None) -> dict[str, str]:  # fmt: skip
        texts = {"subject_pl": subject_pl, "body_pl": body_pl, "subject_en": subject_en, "body_en": body_en}
        return newsletter.request(self.deps, texts, ctx)

    @consumes("notifications", "newsletter_requested")
    def deliver_newsletter(self, event: Event) -> None:
        newsletter.deliver_all(self.deps, event)

    @rpc(actors=STAFF)
    def newsletter_status(self, newsletter_id: str) -> dict[str, Any]:
        return newsletter.status(self.deps, newsletter_id)

    # --- the account's e-mail history -----------------------------------------
    @rpc
    def list_mails(self, account_id: str, page: int = 1, per_page: int = 20,
                   category: str | None = None) -> dict[str, Any]:  # fmt: skip
        return mailbox.list_page(account_id, page, per_page, category)

    @rpc
    def get_mail(self, account_id: str, mail_id: str) -> dict[str, Any]:
        return mailbox.get(account_id, mail_id)
