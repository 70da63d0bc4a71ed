"""Stripe as the card, BLIK and Przelewy24 provider, through the official `stripe` SDK.

Settings: PAYMENT_PROVIDER (`stripe`, or `sandbox` in development), STRIPE_SECRET_KEY,
STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE (empty: Stripe itself; a running
`localstripe` in the tests and in a local demo).

One Stripe PaymentIntent per payment session of ours (`payments.PaymentIntent`): amounts in grosze,
currency PLN, the session id as the idempotency key and in the PaymentIntent's metadata, and the
PaymentIntent's id stored on the session. A card is collected by Stripe.js on our page through a
SetupIntent (the card is attached to the account's Stripe Customer, so it can be saved), then the
payment is confirmed here; `requires_action` (3-D Secure) goes back to Stripe.js
(`confirmCardPayment`), which finishes it in the browser. BLIK and Przelewy24 PaymentIntents are
confirmed by Stripe.js alone (`confirmBlikPayment`, `confirmP24Payment`).

Money is applied from our session (account, invoices, amount), never from what Stripe sends: the
SDK's answers and the signed webhook events only say *that* a session succeeded, failed or was
refunded.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import mongoengine as me
import stripe
from nameko.extensions import DependencyProvider

from kernel import clock, settings
from kernel.errors import CommandError, Conflict, Invalid, NotFound, Unavailable
from kernel.events import new_id
from services.billing.payments import ALIAS, PaymentIntent, PaymentRequest

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/payments/stripe/webhook"
# our method name -> Stripe's payment_method_types
STRIPE_TYPES = {"card": "card", "blik": "blik", "p24": "p24"}
# Stripe's decline codes a customer can act on; anything else is `card_declined`
FAILURE_CODES = {"card_declined", "expired_card", "incorrect_cvc", "insufficient_funds", "authentication_required",
                 "processing_error", "payment_intent_authentication_failure"}  # fmt: skip


def payment_provider() -> str:
    """`stripe` or `sandbox` (the default, for development)."""
    return os.environ.get("PAYMENT_PROVIDER", "sandbox").strip() or "sandbox"


def enabled() -> bool:
    return payment_provider() == "stripe"


def _refuse_without_stripe() -> None:
    """Saved cards are Stripe's: with the sandbox provider there is nothing to save a card with."""
    if not enabled():
        raise Conflict("saved_cards_need_stripe")


def api_base() -> str:
    return os.environ.get("STRIPE_API_BASE", "").strip().rstrip("/")


def publishable_key() -> str:
    return os.environ.get("STRIPE_PUBLISHABLE_KEY", "")


def js_url() -> str:
    """Stripe.js: Stripe's own, or the stand-in a localstripe at STRIPE_API_BASE serves."""
    return f"{api_base()}/js.stripe.com/v3/" if api_base() else "https://js.stripe.com/v3/"


def check_configuration() -> None:
    """With PAYMENT_PROVIDER=stripe the three keys must be set (billing does not start otherwise)."""
    if payment_provider() not in ("stripe", "sandbox"):
        raise RuntimeError(f"PAYMENT_PROVIDER={payment_provider()}: use stripe or sandbox")
    missing = [k for k in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")
               if enabled() and not os.environ.get(k, "").strip()]  # fmt: skip
    if missing:
        raise RuntimeError(f"PAYMENT_PROVIDER=stripe needs {', '.join(missing)}")


@lru_cache(maxsize=4)
def _client(key: str, base: str) -> stripe.StripeClient:
    addresses = {"api": base} if base else None
    return stripe.StripeClient(key, base_addresses=addresses, max_network_retries=2)


def client() -> stripe.StripeClient:
    return _client(os.environ.get("STRIPE_SECRET_KEY", ""), api_base())


def _call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """One SDK call; Stripe unreachable or refusing our request becomes Unavailable (its card
    refusals, CardError, pass through to the caller)."""
    try:
        return function(*args, **kwargs)
    except stripe.CardError:
        raise
    except stripe.StripeError as exc:
        log.warning("stripe %s failed: %r", what, exc)
        raise Unavailable("payment_provider_unavailable") from None


