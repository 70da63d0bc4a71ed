"""Typed clients of the services, one per service: the only way the gateway calls them.

Each method mirrors the service's `@rpc` method (name, parameters, defaults, type hints; the caller
context is added by gateway.rpc) and sends keyword arguments only, so the permission checks on
arguments (gateway.policy) and the service's admission (kernel.caller.admit) read them by name.
tests/test_gateway_clients.py compares every method with the service's signature (the gateway
itself imports nothing from services/).

    clients.billing.list_invoices(account_id=account_id, status="unpaid")   # waits for the answer
    clients.start(clients.billing.get_cart, account_id=account_id)          # sent, not waited for

`start` is the parallel fan-out: it sends at once and returns gateway.rpc's PendingCall (collect
several with rpc.gather, each at most RPC_TIMEOUT). A contact's call outside their permissions
raises permissions.Forbidden before anything is sent, in both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

from gateway import rpc

P = ParamSpec("P")
R = TypeVar("R")


class Client:
    """Calls of one service (`service`), each waiting for its answer (at most RPC_TIMEOUT)."""

    service: ClassVar[str]

    def _send(self, method: str, **arguments: Any) -> Any:
        return rpc.call(self.service, method, **arguments)


def start(method: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> rpc.PendingCall:
    """Send a client method's call without waiting (its defaults filled in, as the method would)."""
    client = getattr(method, "__self__", None)
    if not isinstance(client, Client):
        raise TypeError(f"{method!r} is not a service client's method")
    bound = inspect.signature(method).bind(*args, **kwargs)
    bound.apply_defaults()
    return rpc.start(client.service, method.__name__, **bound.arguments)


