"""Payment providers behind one interface, and the sandbox card provider's webhook signing.

* CreditProvider: pays whole invoices from the account's balance, at once.
* BankTransferProvider: gives transfer instructions; the invoice stays unpaid until
  staff (or a bank-statement import) calls `mark_invoice_paid`.
* SandboxCardProvider: behaves like a hosted card gateway: a payment session with a
  redirect to the provider's page (served by the gateway), a return URL, and a
  signed HMAC-SHA256 webhook that may arrive twice or late.

Applying money is never done here: the service turns a verified webhook into the
Customer aggregate's `receive_payment`, which remembers payment ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

import mongoengine as me
import requests

from kernel import clock, settings
from kernel.errors import CommandError
from kernel.events import new_id

log = logging.getLogger(__name__)
ALIAS = "billing"
WEBHOOK_PATH = "/payments/sandbox/webhook"
# Delivery attempts after 0, 1, 2, 4, 8, 16 and 32 seconds, like a real provider's retries.
WEBHOOK_RETRY_DELAYS = (0, 1, 2, 4, 8, 16, 32)
DEV_WEBHOOK_SECRET = "dev-sandbox-webhook-secret"  # noqa: S105 - development default, override in production


def webhook_secret() -> bytes:
    return os.environ.get("SANDBOX_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET).encode()


def sign(body: str) -> str:
    return hmac.new(webhook_secret(), body.encode(), hashlib.sha256).hexdigest()


def verify(body: str, signature: str) -> bool:
    if not isinstance(body, str) or not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(body), signature.strip().lower().removeprefix("sha256="))


def webhook_url() -> str:
    """Where the sandbox provider posts its webhooks: the gateway's public endpoint.
    SANDBOX_WEBHOOK_URL="" switches delivery off (unit tests hand the webhook over themselves)."""
    return os.environ.get("SANDBOX_WEBHOOK_URL", f"{settings.PUBLIC_URL}{WEBHOOK_PATH}")


def deliver_webhook(webhook: dict[str, str], url: str, delays: tuple[int, ...] = WEBHOOK_RETRY_DELAYS) -> bool:
    """POST the signed webhook until the receiver answers 2xx; a 4xx other than 429 is final
    (the receiver refused it and will refuse it again). Returns whether it was accepted."""
    for delay in delays:
        time.sleep(delay)
        try:
            response = requests.post(url, data=webhook["body"].encode(), timeout=10, headers={
                "Content-Type": "application/json", "X-Sandbox-Signature": f"sha256={webhook['signature']}"})  # fmt: skip
        except requests.RequestException as exc:
            log.warning("webhook delivery to %s failed: %r", url, exc)
            continue
        if response.ok:
            return True
        if 400 <= response.status_code < 500 and response.status_code != 429:
            log.warning("webhook refused by %s: %s %s", url, response.status_code, response.text[:200])
            return False
    log.error("webhook to %s not delivered after %d attempts", url, len(delays))
    return False


class PaymentIntent(me.Document):
    """A started card payment (the provider's session as the sandbox keeps it)."""

    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    invoice_ids = me.ListField(me.StringField())
    amount = me.IntField(required=True)
    currency = me.StringField(default="PLN")
    method = me.StringField(default="card")
    status = me.StringField(default="created")  # created | succeeded | failed
    return_url = me.StringField(null=True)
    created_at = me.StringField()
    completed_at = me.StringField(null=True)
    meta = {"db_alias": ALIAS, "collection": "payment_intents", "indexes": ["account_id"], "auto_create_index": False}

    def public(self) -> dict[str, Any]:
        return {"payment_id": self.id, "account_id": self.account_id, "invoice_ids": list(self.invoice_ids),
                "amount": self.amount, "currency": self.currency, "status": self.status,
                "return_url": self.return_url}  # fmt: skip


@dataclass
class PaymentRequest:
    account_id: str
    invoice_ids: list[str]
    amount: int
    numbers: list[str]
    return_url: str | None = None
    payment_id: str | None = None


class PaymentProvider(Protocol):
    method: str

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        """Begin paying; returns what the customer does next."""


class CreditProvider:
    """The service pays from the balance itself (an atomic Customer decision)."""

    method = "credit"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        return {"method": self.method, "status": "apply_credit"}


class BankTransferProvider:
    method = "bank_transfer"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": "pending",
            "amount": request.amount,
            "currency": "PLN",
            "instructions": {
                "bank_account": settings.env("SELLER_BANK_ACCOUNT", "PL61 1090 1014 0000 0712 1981 2874"),
                "recipient": settings.env("SELLER_NAME", "Panel Hosting sp. z o.o."),
                "title": ", ".join(request.numbers),
                "amount": request.amount,
            },
        }


class SandboxCardProvider:
    method = "card"

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        payment_id = request.payment_id or new_id()
        intent = PaymentIntent(id=payment_id, account_id=request.account_id, invoice_ids=request.invoice_ids,
                               amount=request.amount, return_url=request.return_url, created_at=clock.now().isoformat())  # fmt: skip
        try:
            intent.save(force_insert=True)
        except me.NotUniqueError:  # the same checkout retried: the same session
            intent = PaymentIntent.objects(id=payment_id).first()
        return {
            "method": self.method,
            "status": "redirect" if intent.status == "created" else intent.status,
            "payment_id": intent.id,
            "amount": intent.amount,
            "redirect_url": f"{settings.PUBLIC_URL}/sandbox-pay/{intent.id}",
        }

    @staticmethod
    def complete(payment_id: str, outcome: str) -> dict[str, Any]:
        """What the sandbox's page does when the customer clicks pay/decline:
        settle the session and produce the signed webhook the provider would send."""
        if outcome not in ("success", "failure"):
            raise CommandError("invalid_input", {"outcome": "invalid_choice"}, status=422)
        intent = PaymentIntent.objects(id=payment_id).first()
        if not intent:
            raise CommandError("unknown_payment", status=404)
        status = "succeeded" if outcome == "success" else "failed"
        if intent.status == "created":
            PaymentIntent.objects(id=payment_id, status="created").update_one(set__status=status,
                                                                              set__completed_at=clock.now().isoformat())  # fmt: skip
            intent.reload()
        body = json.dumps({
            "type": f"payment.{intent.status}", "payment_id": intent.id, "account_id": intent.account_id,
            "invoice_ids": list(intent.invoice_ids), "amount": intent.amount, "currency": intent.currency,
            "created": clock.now().isoformat() + "Z"}, sort_keys=True)  # fmt: skip
        return {"webhook": {"body": body, "signature": sign(body)}, "return_url": intent.return_url,
                "status": intent.status}  # fmt: skip


PROVIDERS: dict[str, PaymentProvider] = {
    p.method: p for p in (CreditProvider(), BankTransferProvider(), SandboxCardProvider())
}


def provider(method: str) -> PaymentProvider:
    found = PROVIDERS.get(method)
    if not found:
        raise CommandError("invalid_input", {"payment_method": "invalid_payment_method"}, status=422)
    return found