class StripeCustomer(me.Document):
    """The account's Stripe Customer and the card it has chosen as default (for automatic renewals)."""

    id = me.StringField(primary_key=True)  # account id
    customer_id = me.StringField(required=True)
    default_payment_method = me.StringField(null=True)
    default_card = me.DictField()  # its brand, last4 and expiry: the billing cycle needs no call to Stripe
    meta = {"db_alias": ALIAS, "collection": "stripe_customers", "auto_create_index": False}


class StripeEvent(me.Document):
    """A Stripe event applied (its id): the same event delivered again applies nothing."""

    id = me.StringField(primary_key=True)
    type = me.StringField()
    received_at = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "stripe_events", "auto_create_index": False}


def customer_id(account_id: str, email: str | None = None) -> str:
    """The account's Stripe Customer, created once (the account id is the idempotency key)."""
    found = StripeCustomer.objects(id=account_id).first()
    if found:
        return found.customer_id
    params: dict[str, Any] = {"metadata": {"account_id": account_id}}
    if email:
        params["email"] = email
    created = _call("customer", client().v1.customers.create, params=params,
                    options={"idempotency_key": f"customer-{account_id}"})  # fmt: skip
    try:
        StripeCustomer(id=account_id, customer_id=created.id).save(force_insert=True)
    except me.NotUniqueError:  # a racing request stored its customer first: that one stands
        return StripeCustomer.objects(id=account_id).first().customer_id
    return created.id


# --------------------------------------------------------------------------- saved cards
def card_of(method: Any) -> dict[str, Any]:
    card = method.card
    return {"payment_method_id": method.id, "brand": card.brand, "last4": card.last4,
            "exp_month": int(card.exp_month), "exp_year": int(card.exp_year)}  # fmt: skip


def cards(account_id: str) -> dict[str, Any]:
    """The account's saved cards (brand, last four, expiry) and which is the default."""
    found = StripeCustomer.objects(id=account_id).first()
    if not found:
        return {"cards": [], "default_payment_method": None}
    listed = _call("list cards", client().v1.payment_methods.list,
                   params={"customer": found.customer_id, "type": "card"})  # fmt: skip
    saved = [card_of(m) for m in listed.data]
    default = found.default_payment_method if any(c["payment_method_id"] == found.default_payment_method
                                                  for c in saved) else None  # fmt: skip
    for card in saved:
        card["default"] = card["payment_method_id"] == default
    return {"cards": saved, "default_payment_method": default}


def default_card(account_id: str) -> dict[str, Any] | None:
    """The card automatic renewals are charged to, as stored when it was made the default."""
    found = StripeCustomer.objects(id=account_id).first()
    return dict(found.default_card) if found and found.default_payment_method and found.default_card else None


def _make_default(account_id: str, method: Any) -> None:
    StripeCustomer.objects(id=account_id).update_one(set__default_payment_method=method.id,
                                                     set__default_card=card_of(method))  # fmt: skip


def start_setup(account_id: str, email: str | None = None) -> dict[str, Any]:
    """A SetupIntent for Stripe.js to collect a card with (its client secret goes to the page)."""
    _refuse_without_stripe()
    setup = _call("setup intent", client().v1.setup_intents.create,
                  params={"customer": customer_id(account_id, email), "usage": "off_session",
                          "payment_method_types": ["card"], "metadata": {"account_id": account_id}})  # fmt: skip
    return {"setup_intent_id": setup.id, "client_secret": setup.client_secret,
            "publishable_key": publishable_key(), "js_url": js_url()}  # fmt: skip


def own_card(account_id: str, payment_method_id: Any) -> Any:
    """A card attached to the account's customer, or NotFound."""
    found = StripeCustomer.objects(id=account_id).first()
    if not found or not isinstance(payment_method_id, str) or not payment_method_id.startswith("pm_"):
        raise NotFound("card")
    method = _call("card", client().v1.payment_methods.retrieve, payment_method_id)
    if method.customer != found.customer_id:
        raise NotFound("card")
    return method


