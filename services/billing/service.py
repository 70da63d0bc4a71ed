"""Billing's entrypoints: catalogue, offer banner, cart and checkout, invoices, payments, hosting
services, renewals and the billing cycle (seed sections 3-7). Each method hands its arguments to the
application layer (`services.billing.app`), which decides through `services.billing.domain`."""

from __future__ import annotations

import logging
import os
from typing import Any

from nameko.timer import timer

from kernel.caller import STAFF, STAFF_OR_SYSTEM, SYSTEM, ServiceRpc, rpc
from kernel.contracts import DOMAINS
from kernel.events import Event
from kernel.money import CURRENCY
from kernel.service import EventSourcedService, consumes
from services.billing import app, catalog, stripe_provider
from services.billing import cart as carts
from services.billing import payments as providers
from services.billing import providers as providers_registry
from services.billing.app import (
    cart,
    checkout,
    corrections,
    cycle,
    dashboard,
    export,
    invoices,
    offer,
    payments,
    renewals,
    services,
)
from services.billing.app import ksef as ksef_sender
from services.billing.projections import PROJECTIONS

log = logging.getLogger(__name__)
CYCLE_SECONDS = int(os.environ.get("BILLING_CYCLE_SECONDS", "300"))
KSEF_SECONDS = float(os.environ.get("KSEF_SEND_SECONDS", "10"))