class AccountsClient(Client):
    """services/accounts's RPC methods the gateway calls."""

    service = "accounts"

    def accept_contact_invitation(self, *, token: str, password: str) -> dict[str, str]:
        return self._send("accept_contact_invitation", token=token, password=password)

    def account_history(self, *, account_id: str, page: int = 1, per_page: int = 25) -> dict[str, Any]:
        return self._send("account_history", account_id=account_id, page=page, per_page=per_page)

    def add_contact(self, *, account_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._send("add_contact", account_id=account_id, data=data)

    def authenticate(self, *, token: str) -> dict[str, Any] | None:
        return self._send("authenticate", token=token)

    def change_password(
        self,
        *,
        account_id: str,
        current_password: str,
        new_password: str,
        code: str | None = None,
        keep_session_id: str | None = None,
    ) -> dict[str, int]:
        return self._send(
            "change_password",
            account_id=account_id,
            current_password=current_password,
            new_password=new_password,
            code=code,
            keep_session_id=keep_session_id,
        )

    def confirm_password_reset(self, *, token: str, password: str) -> dict:
        return self._send("confirm_password_reset", token=token, password=password)

    def confirm_two_factor(self, *, account_id: str, code: str) -> dict[str, list[str]]:
        return self._send("confirm_two_factor", account_id=account_id, code=code)

    def disable_two_factor(self, *, account_id: str, code: str) -> dict:
        return self._send("disable_two_factor", account_id=account_id, code=code)

    def end_other_sessions(self, *, account_id: str, current_session_id: str) -> dict:
        return self._send("end_other_sessions", account_id=account_id, current_session_id=current_session_id)

    def end_session(self, *, account_id: str, session_id: str) -> dict:
        return self._send("end_session", account_id=account_id, session_id=session_id)

    def export_account(self, *, account_id: str) -> dict[str, Any]:
        return self._send("export_account", account_id=account_id)

    def find_customers(self, *, query: str, limit: int = 20) -> dict[str, Any]:
        return self._send("find_customers", query=query, limit=limit)

    def get_contact(self, *, account_id: str, contact_id: str) -> dict[str, Any]:
        return self._send("get_contact", account_id=account_id, contact_id=contact_id)

    def get_profile(self, *, account_id: str) -> dict[str, Any]:
        return self._send("get_profile", account_id=account_id)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def list_contacts(self, *, account_id: str) -> list[dict[str, Any]]:
        return self._send("list_contacts", account_id=account_id)

    def list_sessions(self, *, account_id: str, current_session_id: str | None = None) -> list[dict[str, Any]]:
        return self._send("list_sessions", account_id=account_id, current_session_id=current_session_id)

    def login(self, *, email: str, password: str) -> dict[str, Any]:
        return self._send("login", email=email, password=password)

    def login_second_factor(self, *, challenge: str, code: str) -> dict[str, Any]:
        return self._send("login_second_factor", challenge=challenge, code=code)

    def logout(self, *, token: str) -> dict:
        return self._send("logout", token=token)

    def register(
        self,
        *,
        email: str,
        password: str,
        first_name: str,
        last_name: str,
        language: str = "pl",
        password_repeat: str | None = None,
    ) -> dict[str, str]:
        return self._send(
            "register",
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            language=language,
            password_repeat=password_repeat,
        )

    def remove_contact(self, *, account_id: str, contact_id: str) -> dict:
        return self._send("remove_contact", account_id=account_id, contact_id=contact_id)

    def request_password_reset(self, *, email: str) -> dict:
        return self._send("request_password_reset", email=email)

    def resend_contact_invitation(self, *, account_id: str, contact_id: str) -> dict:
        return self._send("resend_contact_invitation", account_id=account_id, contact_id=contact_id)

    def resend_verification(self, *, email: str) -> dict:
        return self._send("resend_verification", email=email)

    def start_two_factor(self, *, account_id: str) -> dict[str, str]:
        return self._send("start_two_factor", account_id=account_id)

    def unsubscribe(self, *, token: str) -> dict[str, str]:
        return self._send("unsubscribe", token=token)

    def update_contact(self, *, account_id: str, contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._send("update_contact", account_id=account_id, contact_id=contact_id, changes=changes)

    def update_settings(
        self,
        *,
        account_id: str,
        changes: dict[str, Any],
        current_password: str | None = None,
        code: str | None = None,
        keep_session_id: str | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "update_settings",
            account_id=account_id,
            changes=changes,
            current_password=current_password,
            code=code,
            keep_session_id=keep_session_id,
        )

    def verify_email(self, *, token: str) -> dict[str, str]:
        return self._send("verify_email", token=token)


class BillingClient(Client):
    """services/billing's RPC methods the gateway calls."""

    service = "billing"

    def add_cart_item(self, *, account_id: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._send("add_cart_item", account_id=account_id, kind=kind, params=params)

    def apply_discount_code(self, *, account_id: str, code: str | None) -> dict[str, Any]:
        return self._send("apply_discount_code", account_id=account_id, code=code)

    def checkout(
        self, *, account_id: str, payment_method: str, idempotency_key: str, return_url: str | None = None
    ) -> dict[str, Any]:
        return self._send(
            "checkout",
            account_id=account_id,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            return_url=return_url,
        )

    def dashboard_summary(self, *, account_id: str) -> dict[str, Any]:
        return self._send("dashboard_summary", account_id=account_id)

    def get_cart(self, *, account_id: str) -> dict[str, Any]:
        return self._send("get_cart", account_id=account_id)

    def get_catalog(self, *, language: str = "pl") -> dict[str, Any]:
        return self._send("get_catalog", language=language)

    def get_credit(self, *, account_id: str) -> dict[str, Any]:
        return self._send("get_credit", account_id=account_id)

    def get_current_offer(self) -> dict[str, Any] | None:
        return self._send("get_current_offer")

    def get_invoice(self, *, account_id: str, invoice_id: str) -> dict[str, Any]:
        return self._send("get_invoice", account_id=account_id, invoice_id=invoice_id)

    def get_payment(self, *, account_id: str, payment_id: str) -> dict[str, Any]:
        return self._send("get_payment", account_id=account_id, payment_id=payment_id)

    def get_service(self, *, account_id: str, service_id: str) -> dict[str, Any]:
        return self._send("get_service", account_id=account_id, service_id=service_id)

    def handle_webhook(self, *, body: str, signature: str) -> dict[str, Any]:
        return self._send("handle_webhook", body=body, signature=signature)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def invoice_pdf(self, *, account_id: str, invoice_id: str) -> dict[str, str]:
        return self._send("invoice_pdf", account_id=account_id, invoice_id=invoice_id)

    def list_invoices(
        self, *, account_id: str, status: str | None = None, page: int = 1, per_page: int = 20
    ) -> dict[str, Any]:
        return self._send("list_invoices", account_id=account_id, status=status, page=page, per_page=per_page)

    def list_renewals(self, *, account_id: str) -> dict[str, Any]:
        return self._send("list_renewals", account_id=account_id)

    def list_services(
        self, *, account_id: str, status: str | None = None, page: int = 1, per_page: int = 100
    ) -> dict[str, Any]:
        return self._send("list_services", account_id=account_id, status=status, page=page, per_page=per_page)

    def mark_invoice_paid(
        self, *, invoice_id: str, amount: int | None = None, reference: str | None = None
    ) -> dict[str, Any]:
        return self._send("mark_invoice_paid", invoice_id=invoice_id, amount=amount, reference=reference)

    def pay_all_unpaid(
        self, *, account_id: str, payment_method: str = "credit", return_url: str | None = None
    ) -> dict[str, Any]:
        return self._send("pay_all_unpaid", account_id=account_id, payment_method=payment_method, return_url=return_url)

    def pay_invoice(
        self, *, account_id: str, invoice_id: str, payment_method: str, return_url: str | None = None
    ) -> dict[str, Any]:
        return self._send(
            "pay_invoice",
            account_id=account_id,
            invoice_id=invoice_id,
            payment_method=payment_method,
            return_url=return_url,
        )

    def remove_cart_item(self, *, account_id: str, item_id: str) -> dict[str, Any]:
        return self._send("remove_cart_item", account_id=account_id, item_id=item_id)

    def request_cancellation(self, *, account_id: str, service_id: str, when: str = "end_of_period") -> dict[str, Any]:
        return self._send("request_cancellation", account_id=account_id, service_id=service_id, when=when)

    def change_service_plan(self, *, account_id: str, service_id: str, plan: str) -> dict[str, Any]:
        return self._send("change_service_plan", account_id=account_id, service_id=service_id, plan=plan)

    def withdraw_from_service(self, *, account_id: str, service_id: str, confirm: bool = False) -> dict[str, Any]:
        return self._send("withdraw_from_service", account_id=account_id, service_id=service_id, confirm=confirm)

    def sandbox_complete(self, *, payment_id: str, outcome: str = "success") -> dict[str, Any]:
        return self._send("sandbox_complete", payment_id=payment_id, outcome=outcome)

    def sandbox_get_payment(self, *, payment_id: str) -> dict[str, Any]:
        return self._send("sandbox_get_payment", payment_id=payment_id)

    def set_offer(
        self,
        *,
        title: str,
        text: str,
        link: str,
        starts_at: str,
        ends_at: str,
        discount_code: str | None = None,
        discount_percent: int | None = None,
        title_en: str | None = None,
        text_en: str | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "set_offer",
            title=title,
            text=text,
            link=link,
            starts_at=starts_at,
            ends_at=ends_at,
            discount_code=discount_code,
            discount_percent=discount_percent,
            title_en=title_en,
            text_en=text_en,
        )

    def update_cart_item(self, *, account_id: str, item_id: str, cycle: str) -> dict[str, Any]:
        return self._send("update_cart_item", account_id=account_id, item_id=item_id, cycle=cycle)

    # KSeF, corrections, the accountant's export (issue #16)
    def invoice_xml(self, *, account_id: str, invoice_id: str) -> dict[str, str]:
        return self._send("invoice_xml", account_id=account_id, invoice_id=invoice_id)

    def ksef_problems(self) -> list[dict[str, Any]]:
        return self._send("ksef_problems")

    def correct_invoice(self, *, invoice_id: str, prices: dict[str, int], reason: str,
                        idempotency_key: str) -> dict[str, Any]:  # fmt: skip
        return self._send("correct_invoice", invoice_id=invoice_id, prices=prices, reason=reason,
                          idempotency_key=idempotency_key)  # fmt: skip

    def export_invoices(self, *, month: str, format: str = "csv") -> dict[str, str]:
        return self._send("export_invoices", month=month, format=format)

    def run_invoice_documents(self) -> dict[str, int]:
        return self._send("run_invoice_documents")

    # Stripe, saved cards, auto-renew, the ledger (issue #15)
    def payment_methods(self) -> list[str]:
        return self._send("payment_methods")

    def stripe_payment_page(self, *, account_id: str, payment_id: str, email: str | None = None) -> dict[str, Any]:
        return self._send("stripe_payment_page", account_id=account_id, payment_id=payment_id, email=email)

    def stripe_confirm(self, *, account_id: str, payment_id: str, payment_method_id: str | None = None,
                       setup_intent_id: str | None = None, save_card: bool = False) -> dict[str, Any]:  # fmt: skip
        return self._send("stripe_confirm", account_id=account_id, payment_id=payment_id,
                          payment_method_id=payment_method_id, setup_intent_id=setup_intent_id, save_card=save_card)  # fmt: skip

    def stripe_return(self, *, account_id: str, payment_id: str) -> dict[str, Any]:
        return self._send("stripe_return", account_id=account_id, payment_id=payment_id)

    def handle_stripe_webhook(self, *, body: str, signature: str) -> dict[str, Any]:
        return self._send("handle_stripe_webhook", body=body, signature=signature)

    def list_cards(self, *, account_id: str) -> dict[str, Any]:
        return self._send("list_cards", account_id=account_id)

    def start_card_setup(self, *, account_id: str, email: str | None = None) -> dict[str, Any]:
        return self._send("start_card_setup", account_id=account_id, email=email)

    def save_card(self, *, account_id: str, setup_intent_id: str, make_default: bool = False) -> dict[str, Any]:
        return self._send(
            "save_card", account_id=account_id, setup_intent_id=setup_intent_id, make_default=make_default
        )

    def set_default_card(self, *, account_id: str, payment_method_id: str) -> dict[str, Any]:
        return self._send("set_default_card", account_id=account_id, payment_method_id=payment_method_id)

    def remove_card(self, *, account_id: str, payment_method_id: str) -> dict[str, Any]:
        return self._send("remove_card", account_id=account_id, payment_method_id=payment_method_id)

    def set_auto_renew(self, *, account_id: str, service_id: str, auto_renew: bool) -> dict[str, Any]:
        return self._send("set_auto_renew", account_id=account_id, service_id=service_id, auto_renew=auto_renew)

    def add_funds(self, *, account_id: str, amount: int, return_url: str | None = None) -> dict[str, Any]:
        return self._send("add_funds", account_id=account_id, amount=amount, return_url=return_url)

    def get_ledger(self, *, account_id: str) -> dict[str, Any]:
        return self._send("get_ledger", account_id=account_id)


class DomainsClient(Client):
    """services/domains's RPC methods the gateway calls."""

    service = "domains"

    def check(self, *, name: str) -> dict[str, Any]:
        return self._send("check", name=name)

    def dashboard_summary(self, *, account_id: str) -> dict[str, Any]:
        return self._send("dashboard_summary", account_id=account_id)

    def get_domain(self, *, account_id: str, domain_id: str) -> dict[str, Any]:
        return self._send("get_domain", account_id=account_id, domain_id=domain_id)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def list_domains(
        self, *, account_id: str, page: int = 1, per_page: int = 20, status: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        return self._send(
            "list_domains", account_id=account_id, page=page, per_page=per_page, status=status, query=query
        )

    def retry_registration(self, *, account_id: str, domain_id: str, epp_code: str | None = None) -> dict[str, Any]:
        return self._send("retry_registration", account_id=account_id, domain_id=domain_id, epp_code=epp_code)

    def reveal_epp_code(self, *, account_id: str, domain_id: str) -> dict[str, str]:
        return self._send("reveal_epp_code", account_id=account_id, domain_id=domain_id)

    def update_domain(self, *, account_id: str, domain_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._send("update_domain", account_id=account_id, domain_id=domain_id, changes=changes)

    # child nameservers (issue #19)
    def list_hosts(self, *, account_id: str, domain_id: str) -> dict[str, Any]:
        return self._send("list_hosts", account_id=account_id, domain_id=domain_id)

    def create_host(self, *, account_id: str, domain_id: str, host: str, addresses: list[str] | str) -> dict[str, Any]:
        return self._send("create_host", account_id=account_id, domain_id=domain_id, host=host, addresses=addresses)

    def update_host(self, *, account_id: str, domain_id: str, host: str, addresses: list[str] | str) -> dict[str, Any]:
        return self._send("update_host", account_id=account_id, domain_id=domain_id, host=host, addresses=addresses)

    def delete_host(self, *, account_id: str, domain_id: str, host: str) -> dict[str, Any]:
        return self._send("delete_host", account_id=account_id, domain_id=domain_id, host=host)


class SupportClient(Client):
    """services/support's RPC methods the gateway calls."""

    service = "support"

    def close_ticket(self, *, account_id: str, ticket_id: str) -> dict[str, Any]:
        return self._send("close_ticket", account_id=account_id, ticket_id=ticket_id)

    def dashboard_news(self, *, language: str = "pl") -> dict[str, Any]:
        return self._send("dashboard_news", language=language)

    def dashboard_summary(self, *, account_id: str) -> dict[str, Any]:
        return self._send("dashboard_summary", account_id=account_id)

    def get_attachment(self, *, account_id: str | None, ticket_id: str, attachment_id: str) -> dict[str, Any]:
        return self._send("get_attachment", account_id=account_id, ticket_id=ticket_id, attachment_id=attachment_id)

    def get_news(self, *, news_id: str) -> dict[str, Any]:
        return self._send("get_news", news_id=news_id)

    def get_ticket(self, *, account_id: str, ticket_id: str) -> dict[str, Any]:
        return self._send("get_ticket", account_id=account_id, ticket_id=ticket_id)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def list_news(
        self, *, language: str = "pl", page: int = 1, per_page: int = 10, account_id: str | None = None
    ) -> dict[str, Any]:
        return self._send("list_news", language=language, page=page, per_page=per_page, account_id=account_id)

    def list_tickets(
        self,
        *,
        account_id: str,
        status: str | None = None,
        page: int = 1,
        per_page: int = 20,
        department: str | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "list_tickets", account_id=account_id, status=status, page=page, per_page=per_page, department=department
        )

    def open_ticket(
        self,
        *,
        account_id: str,
        department: str,
        priority: str,
        subject: str,
        message: str,
        related: dict | None = None,
        attachments: list[dict] | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "open_ticket",
            account_id=account_id,
            department=department,
            priority=priority,
            subject=subject,
            message=message,
            related=related,
            attachments=attachments,
        )

    def publish_news(
        self,
        *,
        title: str,
        body: str,
        language: str,
        concerns_plans: list[str] | None = None,
        published_at: str | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "publish_news",
            title=title,
            body=body,
            language=language,
            concerns_plans=concerns_plans,
            published_at=published_at,
        )

    def reply(
        self, *, account_id: str, ticket_id: str, message: str, attachments: list[dict] | None = None
    ) -> dict[str, Any]:
        return self._send("reply", account_id=account_id, ticket_id=ticket_id, message=message, attachments=attachments)

    def staff_add_note(self, *, ticket_id: str, text: str) -> dict[str, Any]:
        return self._send("staff_add_note", ticket_id=ticket_id, text=text)

    def staff_get_news(self, *, news_id: str) -> dict[str, Any]:
        return self._send("staff_get_news", news_id=news_id)

    def staff_get_ticket(self, *, ticket_id: str) -> dict[str, Any]:
        return self._send("staff_get_ticket", ticket_id=ticket_id)

    def staff_list_news(self, *, language: str | None = None, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        return self._send("staff_list_news", language=language, page=page, per_page=per_page)

    def staff_queue(
        self, *, department: str | None = None, status: str | None = None, page: int = 1, per_page: int = 20
    ) -> dict[str, Any]:
        return self._send("staff_queue", department=department, status=status, page=page, per_page=per_page)

    def staff_reply(self, *, ticket_id: str, message: str, attachments: list[dict] | None = None) -> dict[str, Any]:
        return self._send("staff_reply", ticket_id=ticket_id, message=message, attachments=attachments)

    def staff_set_priority(self, *, ticket_id: str, priority: str) -> dict[str, Any]:
        return self._send("staff_set_priority", ticket_id=ticket_id, priority=priority)

    def staff_set_status(self, *, ticket_id: str, status: str) -> dict[str, Any]:
        return self._send("staff_set_status", ticket_id=ticket_id, status=status)

    def update_news(
        self,
        *,
        news_id: str,
        title: str | None = None,
        body: str | None = None,
        language: str | None = None,
        concerns_plans: list[str] | None = None,
        published_at: str | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "update_news",
            news_id=news_id,
            title=title,
            body=body,
            language=language,
            concerns_plans=concerns_plans,
            published_at=published_at,
        )

    def withdraw_news(self, *, news_id: str) -> dict[str, Any]:
        return self._send("withdraw_news", news_id=news_id)

    # --- the knowledge base (issue #18) ---
    def list_articles(
        self, *, language: str = "pl", category: str | None = None, page: int = 1, per_page: int = 50
    ) -> dict[str, Any]:
        return self._send("list_articles", language=language, category=category, page=page, per_page=per_page)

    def get_article(self, *, slug: str, language: str = "pl") -> dict[str, Any]:
        return self._send("get_article", slug=slug, language=language)

    def search_articles(self, *, query: str, language: str = "pl", limit: int = 10) -> dict[str, Any]:
        return self._send("search_articles", query=query, language=language, limit=limit)

    def staff_list_articles(self, *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        return self._send("staff_list_articles", page=page, per_page=per_page)

    def staff_get_article(self, *, slug: str) -> dict[str, Any]:
        return self._send("staff_get_article", slug=slug)

    def write_article(self, *, slug: str, category: str, status: str, versions: dict) -> dict[str, Any]:
        return self._send("write_article", slug=slug, category=category, status=status, versions=versions)

    def update_article(
        self, *, slug: str, category: str | None = None, status: str | None = None, versions: dict | None = None
    ) -> dict[str, Any]:
        return self._send("update_article", slug=slug, category=category, status=status, versions=versions)

    def withdraw_article(self, *, slug: str) -> dict[str, Any]:
        return self._send("withdraw_article", slug=slug)


class NotificationsClient(Client):
    """services/notifications's RPC methods the gateway calls."""

    service = "notifications"

    def get_mail(self, *, account_id: str, mail_id: str) -> dict[str, Any]:
        return self._send("get_mail", account_id=account_id, mail_id=mail_id)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def list_mails(
        self, *, account_id: str, page: int = 1, per_page: int = 20, category: str | None = None
    ) -> dict[str, Any]:
        return self._send("list_mails", account_id=account_id, page=page, per_page=per_page, category=category)

    def newsletter_status(self, *, newsletter_id: str) -> dict[str, Any]:
        return self._send("newsletter_status", newsletter_id=newsletter_id)

    def send_newsletter(self, *, subject_pl: str, body_pl: str, subject_en: str, body_en: str) -> dict[str, str]:
        return self._send(
            "send_newsletter", subject_pl=subject_pl, body_pl=body_pl, subject_en=subject_en, body_en=body_en
        )


class HostingClient(Client):
    """services/hosting's RPC methods the gateway calls."""

    service = "hosting"

    def get_access(self, *, account_id: str, service_id: str) -> dict[str, Any]:
        return self._send("get_access", account_id=account_id, service_id=service_id)

    def health(self) -> dict[str, Any]:
        return self._send("health")

    def list_failures(self, *, min_attempts: int = 3) -> list[dict[str, Any]]:
        return self._send("list_failures", min_attempts=min_attempts)

    def set_password(self, *, account_id: str, service_id: str, password: str) -> dict[str, Any]:
        return self._send("set_password", account_id=account_id, service_id=service_id, password=password)


accounts = AccountsClient()
billing = BillingClient()
domains = DomainsClient()
support = SupportClient()
notifications = NotificationsClient()
hosting = HostingClient()
BY_SERVICE: dict[str, Client] = {c.service: c for c in (accounts, billing, domains, support, notifications, hosting)}