def finish_setup(account_id: str, setup_intent_id: Any, make_default: bool = False) -> dict[str, Any]:
    """The card a SetupIntent of this account collected, attached to its customer (saved; with
    `make_default` the one automatic renewals are charged to); a SetupIntent of someone else, or not
    succeeded, is refused."""
    _refuse_without_stripe()
    found = StripeCustomer.objects(id=account_id).first()
    if not found or not isinstance(setup_intent_id, str) or not setup_intent_id.startswith("seti_"):
        raise Invalid("invalid_input", {"setup_intent_id": "invalid"})
    setup = _call("setup intent", client().v1.setup_intents.retrieve, setup_intent_id)
    if setup.customer != found.customer_id:
        raise NotFound("setup_intent")
    if setup.status != "succeeded" or not setup.payment_method:
        raise CommandError("card_not_confirmed", {"setup_intent_id": setup.status})
    method = _call("card", client().v1.payment_methods.retrieve, setup.payment_method)
    if method.customer != found.customer_id:  # Stripe attaches it itself; its stand-in does not
        try:
            method = client().v1.payment_methods.attach(method.id, params={"customer": found.customer_id})
        except stripe.CardError as exc:
            raise CommandError(_failure_code(exc), {"card": "declined"}) from None
        except stripe.StripeError as exc:
            log.warning("stripe attach failed: %r", exc)
            raise Unavailable("payment_provider_unavailable") from None
    if make_default:
        _make_default(account_id, method)
    return card_of(method)


def set_default(account_id: str, payment_method_id: Any) -> dict[str, Any]:
    _make_default(account_id, own_card(account_id, payment_method_id))
    return cards(account_id)


def remove_card(account_id: str, payment_method_id: Any) -> dict[str, Any]:
    method = own_card(account_id, payment_method_id)
    _call("detach", client().v1.payment_methods.detach, method.id)
    StripeCustomer.objects(id=account_id, default_payment_method=method.id).update_one(
        set__default_payment_method=None, set__default_card={}
    )
    return cards(account_id)


# --------------------------------------------------------------------------- payments
def _failure_code(exc: stripe.StripeError) -> str:
    code = getattr(exc, "code", None) or ""
    decline = (getattr(exc, "error", None) and getattr(exc.error, "decline_code", None)) or ""
    for candidate in (decline, code):
        if candidate in FAILURE_CODES:
            return candidate
    return "card_declined"


class StripeProvider:
    """`start` opens our payment session; a card is charged by `confirm_card` once Stripe.js has
    collected it, BLIK and Przelewy24 are confirmed by Stripe.js against the PaymentIntent made here."""

    def __init__(self, method: str) -> None:
        self.method = method

    def start(self, request: PaymentRequest) -> dict[str, Any]:
        session = open_session(request, self.method)
        if self.method != "card" and not session.provider_ref:
            create_intent(session, {"payment_method_types": [STRIPE_TYPES[self.method]]})
        return {"method": self.method, "status": "redirect" if session.status == "created" else session.status,
                "payment_id": session.id, "amount": session.amount,
                "redirect_url": f"{settings.PUBLIC_URL}/pay/{session.id}"}  # fmt: skip


def open_session(request: PaymentRequest, method: str, off_session: bool = False) -> PaymentIntent:
    """Our payment session (the same one when the same id is started again)."""
    session = PaymentIntent(id=request.payment_id or new_id(), account_id=request.account_id,
                            invoice_ids=request.invoice_ids, amount=request.amount, method=method,
                            provider="stripe", return_url=request.return_url, off_session=off_session,
                            created_at=clock.now().isoformat())  # fmt: skip
    try:
        session.save(force_insert=True)
    except me.NotUniqueError:
        session = PaymentIntent.objects(id=session.id).first()
    return session


def create_intent(session: PaymentIntent, params: dict[str, Any]) -> Any:
    """The session's one PaymentIntent (the session id is the idempotency key); its id and client
    secret are stored on the session. A card refusal (CardError) passes through."""
    body = {"amount": session.amount, "currency": "pln", "metadata": {"payment_session": session.id,
                                                                     "account_id": session.account_id}, **params}  # fmt: skip
    if "customer" not in body:
        body["customer"] = customer_id(session.account_id)
    intent = _call("payment intent", client().v1.payment_intents.create, params=body,
                   options={"idempotency_key": f"session-{session.id}"})  # fmt: skip
    PaymentIntent.objects(id=session.id).update_one(set__provider_ref=intent.id,
                                                    set__client_secret=intent.client_secret)  # fmt: skip
    session.reload()
    return intent