class BillingService(EventSourcedService):
    name = "billing"
    projections = PROJECTIONS
    documents = [catalog.Plan, carts.Cart, providers.PaymentIntent, ksef_sender.KsefLease]

    accounts = ServiceRpc("accounts")
    domains = ServiceRpc("domains")
    demo_catalog = catalog.DemoCatalog()
    sandbox_guard = providers.SandboxGuard()  # refuses to start with the built-in webhook secret outside development
    stripe_guard = stripe_provider.StripeGuard()  # PAYMENT_PROVIDER=stripe needs its three keys
    documents = [*documents, stripe_provider.StripeCustomer, stripe_provider.StripeEvent]

    @property
    def deps(self) -> app.Deps:
        return app.Deps(self.events, app.Remote({"accounts": self.accounts, "domains": self.domains}))

    # ------------------------------------------------------------------ catalogue and offer banner
    @rpc(actors=STAFF_OR_SYSTEM)
    def seed_demo_catalog(self) -> dict[str, int]:
        return {"added": catalog.seed_demo_catalog()}

    @rpc
    def get_catalog(self, language: str = "pl") -> dict[str, Any]:
        return {"plans": catalog.get_catalog(language), "currency": CURRENCY}

    @rpc(actors=STAFF_OR_SYSTEM)
    def set_offer(self, title: str, text: str, link: str, starts_at: str, ends_at: str,
                  discount_code: str | None = None, discount_percent: int | None = None,
                  ctx: dict | None = None, title_en: str | None = None,
                  text_en: str | None = None) -> dict[str, Any]:  # fmt: skip
        """`title`/`text` in Polish; `title_en`/`text_en` the optional English banner (by keyword)."""
        fields = {"title": title, "text": text, "link": link, "starts_at": starts_at, "ends_at": ends_at,
                  "discount_code": discount_code, "discount_percent": discount_percent, "title_en": title_en,
                  "text_en": text_en}  # fmt: skip
        return offer.set_offer(self.deps, fields, ctx)

    @rpc
    def get_current_offer(self) -> dict[str, Any] | None:
        return offer.current(self.deps)

    # ------------------------------------------------------------------ cart and checkout
    @rpc
    def get_cart(self, account_id: str) -> dict[str, Any]:
        return cart.view(self.deps, account_id)

    @rpc
    def add_cart_item(self, account_id: str, kind: str, params: dict[str, Any],
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return cart.add_item(self.deps, account_id, kind, params, ctx)

    @rpc
    def update_cart_item(self, account_id: str, item_id: str, cycle: str, ctx: dict | None = None) -> dict[str, Any]:
        return cart.change_cycle(self.deps, account_id, item_id, cycle)

    @rpc
    def remove_cart_item(self, account_id: str, item_id: str, ctx: dict | None = None) -> dict[str, Any]:
        return cart.remove_item(self.deps, account_id, item_id)

    @rpc
    def apply_discount_code(self, account_id: str, code: str | None, ctx: dict | None = None) -> dict[str, Any]:
        return cart.apply_discount_code(self.deps, account_id, code)

    @rpc
    def checkout(self, account_id: str, payment_method: str, idempotency_key: str, ctx: dict | None = None,
                 return_url: str | None = None) -> dict[str, Any]:  # fmt: skip
        return checkout.checkout(self.deps, account_id, payment_method, idempotency_key, ctx, return_url)

    # ------------------------------------------------------------------ paying
    @rpc
    def pay_invoice(self, account_id: str, invoice_id: str, payment_method: str, return_url: str | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return payments.pay_invoice(self.deps, account_id, invoice_id, payment_method, return_url, ctx)

    @rpc
    def start_payment(self, account_id: str, invoice_id: str, method: str, return_url: str | None = None,
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return payments.pay_invoice(self.deps, account_id, invoice_id, method, return_url, ctx)

    @rpc
    def pay_all_unpaid(self, account_id: str, payment_method: str = "credit", return_url: str | None = None,
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return payments.pay_all_unpaid(self.deps, account_id, payment_method, return_url, ctx)

    @rpc
    def sandbox_get_payment(self, payment_id: str) -> dict[str, Any]:
        return payments.sandbox_payment(payment_id)

    @rpc
    def sandbox_complete(self, payment_id: str, outcome: str = "success") -> dict[str, Any]:
        return payments.sandbox_complete(payment_id, outcome)

    @rpc
    def get_payment(self, account_id: str, payment_id: str) -> dict[str, Any]:
        return payments.payment(account_id, payment_id)

    @rpc
    def handle_webhook(self, body: str, signature: str) -> dict[str, Any]:
        return payments.handle_webhook(self.deps, body, signature)

    @rpc(actors=STAFF_OR_SYSTEM)
    def mark_invoice_paid(self, invoice_id: str, ctx: dict | None = None, amount: int | None = None,
                          reference: str | None = None) -> dict[str, Any]:  # fmt: skip
        return payments.mark_paid(self.deps, invoice_id, ctx, amount, reference)

    @rpc(actors=STAFF)
    def refund_invoice(self, invoice_id: str, ctx: dict | None = None) -> dict[str, Any]:
        return payments.refund(self.deps, invoice_id, ctx)

    @rpc(actors=STAFF_OR_SYSTEM)
    def add_credit(self, account_id: str, amount: int, ctx: dict | None = None,
                   reason: str = "manual") -> dict[str, Any]:  # fmt: skip
        return payments.add_credit(self.deps, account_id, amount, reason, ctx)

    @rpc
    def get_credit(self, account_id: str) -> dict[str, Any]:
        return payments.credit(account_id)

    # ------------------------------------------------------------------ Stripe, saved cards, ledger (issue #15)
    @rpc
    def payment_methods(self) -> list[str]:
        return providers_registry.methods()

    @rpc
    def stripe_payment_page(self, account_id: str, payment_id: str, email: str | None = None) -> dict[str, Any]:
        return payments.stripe_page(account_id, payment_id, email)

    @rpc
    def stripe_confirm(self, account_id: str, payment_id: str, payment_method_id: str | None = None,
                       setup_intent_id: str | None = None, save_card: bool = False) -> dict[str, Any]:  # fmt: skip
        return payments.stripe_confirm(self.deps, account_id, payment_id, payment_method_id, setup_intent_id, save_card)

    @rpc
    def stripe_return(self, account_id: str, payment_id: str) -> dict[str, Any]:
        return payments.stripe_return(self.deps, account_id, payment_id)

    @rpc
    def handle_stripe_webhook(self, body: str, signature: str) -> dict[str, Any]:
        return payments.handle_stripe_webhook(self.deps, body, signature)

    @rpc
    def list_cards(self, account_id: str) -> dict[str, Any]:
        return stripe_provider.cards(account_id)

    @rpc
    def start_card_setup(self, account_id: str, email: str | None = None) -> dict[str, Any]:
        return stripe_provider.start_setup(account_id, email)

    @rpc
    def save_card(self, account_id: str, setup_intent_id: str, make_default: bool = False) -> dict[str, Any]:
        return stripe_provider.finish_setup(account_id, setup_intent_id, make_default)

    @rpc
    def set_default_card(self, account_id: str, payment_method_id: str) -> dict[str, Any]:
        return stripe_provider.set_default(account_id, payment_method_id)

    @rpc
    def remove_card(self, account_id: str, payment_method_id: str) -> dict[str, Any]:
        return stripe_provider.remove_card(account_id, payment_method_id)

    @rpc
    def set_auto_renew(self, account_id: str, service_id: str, auto_renew: bool,
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return renewals.set_auto_renew(self.deps, account_id, service_id, auto_renew, ctx)

    @rpc
    def add_funds(self, account_id: str, amount: int, return_url: str | None = None) -> dict[str, Any]:
        return payments.add_funds(account_id, amount, return_url)

    @rpc
    def get_ledger(self, account_id: str) -> dict[str, Any]:
        return payments.ledger(self.deps, account_id)

    # ------------------------------------------------------------------ invoices
    @rpc
    def list_invoices(self, account_id: str, status: str | None = None, page: int = 1,
                      per_page: int = 20) -> dict[str, Any]:  # fmt: skip
        return invoices.list_page(account_id, status, page, per_page)

    @rpc
    def get_invoice(self, account_id: str, invoice_id: str) -> dict[str, Any]:
        return invoices.own(account_id, invoice_id).detail()

    @rpc
    def invoice_pdf(self, account_id: str, invoice_id: str) -> dict[str, str]:
        return invoices.as_pdf(account_id, invoice_id)

    @rpc(actors=SYSTEM)
    def issue_item_invoice(self, account_id: str, kind: str, params: dict[str, Any], idempotency_key: str,
                           ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """An unpaid invoice for one item priced by its owner, issued once per key."""
        return invoices.issue_for_item(self.deps, account_id, kind, params, idempotency_key, ctx)

    # ------------------------------------------------------------------ hosting services and renewals
    @rpc
    def list_services(self, account_id: str, status: str | None = None, page: int = 1,
                      per_page: int = 100) -> dict[str, Any]:  # fmt: skip
        return services.list_page(account_id, status, page, per_page)

    @rpc
    def get_service(self, account_id: str, service_id: str) -> dict[str, Any]:
        return services.with_terms(self.deps, account_id, service_id)

    @rpc
    def change_service_plan(self, account_id: str, service_id: str, plan: str,
                            ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return services.change_plan(self.deps, account_id, service_id, plan, ctx)

    @rpc
    def withdraw_from_service(self, account_id: str, service_id: str, confirm: bool = False,
                              ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return services.withdraw(self.deps, account_id, service_id, confirm, ctx)

    @rpc
    def request_cancellation(self, account_id: str, service_id: str, when: str = "end_of_period",
                             ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return services.request_cancellation(self.deps, account_id, service_id, when, ctx)

    @rpc
    def list_renewals(self, account_id: str) -> dict[str, Any]:
        return renewals.list_renewals(self.deps, account_id)

    @consumes(DOMAINS, "domain_renewal_due")
    def invoice_domain_renewal(self, event: Event) -> None:
        renewals.invoice_domain_renewal(self.deps, event.data, {**app.SYSTEM_CTX, "causation_id": event.event_id})

    # ------------------------------------------------------------------ KSeF, corrections, export (issue #16)
    @timer(interval=KSEF_SECONDS)
    def ksef_timer(self) -> None:
        """Corrections for refunds, customer actions left unfinished after their corrections, then every
        invoice waiting for KSeF, after they are issued."""
        try:
            self.run_invoice_documents()
        except Exception:
            log.exception("invoice documents run failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_invoice_documents(self) -> dict[str, int]:
        for invoice_id in corrections.refunds_to_correct():
            corrections.for_refund(self.deps, invoice_id, app.SYSTEM_CTX)
        finished = services.finish_unsettled(self.deps, app.SYSTEM_CTX)
        return {**ksef_sender.run(self.deps), **({"actions_finished": finished} if finished else {})}

    @rpc
    def invoice_xml(self, account_id: str, invoice_id: str) -> dict[str, str]:
        return ksef_sender.xml_of(self.deps, account_id, invoice_id)

    @rpc(actors=STAFF)
    def ksef_problems(self, ctx: dict | None = None) -> list[dict[str, Any]]:
        return ksef_sender.problems()

    @rpc(actors=STAFF)
    def correct_invoice(self, invoice_id: str, prices: dict[str, int], reason: str, idempotency_key: str,
                        ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return corrections.correct_prices(self.deps, invoice_id, prices, reason, idempotency_key, ctx)

    @rpc(actors=STAFF)
    def export_invoices(self, month: str, format: str = "csv", ctx: dict | None = None) -> dict[str, str]:
        return export.export(self.deps, month, format)

    # ------------------------------------------------------------------ billing cycle and dashboard
    @timer(interval=CYCLE_SECONDS)
    def billing_cycle_timer(self) -> None:
        try:
            self.run_billing_cycle()
        except Exception:
            log.exception("billing cycle failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_billing_cycle(self) -> dict[str, int]:
        return cycle.run(self.deps)

    @rpc
    def dashboard_summary(self, account_id: str) -> dict[str, Any]:
        return dashboard.summary(self.deps, account_id)
