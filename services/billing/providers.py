"""Which provider takes which payment method: the provider interface is `payments.PaymentProvider`
(`method`, `start(request)`); credit and bank transfer are always there, the card is the sandbox's
in development (PAYMENT_PROVIDER=sandbox) or Stripe's, which adds BLIK and Przelewy24."""

from __future__ import annotations

from kernel.errors import Invalid
from services.billing import payments, stripe_provider
from services.billing.payments import PaymentProvider

STRIPE = {m: stripe_provider.StripeProvider(m) for m in stripe_provider.STRIPE_TYPES}


def methods() -> list[str]:
    """The payment methods offered now, in the order the pages show them."""
    cards = list(STRIPE) if stripe_provider.enabled() else ["card"]
    return [*cards, "bank_transfer", "credit"]


def provider(method: str) -> PaymentProvider:
    if stripe_provider.enabled() and method in STRIPE:
        return STRIPE[method]
    if method in ("blik", "p24"):  # Stripe's methods: the sandbox has none of them
        raise Invalid("invalid_input", {"payment_method": "invalid_payment_method"})
    return payments.provider(method)