def confirm_card(session: PaymentIntent, payment_method_id: str, off_session: bool) -> dict[str, Any]:
    """Charge the card for the session: {status: succeeded | requires_action (client_secret) | failed
    (code)}. Settling the session is the caller's (from our figures)."""
    params = {"customer": customer_id(session.account_id), "payment_method": payment_method_id,
              "payment_method_types": ["card"], "confirm": True}  # fmt: skip
    if off_session:
        params["off_session"] = True
    try:
        intent = create_intent(session, params)
    except stripe.CardError as exc:
        return {"status": "failed", "code": _failure_code(exc)}
    if intent.status == "requires_action":
        if off_session:  # nobody is there to authenticate: the customer pays by the link in the mail
            _call("cancel", client().v1.payment_intents.cancel, intent.id)
            return {"status": "failed", "code": "authentication_required"}
        return {"status": "requires_action", "client_secret": intent.client_secret}
    if intent.status == "succeeded":
        return {"status": "succeeded"}
    return {"status": "failed", "code": "card_declined"}


def intent_status(session: PaymentIntent) -> str | None:
    """What Stripe says of the session's PaymentIntent now (after Stripe.js finished in the browser)."""
    if not session.provider_ref:
        return None
    return _call("payment intent", client().v1.payment_intents.retrieve, session.provider_ref).status


def refund(session: PaymentIntent, amount: int, key: str, metadata: dict[str, str]) -> Any:
    """Give `amount` of the session's payment back to the card (once per `key`); `metadata` names
    what it refunds, so its event can be matched."""
    return _call("refund", client().v1.refunds.create,
                 params={"payment_intent": session.provider_ref, "amount": amount,
                         "metadata": {"payment_session": session.id, **metadata}},
                 options={"idempotency_key": key})  # fmt: skip


def webhook_secret() -> str:
    return os.environ.get("STRIPE_WEBHOOK_SECRET", "")


def verify_event(body: Any, signature: Any) -> stripe.Event:
    """The event, once its `Stripe-Signature` is right and recent (the SDK's check); else
    CommandError invalid_signature (4xx, logged)."""
    if not isinstance(body, str) or not isinstance(signature, str) or not webhook_secret():
        raise CommandError("invalid_signature")
    try:
        return stripe.Webhook.construct_event(body, signature, webhook_secret())
    except (ValueError, stripe.SignatureVerificationError) as exc:
        log.warning("stripe webhook refused: %r", exc)
        raise CommandError("invalid_signature") from None


def session_of(intent: dict[str, Any]) -> PaymentIntent | None:
    """Our session a PaymentIntent (as an event carries it) belongs to: by the id stored on the
    session, else by the session id we put in its metadata (an event that overtook our own answer)."""
    by_ref = PaymentIntent.objects(provider_ref=intent.get("id")).first() if intent.get("id") else None
    if by_ref:
        return by_ref
    session_id = (intent.get("metadata") or {}).get("payment_session")
    found = PaymentIntent.objects(id=session_id, provider="stripe").first() if isinstance(session_id, str) else None
    if found and found.provider_ref and found.provider_ref != intent.get("id"):
        return None  # the session has another PaymentIntent: this one is not ours to apply
    return found


def first_time(event_id: str, event_type: str) -> bool:
    """Record the event id; False when it was recorded before (a redelivery)."""
    try:
        StripeEvent(id=event_id, type=event_type, received_at=clock.now().isoformat()).save(force_insert=True)
    except me.NotUniqueError:
        return False
    return True


def forget(event_id: str) -> None:
    """An event whose application failed is taken again when Stripe redelivers it."""
    StripeEvent.objects(id=event_id).delete()


class StripeGuard(DependencyProvider):
    """Billing's start-up check of the Stripe settings (see `check_configuration`)."""

    def setup(self) -> None:
        check_configuration()
