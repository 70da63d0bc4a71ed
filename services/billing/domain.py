"""Billing aggregates: every money and subscription decision is made here, with no I/O.

Streams
-------
* `customer-<account_id>` (Customer): the account's orders, invoice states,
  payments, credit balance and hosting services. Putting them in one stream makes
  "pay an invoice" atomic: `payment_received`, `invoice_paid`, `credit_added`,
  `service_renewed` / `service_unsuspended` are one commit, so a renewal extends
  the due date exactly once and a payment is applied exactly once (payment ids are
  remembered), whatever retries or concurrent timers do.
* `invoices-<YYYY-MM>` (InvoiceLedger): the month's invoice register. The
  `invoice_issued` event carries the whole frozen invoice AND its number, and the
  number is derived from the position in this stream. The append is made with an
  expected version, so two racing issuers cannot both win; the loser re-reads and
  takes the next number. A number therefore exists only if the invoice exists:
  there is no separate counter that could be incremented by a command that then
  fails, hence no gap and no reuse.
* `offer` (Offer): the staff-managed banner.

An invoice is first *requested* in the customer stream (by `order_placed` or
`renewal_invoice_requested`, which fix its id, month and content) and then
*issued* in the ledger. Issuing is idempotent per invoice id within the fixed
month, so a crash between the two steps leaves a request that the billing cycle
(or the retried checkout) completes later, never a duplicate and never a gap.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import Any

from kernel.aggregate import Aggregate
from kernel.dates import iso, parse  # noqa: F401 (billing modules import them from here)
from kernel.errors import CommandError, Conflict, Invalid, NotFound, PaymentRequired
from kernel.events import Event, NewEvent
from kernel.money import CURRENCY, div_half_up, vat_of
from services.billing.catalog import CYCLES, add_months

NAMESPACE = uuid.UUID("6f1d2c1e-7a4b-4b8e-9d7c-2f0a1b3c4d5e")
SERVICE_STATUSES = ("pending", "active", "suspended", "terminated", "cancelled")
INVOICE_STATUSES = ("unpaid", "paid", "cancelled", "refunded")
LIVE = ("active", "suspended")
WITHDRAWAL_DAYS = 14  # a consumer's right of withdrawal from a distance contract (EU, from 19 June 2026)


def det_id(*parts: str) -> str:
    """A deterministic id: the same inputs always name the same thing (idempotent retries)."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def customer_stream(account_id: str) -> str:
    return f"customer-{account_id}"


def ledger_stream(month: str) -> str:
    return f"invoices-{month}"


def month_of(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


@dataclass(frozen=True)
class Policy:
    """Renewal and overdue settings (environment, read when a cycle runs)."""

    renewal_days: int = 14
    grace_days: int = 5
    termination_days: int = 30
    payment_days: int = 7
    reminder_days: tuple[int, ...] = (1, 3)

    @classmethod
    def from_env(cls) -> Policy:
        reminders = os.environ.get("REMINDER_DAYS", "1,3")
        return cls(
            renewal_days=int(os.environ.get("RENEWAL_DAYS", "14")),
            grace_days=int(os.environ.get("GRACE_DAYS", "5")),
            termination_days=int(os.environ.get("TERMINATION_DAYS", "30")),
            payment_days=int(os.environ.get("PAYMENT_DAYS", "7")),
            reminder_days=tuple(sorted(int(d) for d in reminders.split(",") if d.strip())),
        )


# --------------------------------------------------------------------------- ledger
class InvoiceLedger(Aggregate):
    """One month's invoice register; the sequence number is the position in the stream."""

    stream_prefix = "invoices-"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.issued: dict[str, str] = {}  # invoice_id -> number

    @property
    def month(self) -> str:
        return self.stream_id.removeprefix(self.stream_prefix)

    def on_invoice_issued(self, data: dict, _: Event) -> None:
        self.issued[data["invoice_id"]] = data["number"]

    def issue(self, invoice_id: str, payload: dict[str, Any]) -> list[NewEvent]:
        if invoice_id in self.issued:
            return []  # already issued by a concurrent or earlier attempt
        sequence, number = self.next_number("FV")
        return [
            NewEvent("invoice_issued", {**payload, "invoice_id": invoice_id, "number": number, "sequence": sequence})
        ]

    def next_number(self, series: str) -> tuple[int, str]:
        """The next position in the month's register and its number: <series>/<year>/<month>/<n>."""
        sequence = len(self.issued) + 1
        year, month = self.month.split("-")
        return sequence, f"{series}/{year}/{month}/{sequence:04d}"


# --------------------------------------------------------------------------- offer
class Offer(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.current: dict[str, Any] = {}
        self.set_at: dt.datetime | None = None  # when the current offer was set
        self.told: set[str] = set()  # "offer_started"/"offer_ended" already said of the current offer

    def on_offer_set(self, data: dict, event: Event) -> None:
        # offer_set events stored before the English texts existed lack their keys: no English text
        self.current = {"title_en": "", "text_en": "", **data}
        self.set_at, self.told = event.occurred_at, set()

    def on_offer_started(self, data: dict, _: Event) -> None:
        self.told.add("offer_started")

    def on_offer_ended(self, data: dict, _: Event) -> None:
        self.told.add("offer_ended")

    def set(self, offer: dict[str, Any]) -> list[NewEvent]:
        return [] if offer == self.current else [NewEvent("offer_set", offer)]

    def passed_in_time(self, now: dt.datetime) -> list[NewEvent]:
        """The billing cycle's part (issue #17): the offer's start or end passed at `now` since it was set,
        said once each, so the dashboard's view learns that the banner appeared or went. An offer set
        within its window or after its end was told by `offer_set` itself; a start the cycle first sees
        after the end is not told (the end is)."""
        if not self.current or self.set_at is None:
            return []
        start, end = parse(self.current["starts_at"]), parse(self.current["ends_at"])
        about = {k: self.current[k] for k in ("title", "starts_at", "ends_at")}
        if self.set_at < end <= now and "offer_ended" not in self.told:
            return [NewEvent("offer_ended", about)]
        if self.set_at < start <= now < end and "offer_started" not in self.told:
            return [NewEvent("offer_started", about)]
        return []


def validate_offer(title: str, text: str, link: str, starts_at: Any, ends_at: Any,
                   discount_code: str | None, discount_percent: int | None,
                   title_en: str | None = None, text_en: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The offer as `offer_set` stores it. `title`/`text` are the Polish banner; `title_en`/`text_en`
    the optional English one ("" when absent). The English version exists when `title_en` does, so
    an English text needs an English title (`title_en_required`); a title alone is enough, as in Polish."""
    errors: dict[str, str] = {}
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "required"
    elif len(title) > 120:
        errors["title"] = "too_long"
    if not isinstance(text, str) or len(text) > 1000:
        errors["text"] = "invalid_text"
    title_en = "" if title_en is None else title_en
    text_en = "" if text_en is None else text_en
    if not isinstance(title_en, str) or len(title_en) > 120:
        errors["title_en"] = "too_long"
    if not isinstance(text_en, str) or len(text_en) > 1000:
        errors["text_en"] = "invalid_text"
    elif text_en.strip() and "title_en" not in errors and not title_en.strip():
        errors["title_en"] = "title_en_required"
    if link and (not isinstance(link, str) or not link.startswith(("https://", "http://", "/"))):
        errors["link"] = "invalid_link"
    try:
        start, end = parse(starts_at), parse(ends_at)
    except (TypeError, ValueError):
        start = end = None
        errors["starts_at"] = "invalid_date"
    if start is None and "starts_at" not in errors:
        errors["starts_at"] = "required"
    if end is None and "starts_at" not in errors:
        errors["ends_at"] = "required"
    if start and end and end <= start:
        errors["ends_at"] = "ends_before_start"
    code = (discount_code or "").strip().upper()
    percent = discount_percent or 0
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 90:
        errors["discount_percent"] = "invalid_percent"
    elif code and not percent:
        errors["discount_percent"] = "required"
    if code and (len(code) > 32 or not code.replace("-", "").isalnum()):
        errors["discount_code"] = "invalid_code"
    if errors:
        raise Invalid("invalid_input", errors)
    return {"title": title.strip(), "text": (text or "").strip(), "link": link or "", "starts_at": iso(start),
            "ends_at": iso(end), "discount_code": code or None, "discount_percent": percent if code else 0,
            "title_en": title_en.strip(), "text_en": text_en.strip()}  # fmt: skip


def offer_active(offer: dict[str, Any] | None, now: dt.datetime) -> bool:
    if not offer:
        return False
    return parse(offer["starts_at"]) <= now < parse(offer["ends_at"])


# --------------------------------------------------------------------------- customer
class Customer(Aggregate):
    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.credit = 0
        self.orders: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, dict[str, Any]] = {}  # invoice_id -> the request event's data
        self.services: dict[str, dict[str, Any]] = {}
        self.payments: set[str] = set()
        self.cart_orders: dict[str, str] = {}  # cart key (one version of the cart) -> the order it became
        self.card_notices: set[str] = set()  # "<card>:<renewal date>" expiry notices given (issue #15)
        self.renewal_windows: set[str] = set()  # "<service>:<period due>" windows opened (issue #17)
        # (invoice_id, line index) -> the corrections that took a downgrade's credit off that paid line
        self.line_corrections: dict[tuple[str, int], list[dict[str, Any]]] = {}

    @property
    def account_id(self) -> str:
        return self.stream_id.removeprefix("customer-")

    # --- state changes ------------------------------------------------------
    def _track_invoice(self, data: dict, kind: str) -> None:
        self.requests[data["invoice_id"]] = data
        self.invoices[data["invoice_id"]] = {
            "invoice_id": data["invoice_id"],
            "kind": kind,
            "order_id": data.get("order_id"),
            "service_id": data.get("service_id"),
            "period_due": parse(data.get("period_due")),
            "lines": data["lines"],
            "total_gross": data["total_gross"],
            "due_date": parse(data["due_date"]),
            "month": data["month"],
            "status": "unpaid",
            "paid": 0,
            "reminder_stage": 0,
        }

    def on_order_placed(self, data: dict, _: Event) -> None:
        self.orders[data["order_id"]] = data
        if data.get("cart_key"):
            self.cart_orders[data["cart_key"]] = data["order_id"]
        if data.get("invoice_id"):
            self._track_invoice(data, "order")

    def on_renewal_invoice_requested(self, data: dict, _: Event) -> None:
        self._track_invoice(data, "renewal")
        self.services[data["service_id"]]["renewal_invoices"][data["period_due"]] = data["invoice_id"]

    def on_payment_received(self, data: dict, _: Event) -> None:
        self.payments.add(data["payment_id"])
        for allocation in data.get("allocations", []):
            self.invoices[allocation["invoice_id"]]["paid"] += allocation["amount"]

    def on_credit_added(self, data: dict, _: Event) -> None:
        self.credit += data["amount"]

    def on_credit_used(self, data: dict, _: Event) -> None:
        self.credit -= data["amount"]
        self.invoices[data["invoice_id"]]["paid"] += data["amount"]

    def on_invoice_paid(self, data: dict, _: Event) -> None:
        self.invoices[data["invoice_id"]]["status"] = "paid"

    def on_invoice_cancelled(self, data: dict, _: Event) -> None:
        self.invoices[data["invoice_id"]]["status"] = "cancelled"

    def on_invoice_refunded(self, data: dict, _: Event) -> None:
        self.invoices[data["invoice_id"]]["status"] = "refunded"

    def on_invoice_overdue_reminder(self, data: dict, _: Event) -> None:
        self.invoices[data["invoice_id"]]["reminder_stage"] = data["reminder_no"]

    def on_service_activated(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]] = {
            **data,
            "status": "active",
            "next_due_date": parse(data["next_due_date"]),
            "cancel_at_period_end": False,
            "renewal_invoices": {},
            "auto_renew": False,
            "first_due_date": parse(data["next_due_date"]),  # the end of the period the order paid for
            "downgrades": 0,
        }

    def on_service_auto_renew_set(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["auto_renew"] = data["auto_renew"]

    def on_card_expiring(self, data: dict, _: Event) -> None:
        self.card_notices.add(f"{data['payment_method_id']}:{data['renews_on']}")

    def on_auto_charge_failed(self, data: dict, _: Event) -> None:
        pass

    def on_service_renewal_window_opened(self, data: dict, _: Event) -> None:
        self.renewal_windows.add(f"{data['service_id']}:{data['next_due_date']}")

    def on_service_renewed(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["next_due_date"] = parse(data["next_due_date"])

    def on_service_suspended(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["status"] = "suspended"

    def on_service_unsuspended(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["status"] = "active"

    def on_service_terminated(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["status"] = "terminated"

    def on_service_cancelled(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["status"] = "cancelled"

    def on_service_cancellation_requested(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["cancel_at_period_end"] = True

    def on_service_plan_changed(self, data: dict, _: Event) -> None:
        service = self.services[data["service_id"]]
        service["plan"] = data["plan"]
        if data.get("direction") == "downgrade":
            service["downgrades"] = service.get("downgrades", 0) + 1
        for taken in data.get("corrections") or []:
            self.line_corrections.setdefault((taken["invoice_id"], taken["line"]), []).append(taken)

    def on_service_withdrawn(self, data: dict, _: Event) -> None:
        self.services[data["service_id"]]["withdrawn"] = True

    # --- helpers ----------------------------------------------------------
    def outstanding(self, invoice_id: str) -> int:
        invoice = self.invoices[invoice_id]
        return max(invoice["total_gross"] - invoice["paid"], 0)

    def unpaid_invoice_ids(self) -> list[str]:
        unpaid = [i for i in self.invoices.values() if i["status"] == "unpaid"]
        return [i["invoice_id"] for i in sorted(unpaid, key=lambda i: (i["due_date"], i["invoice_id"]))]

    def _service_data(self, service: dict[str, Any]) -> dict[str, Any]:
        return {"account_id": self.account_id, "service_id": service["service_id"], "name": service["name"],
                "plan": service["plan"], "domain": service.get("domain")}  # fmt: skip

    def _own_invoice(self, invoice_id: str) -> dict[str, Any]:
        invoice = self.invoices.get(invoice_id)
        if not invoice:
            raise NotFound("invoice")
        return invoice

    # --- decisions: orders and invoice requests ---------------------------
    def place_order(self, order: dict[str, Any]) -> list[NewEvent]:
        """`order` carries order_id, invoice_id (None when only existing invoices
        are reused), lines, totals, month, dates, buyer, items, reused_invoice_ids,
        and `cart_key` when it is made from the cart: one version of a cart becomes
        at most one order, whatever idempotency keys concurrent checkouts carry."""
        if order["order_id"] in self.orders:
            return []  # the same idempotency key: the order already exists
        if order.get("cart_key") and order["cart_key"] in self.cart_orders:
            return []  # this very cart was ordered by another request: that order stands (`placed_order`)
        for invoice_id in order.get("reused_invoice_ids", []):
            if self._own_invoice(invoice_id)["status"] != "unpaid":
                raise Conflict("invoice_not_payable", {"items": "renewal_already_paid"})
        if not order.get("invoice_id") and not order.get("reused_invoice_ids"):
            raise CommandError("cart_empty")
        return [NewEvent("order_placed", {"account_id": self.account_id, **order})]

    def placed_order(self, order_id: str, cart_key: str | None = None) -> dict[str, Any] | None:
        """The order a checkout ended in: its own (by the idempotency key's order id), else the
        one its cart version already became."""
        if order_id in self.orders:
            return self.orders[order_id]
        placed = self.cart_orders.get(cart_key) if cart_key else None
        return self.orders[placed] if placed else None

    def renewals_due(self, now: dt.datetime, policy: Policy) -> list[tuple[str, dt.datetime]]:
        """(service_id, period_due) pairs that need a renewal invoice now."""
        due = []
        for service in self.services.values():
            if service["status"] not in LIVE or service["cancel_at_period_end"]:
                continue
            period_due = service["next_due_date"]
            if (
                now >= period_due - dt.timedelta(days=policy.renewal_days)
                and iso(period_due) not in service["renewal_invoices"]
            ):
                due.append((service["service_id"], period_due))
        return due

    def renewal_windows_opening(self, now: dt.datetime, policy: Policy) -> list[dict[str, Any]]:
        """Live services (not ending with their period) whose current period entered its renewal window
        (RENEWAL_DAYS before the due date) by `now` and was not yet said to: the dashboard's renewals
        due show them from then on, which nothing else tells the dashboard's view when the renewal invoice
        was requested before (renewed early) or cannot be (a plan withdrawn)."""
        opening = []
        for service in self.services.values():
            if service["status"] not in LIVE or service["cancel_at_period_end"]:
                continue
            due = service["next_due_date"]
            opens_at = due - dt.timedelta(days=policy.renewal_days)
            if now >= opens_at and f"{service['service_id']}:{iso(due)}" not in self.renewal_windows:
                opening.append({**self._service_data(service), "next_due_date": iso(due), "opens_at": iso(opens_at)})
        return opening

    def open_renewal_windows(self, now: dt.datetime, policy: Policy) -> list[NewEvent]:
        """`service_renewal_window_opened` once per service and period (state-based: deciding again on
        the same state decides nothing)."""
        return [NewEvent("service_renewal_window_opened", data) for data in self.renewal_windows_opening(now, policy)]

    def request_renewal(self, service_id: str, period_due: dt.datetime, invoice: dict[str, Any]) -> list[NewEvent]:
        """Request the renewal invoice for one period; nothing if already requested."""
        service = self.services.get(service_id)
        if not service:
            raise NotFound("service")
        if service["status"] not in LIVE or service["cancel_at_period_end"]:
            raise Conflict("service_not_renewable")
        if service["next_due_date"] != period_due or iso(period_due) in service["renewal_invoices"]:
            return []
        data = {"account_id": self.account_id, "service_id": service_id, "period_due": iso(period_due), **invoice}
        return [NewEvent("renewal_invoice_requested", data)]

    def renewal_invoice_for(self, service_id: str) -> str | None:
        service = self.services.get(service_id)
        if not service:
            return None
        return service["renewal_invoices"].get(iso(service["next_due_date"]))

    # --- decisions: payments ----------------------------------------------
    def _payable(self, invoice_ids: list[str], numbers: dict[str, str]) -> list[str]:
        out = []
        for invoice_id in invoice_ids:
            invoice = self._own_invoice(invoice_id)
            if invoice["status"] == "unpaid" and invoice_id not in numbers:
                raise Conflict("invoice_not_issued")
            if invoice["status"] == "unpaid" and invoice_id not in out:
                out.append(invoice_id)
        return out

    def receive_payment(self, payment_id: str, method: str, amount: int, invoice_ids: list[str],
                        numbers: dict[str, str], now: dt.datetime,
                        credit_reason: str = "overpayment") -> list[NewEvent]:  # fmt: skip
        """Apply money received from outside, once per payment id. It settles the
        listed invoices in order; what is left over (or arrives for an invoice
        already paid or cancelled) becomes credit."""
        if payment_id in self.payments:
            return []
        if not isinstance(amount, int) or amount <= 0:
            raise CommandError("invalid_amount")
        allocations, settled, remaining = [], [], amount
        for invoice_id in self._payable(invoice_ids, numbers):
            take = min(remaining, self.outstanding(invoice_id))
            if take <= 0:
                break
            paid_total = self.invoices[invoice_id]["paid"] + take
            allocations.append({"invoice_id": invoice_id, "amount": take, "paid_total": paid_total})
            remaining -= take
            if take == self.outstanding(invoice_id):
                settled.append(invoice_id)
        events = [NewEvent("payment_received", {
            "account_id": self.account_id, "payment_id": payment_id, "method": method, "amount": amount,
            "currency": CURRENCY, "invoice_ids": list(invoice_ids), "allocations": allocations,
            "received_at": iso(now)})]  # fmt: skip
        for invoice_id in settled:
            events += self._settle(invoice_id, numbers[invoice_id], method, now)
        if remaining:
            events.append(NewEvent("credit_added", {"account_id": self.account_id, "amount": remaining,
                                                    "currency": CURRENCY, "reason": credit_reason,
                                                    "payment_id": payment_id,
                                                    "balance": self.credit + remaining}))  # fmt: skip
        return events

    def pay_from_credit(self, invoice_ids: list[str], numbers: dict[str, str], now: dt.datetime) -> list[NewEvent]:
        """Pay whole invoices from the balance; all of them or none."""
        payable = self._payable(invoice_ids, numbers)
        needed = sum(self.outstanding(i) for i in payable)
        if needed > self.credit:
            raise PaymentRequired("insufficient_credit", {"credit": str(self.credit)})
        events: list[NewEvent] = []
        balance = self.credit
        for invoice_id in payable:
            amount = self.outstanding(invoice_id)
            if amount:
                balance -= amount
                events.append(NewEvent("credit_used", {"account_id": self.account_id, "invoice_id": invoice_id,
                                                       "amount": amount, "currency": CURRENCY, "balance": balance,
                                                       "paid_total": self.invoices[invoice_id]["total_gross"]}))  # fmt: skip
            events += self._settle(invoice_id, numbers[invoice_id], "credit", now)
        return events

    def add_credit(self, amount: int, reason: str, reference: str) -> list[NewEvent]:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise Invalid("invalid_input", {"amount": "invalid_amount"})
        return [NewEvent("credit_added", {"account_id": self.account_id, "amount": amount, "currency": CURRENCY,
                                          "reason": reason, "reference": reference,
                                          "balance": self.credit + amount})]  # fmt: skip

    def refund(self, invoice_id: str, number: str, now: dt.datetime, refund_id: str | None = None) -> list[NewEvent]:
        """Return what was paid for a paid invoice to credit, or with `refund_id` (Stripe's refund)
        to the card; a second refund is refused, the same card refund told again changes nothing."""
        invoice = self._own_invoice(invoice_id)
        if refund_id and invoice["status"] == "refunded":
            return []
        if invoice["status"] != "paid":
            raise Conflict("invoice_not_refundable")
        amount = invoice["paid"]
        events = [NewEvent("invoice_refunded", {"account_id": self.account_id, "invoice_id": invoice_id,
                                                "number": number, "amount": amount, "currency": CURRENCY,
                                                "refunded_at": iso(now), "method": "card" if refund_id else "credit",
                                                "refund_id": refund_id})]  # fmt: skip
        if amount and not refund_id:
            events.append(NewEvent("credit_added", {"account_id": self.account_id, "amount": amount,
                                                    "currency": CURRENCY, "reason": "refund", "invoice_id": invoice_id,
                                                    "balance": self.credit + amount}))  # fmt: skip
        return events

    def _settle(self, invoice_id: str, number: str, method: str, now: dt.datetime) -> list[NewEvent]:
        """invoice_paid and what it sets off: new services, renewal, unsuspension."""
        invoice = self.invoices[invoice_id]
        events = [NewEvent("invoice_paid", {
            "account_id": self.account_id, "invoice_id": invoice_id, "number": number,
            "order_id": invoice["order_id"], "lines": invoice["lines"], "paid_at": iso(now), "method": method,
            "kind": invoice["kind"], "service_id": invoice["service_id"]})]  # fmt: skip
        if invoice["kind"] == "order":
            for index, line in enumerate(invoice["lines"]):
                if line["kind"] == "hosting_plan_change":
                    events += self._upgrade_paid(line, invoice_id, now)
                if line["kind"] != "hosting":
                    continue
                params = line["params"]
                events.append(NewEvent("service_activated", {
                    "account_id": self.account_id, "service_id": det_id("service", invoice_id, str(index)),
                    "name": params.get("name") or line["description"], "plan": params["plan"],
                    "domain": params.get("domain"), "cycle": params["cycle"],
                    "next_due_date": iso(add_months(now, CYCLES[params["cycle"]])),
                    "invoice_id": invoice_id, "order_id": invoice["order_id"], "activated_at": iso(now)}))  # fmt: skip
        elif invoice["kind"] == "renewal":
            service = self.services.get(invoice["service_id"])
            if service and service["status"] in LIVE and service["next_due_date"] == invoice["period_due"]:
                next_due = add_months(service["next_due_date"], CYCLES[service["cycle"]])
                events.append(NewEvent("service_renewed", {**self._service_data(service), "invoice_id": invoice_id,
                                                           "previous_due_date": iso(service["next_due_date"]),
                                                           "next_due_date": iso(next_due)}))  # fmt: skip
                if service["status"] == "suspended":
                    events.append(NewEvent("service_unsuspended", self._service_data(service)))
        return events

    # --- decisions: automatic renewal charges (issue #15) --------------------
    def set_auto_renew(self, service_id: str, auto_renew: Any) -> list[NewEvent]:
        service = self.services.get(service_id)
        if not service:
            raise NotFound("service")
        if not isinstance(auto_renew, bool):
            raise Invalid("invalid_input", {"auto_renew": "invalid_type"})
        if service.get("auto_renew", False) == auto_renew:
            return []
        return [NewEvent("service_auto_renew_set", {"account_id": self.account_id, "service_id": service_id,
                                                    "auto_renew": auto_renew})]  # fmt: skip

    def charge_failed(self, failure: dict[str, Any]) -> list[NewEvent]:
        """`failure`: invoice_id, number, amount, attempt, code, next_retry_at."""
        return [NewEvent("auto_charge_failed", {"account_id": self.account_id, "currency": CURRENCY, **failure})]

    def card_expiring(self, card: dict[str, Any], renews_on: dt.datetime) -> list[NewEvent]:
        """Once per card and renewal: the default card expires before that renewal."""
        if f"{card['payment_method_id']}:{iso(renews_on)}" in self.card_notices:
            return []
        return [NewEvent("card_expiring", {"account_id": self.account_id, "renews_on": iso(renews_on),
                                           **{k: card[k] for k in ("payment_method_id", "brand", "last4",
                                                                   "exp_month", "exp_year")}})]  # fmt: skip

    # --- decisions: lifecycle ------------------------------------------------
    def request_cancellation(self, service_id: str, when: str, now: dt.datetime, unused: int = 0,
                             corrections: list[dict[str, Any]] | None = None) -> list[NewEvent]:  # fmt: skip
        """End of period (no money back) or at once: then `unused` (the unused part of what was paid for
        the service, gross) is credited; with `corrections` (the correcting invoices that took it off the
        paid lines, each with its `correction_id` and `gross`) one credit per correction, against it."""
        service = self.services.get(service_id)
        if not service:
            raise NotFound("service")
        if when not in ("end_of_period", "immediate"):
            raise Invalid("invalid_input", {"when": "invalid_choice"})
        if service["status"] not in LIVE:
            raise Conflict("service_not_active")
        events: list[NewEvent] = []
        if when == "immediate":
            events.append(NewEvent("service_cancelled", {**self._service_data(service), "reason": "customer"}))
            if corrections:
                balance = self.credit
                for taken in (t for t in corrections if t["gross"] > 0):
                    balance += taken["gross"]
                    events.append(NewEvent("credit_added", {
                        "account_id": self.account_id, "amount": taken["gross"], "currency": CURRENCY,
                        "reason": "cancellation", "balance": balance, "invoice_id": taken["correction_id"],
                        "reference": service_id}))  # fmt: skip
            elif unused > 0:
                events.append(self._credit(unused, "cancellation", reference=service_id))
            events += self._pending_upgrades(service_id)
        elif not service["cancel_at_period_end"]:
            events.append(NewEvent("service_cancellation_requested", {
                **self._service_data(service), "effective_at": iso(service["next_due_date"])}))  # fmt: skip
        # An unpaid renewal for a period that will not come is withdrawn.
        for invoice_id in service["renewal_invoices"].values():
            if self.invoices[invoice_id]["status"] == "unpaid" and self.invoices[invoice_id]["paid"] == 0:
                events.append(self._cancel_invoice(invoice_id, "service_cancelled"))
        return events

    def _credit(self, amount: int, reason: str, **about: str) -> NewEvent:
        return NewEvent("credit_added", {"account_id": self.account_id, "amount": amount, "currency": CURRENCY,
                                         "reason": reason, "balance": self.credit + amount, **about})  # fmt: skip

    def _live_service(self, service_id: str) -> dict[str, Any]:
        service = self.services.get(service_id)
        if not service:
            raise NotFound("service")
        if service["status"] not in LIVE:
            raise Conflict("service_not_active")
        return service

    def change_plan(self, service_id: str, plan: str, credit: int, now: dt.datetime,
                    corrections: list[dict[str, Any]] | None = None) -> list[NewEvent]:  # fmt: skip
        """A downgrade: the plan changes at once, the prorated difference (`credit`, gross) is credited.
        `corrections` (see `downgrade_takes`, each with its `correction_id`) are the correcting invoices
        that take the difference off the paid lines: then `credit` is their sum, credited per correction."""
        service = self._live_service(service_id)
        if plan == service["plan"]:
            raise Conflict("same_plan", {"plan": "same_plan"})
        events: list[NewEvent] = []
        if corrections:
            balance = self.credit
            for taken in corrections:
                balance += taken["gross"]
                events.append(NewEvent("credit_added", {
                    "account_id": self.account_id, "amount": taken["gross"], "currency": CURRENCY,
                    "reason": "plan_change", "balance": balance, "invoice_id": taken["correction_id"],
                    "reference": service_id}))  # fmt: skip
        elif credit > 0:
            events.append(self._credit(credit, "plan_change", reference=service_id))
        events += self._pending_upgrades(service_id)
        events.append(NewEvent("service_plan_changed", {
            **self._service_data(service), "plan": plan, "previous_plan": service["plan"], "direction": "downgrade",
            "amount": credit, "currency": CURRENCY, "invoice_id": None, "changed_at": iso(now),
            **({"corrections": [_line_correction(t) for t in corrections]} if corrections else {})}))  # fmt: skip
        return events

    # --- the money of a service's paid lines: withdrawal, downgrade ----------------------------------------
    def paid_lines(self, service_id: str) -> list[PaidLine]:
        """Every paid invoice line that paid for the service, oldest first: the order's hosting line, each
        paid upgrade's `hosting_plan_change` line, each paid renewal's line; as each stands after the
        corrections already issued for it (a downgrade's). A refunded invoice gave everything back already."""
        service = self.services.get(service_id)
        if not service:
            return []
        found = []
        for invoice_id, invoice in self.invoices.items():
            if invoice["status"] != "paid":
                continue
            for index, line in enumerate(invoice["lines"]):
                span = _line_span(line, invoice_id, index, service)
                if span:
                    found.append(PaidLine(invoice_id, index, line, span[0], span[1],
                                          tuple(self.line_corrections.get((invoice_id, index), ()))))  # fmt: skip
        return found

    def withdrawal_takes(self, service_id: str, now: dt.datetime) -> list[dict[str, Any]]:
        """What a withdrawal at `now` gives back, per paid line (see `PaidLine.unused`): each line's unused
        part, as a correction {invoice_id, line, before, after, net, gross, days, period_to}. The order's
        line is always there (its correction is the one `service_withdrawn` names), the others when
        something of them is unused."""
        takes = []
        for paid in self.paid_lines(service_id):
            unused = paid.unused(now)
            if unused or paid.line["kind"] == "hosting":
                takes.append(paid.take(unused, now))
        return takes

    def downgrade_takes(self, service_id: str, net: int, now: dt.datetime) -> list[dict[str, Any]]:
        """Where a downgrade's credit (`net`, the prorated price difference for the days left) comes off:
        the newest paid lines first, each at most its unused part (so a later withdrawal never finds a line
        taken below what was used of it). Empty when the service has no paid line (nothing to correct)."""
        takes, left = [], net
        for paid in reversed(self.paid_lines(service_id)):
            part = min(left, paid.unused(now))
            if part > 0:
                takes.append(paid.take(part, now))
                left -= part
        if left > 0 and takes:  # only by rounding: the newest corrected line takes the rest it still holds
            first = takes[0]
            extra = min(left, first["after"]["net"])
            paid = next(p for p in self.paid_lines(service_id) if (p.invoice_id, p.index) == (first["invoice_id"],
                                                                                            first["line"]))  # fmt: skip
            takes[0] = paid.take(first["net"] + extra, now)
        return takes

    def _pending_upgrades(self, service_id: str) -> list[NewEvent]:
        """Withdraw the service's unpaid upgrade invoices: its plan or life changed first."""
        return [self._cancel_invoice(i["invoice_id"], "plan_changed") for i in self.invoices.values()
                if i["status"] == "unpaid" and i["paid"] == 0 and any(
                    line["kind"] == "hosting_plan_change" and line["params"].get("service_id") == service_id
                    for line in i["lines"])]  # fmt: skip

    def _upgrade_paid(self, line: dict[str, Any], invoice_id: str, now: dt.datetime) -> list[NewEvent]:
        """An upgrade takes effect when its invoice is paid, if the service is still on the plan it left
        (a downgrade, a cancellation, a withdrawal or another upgrade asked for withdraw its invoice)."""
        params = line["params"]
        service = self.services.get(params.get("service_id") or "")
        if not service or service["status"] not in LIVE or service["plan"] != params.get("previous_plan"):
            return []
        return [NewEvent("service_plan_changed", {
            **self._service_data(service), "plan": params["plan"], "previous_plan": service["plan"],
            "direction": "upgrade", "amount": line["gross"], "currency": CURRENCY, "invoice_id": invoice_id,
            "changed_at": iso(now)})]  # fmt: skip

    def withdraw_upgrades(self, service_id: str) -> list[NewEvent]:
        """Before another upgrade is invoiced: the one still unpaid is withdrawn (one pending at a time)."""
        return self._pending_upgrades(service_id)

    def withdrawal_refused(self, service_id: str, now: dt.datetime) -> str | None:
        """Why the account cannot withdraw from the service (None: it can): a business buyer (a NIP on the
        order's invoice), more than WITHDRAWAL_DAYS since the order, or the service no longer live."""
        service = self.services.get(service_id)
        order = self.orders.get(service.get("order_id") or "") if service else None
        if not service or not order:
            return "not_withdrawable"
        if (order.get("buyer") or {}).get("nip"):
            return "business_buyer"
        if service["status"] not in LIVE or service.get("withdrawn"):
            return "service_not_active"
        if now > parse(order["placed_at"]) + dt.timedelta(days=WITHDRAWAL_DAYS):
            return "withdrawal_period_over"
        return None

    def withdraw(self, service_id: str, refunds: list[dict[str, Any]], now: dt.datetime) -> list[NewEvent]:
        """The consumer withdraws: the service ends, `refunds` (one per corrected invoice: invoice_id,
        correction_id, amount, method, refund_id; the order's invoice first) are recorded, each part whose
        method is credit credited against its correction, unpaid renewals and upgrades are withdrawn."""
        refused = self.withdrawal_refused(service_id, now)
        if refused:
            raise Conflict(refused)
        service = self.services[service_id]
        order_part = next((r for r in refunds if r["invoice_id"] == service["invoice_id"]), refunds[0])
        methods = {r["method"] for r in refunds if r["amount"] > 0} or {order_part["method"]}
        parts = [{k: r.get(k) for k in ("invoice_id", "correction_id", "amount", "method", "refund_id")}
                 for r in refunds]  # fmt: skip
        events = [NewEvent("service_withdrawn", {
            **self._service_data(service), "invoice_id": order_part["invoice_id"],
            "correction_id": order_part["correction_id"], "refund": sum(r["amount"] for r in refunds),
            "currency": CURRENCY, "refund_method": methods.pop() if len(methods) == 1 else "mixed",
            "withdrawn_at": iso(now), "refund_id": order_part.get("refund_id"), "refunds": parts}),
            NewEvent("service_cancelled", {**self._service_data(service), "reason": "withdrawal"})]  # fmt: skip
        balance = self.credit
        for part in refunds:
            if part["amount"] > 0 and part["method"] == "credit":
                balance += part["amount"]
                events.append(NewEvent("credit_added", {
                    "account_id": self.account_id, "amount": part["amount"], "currency": CURRENCY,
                    "reason": "withdrawal", "balance": balance, "invoice_id": part["correction_id"],
                    "reference": service_id}))  # fmt: skip
        events += self._pending_upgrades(service_id)
        for invoice_id in service["renewal_invoices"].values():
            if self.invoices[invoice_id]["status"] == "unpaid" and self.invoices[invoice_id]["paid"] == 0:
                events.append(self._cancel_invoice(invoice_id, "service_cancelled"))
        return events

    def _cancel_invoice(self, invoice_id: str, reason: str) -> NewEvent:
        return NewEvent(
            "invoice_cancelled", {"account_id": self.account_id, "invoice_id": invoice_id, "reason": reason}
        )

    def overdue(self, now: dt.datetime, policy: Policy, numbers: dict[str, str]) -> list[NewEvent]:
        """Reminders, suspension, termination and end-of-period cancellation due at `now`.
        State-based, so deciding twice on the same state decides nothing new."""
        events: list[NewEvent] = []
        cancelled: set[str] = set()
        for service in self.services.values():
            if service["cancel_at_period_end"] and service["status"] in LIVE and now >= service["next_due_date"]:
                events.append(NewEvent("service_cancelled", {**self._service_data(service), "reason": "end_of_period"}))
                for invoice_id in service["renewal_invoices"].values():
                    if self.invoices[invoice_id]["status"] == "unpaid":
                        events.append(self._cancel_invoice(invoice_id, "service_cancelled"))
                        cancelled.add(invoice_id)
        for invoice_id in self.unpaid_invoice_ids():
            invoice = self.invoices[invoice_id]
            if invoice_id in cancelled or invoice_id not in numbers or now <= invoice["due_date"]:
                continue
            late = now - invoice["due_date"]
            service = self.services.get(invoice["service_id"] or "")
            current_period = service and service["next_due_date"] == invoice["period_due"]
            if current_period and service["status"] in LIVE and late >= dt.timedelta(days=policy.termination_days):
                events.append(NewEvent("service_terminated", {**self._service_data(service), "reason": "non_payment"}))
                events.append(self._cancel_invoice(invoice_id, "service_terminated"))
                continue
            if current_period and service["status"] == "active" and late >= dt.timedelta(days=policy.grace_days):
                events.append(NewEvent("service_suspended", {**self._service_data(service), "reason": "non_payment",
                                                             "invoice_id": invoice_id}))  # fmt: skip
            stage = sum(1 for d in policy.reminder_days if late >= dt.timedelta(days=d))
            if stage > invoice["reminder_stage"]:
                events.append(NewEvent("invoice_overdue_reminder", {
                    "account_id": self.account_id, "invoice_id": invoice_id, "number": numbers[invoice_id],
                    "reminder_no": stage, "days_overdue": late.days, "due_date": iso(invoice["due_date"]),
                    "amount_due": self.outstanding(invoice_id), "currency": CURRENCY,
                    "service_id": invoice["service_id"]}))  # fmt: skip
        return events


def period_days(next_due: dt.datetime, cycle: str, now: dt.datetime) -> tuple[int, int]:
    """(days left, days in the period) of the period ending `next_due`, in whole calendar days."""
    start = add_months(next_due, -CYCLES[cycle])
    total = (next_due.date() - start.date()).days
    return max(0, min(total, (next_due.date() - now.date()).days)), total


def paid_ahead(next_due: dt.datetime, cycle: str, now: dt.datetime) -> dt.datetime | None:
    """When the period `now` is in ends, if a later one is paid already (a renewal paid early), else None."""
    end, months = next_due, CYCLES[cycle]
    while add_months(end, -months).date() > now.date():
        end = add_months(end, -months)
    return end if end != next_due else None


def prorated(amount: int, left: int, total: int) -> int:
    """`amount` for `left` of `total` days, rounded half up on grosze like kernel.money."""
    return div_half_up(amount * left, total) if total else 0


def days_left(period_to: dt.datetime, days: int, now: dt.datetime) -> int:
    """Whole calendar days of the span [period_to - days, period_to) still ahead at `now` (as period_days)."""
    return max(0, min(days, (period_to.date() - now.date()).days))


def _line_span(line: dict[str, Any], invoice_id: str, index: int,
               service: dict[str, Any]) -> tuple[dt.datetime, int] | None:  # fmt: skip
    """(end, days) of the span of days a paid line paid for, when it paid for `service`: the order's hosting
    line the first period; an upgrade's line the days left when it was invoiced (as it was prorated); a
    renewal's line its whole period."""
    params, cycle = line.get("params") or {}, service["cycle"]
    if line["kind"] == "hosting" and det_id("service", invoice_id, str(index)) == service["service_id"]:
        end = service.get("first_due_date") or service["next_due_date"]
        return end, period_days(end, cycle, end)[1]
    if line["kind"] in ("hosting_plan_change", "hosting_renewal") and params.get("service_id") == service["service_id"]:
        if not params.get("period_to") or not params.get("period_from"):
            return None
        end = parse(params["period_to"])
        return end, period_days(end, params.get("cycle") or cycle, parse(params["period_from"]))[0]
    return None


def _gross_of(line: dict[str, Any], net: int) -> int:
    """A line's gross at `net`: as invoiced when untouched, else the net plus its VAT at the line's rate."""
    return line["gross"] if net == line["net"] else net + vat_of(net, line["vat_rate"])


def _line_at(line: dict[str, Any], net: int) -> dict[str, Any]:
    """The line as it stands at `net` (the state a correction shows before or after)."""
    if net == line["net"]:
        return dict(line)
    quantity = line.get("quantity") or 1
    return {**line, "unit_net": div_half_up(net, quantity), "discount": 0, "net": net,
            "vat": vat_of(net, line["vat_rate"]), "gross": net + vat_of(net, line["vat_rate"])}  # fmt: skip


def _line_correction(take: dict[str, Any]) -> dict[str, Any]:
    return {k: take[k] for k in ("invoice_id", "line", "correction_id", "net", "gross", "days", "period_to")}


@dataclass(frozen=True)
class PaidLine:
    """A paid invoice line of a hosting service and the span of days it paid for, [end - days, end), at a
    uniform price per day; `corrections` took parts of it off since (a downgrade's credit), each for its own
    span [period_to - days, period_to) ending with the line's."""

    invoice_id: str
    index: int
    line: dict[str, Any]
    end: dt.datetime
    days: int
    corrections: tuple[dict[str, Any], ...] = ()

    @property
    def net(self) -> int:
        """The line's net now, after the corrections."""
        return self.line["net"] - sum(c["net"] for c in self.corrections)

    def unused(self, now: dt.datetime) -> int:
        """Net of this line for the days not yet used at `now`: its net prorated to the days of its span
        still ahead, less the same share of each correction already taken off it (those days were credited
        already). Between 0 and the line's net now."""
        ahead = prorated(self.line["net"], days_left(self.end, self.days, now), self.days)
        credited = sum(prorated(c["net"], days_left(parse(c["period_to"]), c["days"], now), c["days"])
                       for c in self.corrections)  # fmt: skip
        return max(0, min(self.net, ahead - credited))

    def take(self, net: int, now: dt.datetime) -> dict[str, Any]:
        """A correction taking `net` off the line: before and after (VAT on the net after, at the line's
        rate), the gross that comes back (gross before minus gross after) and the span it was for."""
        after = self.net - net
        return {"invoice_id": self.invoice_id, "line": self.index, "kind": self.line["kind"],
                "before": _line_at(self.line, self.net), "after": _line_at(self.line, after), "net": net,
                "gross": _gross_of(self.line, self.net) - _gross_of(self.line, after),
                "days": days_left(self.end, self.days, now), "period_to": iso(self.end)}  # fmt: skip


# --------------------------------------------------------------------------- KSeF and corrections (issue #16)
def ksef_stream(invoice_id: str) -> str:
    return f"ksef-{invoice_id}"


def corrections_stream(month: str) -> str:
    return f"corrections-{month}"


class KsefSubmission(Aggregate):
    """One invoice's (or correction's) way through KSeF: its FA(3) document fixed once, then offline
    (KSeF unreachable, sent later), sent (its KSeF number and UPO) or rejected (KSeF's reason)."""

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.document: dict[str, Any] | None = None
        self.status = "new"  # new | prepared | offline | sent | rejected
        self.ksef_number: str | None = None

    def on_ksef_document_prepared(self, data: dict, _: Event) -> None:
        self.document, self.status = data, "prepared"

    def on_invoice_ksef_offline(self, data: dict, _: Event) -> None:
        self.status = "offline"

    def on_invoice_sent_to_ksef(self, data: dict, _: Event) -> None:
        self.status, self.ksef_number = "sent", data["ksef_number"]

    def on_invoice_rejected_by_ksef(self, data: dict, _: Event) -> None:
        self.status = "rejected"

    def prepare(self, document: dict[str, Any]) -> list[NewEvent]:
        return [] if self.document else [NewEvent("ksef_document_prepared", document)]

    def _about(self) -> dict[str, Any]:
        return {k: self.document[k] for k in ("account_id", "invoice_id", "number")}

    def went_offline(self, reason: str, now: dt.datetime) -> list[NewEvent]:
        if self.status != "prepared":
            return []
        return [NewEvent("invoice_ksef_offline", {**self._about(), "reason": reason[:500], "at": iso(now)})]

    def sent(self, result: dict[str, Any]) -> list[NewEvent]:
        """KSeF's number and UPO; a second answer for the same document changes nothing."""
        if self.status in ("sent", "rejected"):
            return []
        keys = ("ksef_number", "invoice_hash", "upo", "reference_number", "session_reference_number", "acquired_at",
                "mode")  # fmt: skip
        data = {**self._about(), **{k: str(result.get(k) or "") for k in keys}, "offline": self.status == "offline"}
        return [NewEvent("invoice_sent_to_ksef", data)]

    def rejected(self, code: int, reason: str, details: list[str], now: dt.datetime) -> list[NewEvent]:
        if self.status in ("sent", "rejected"):
            return []
        return [NewEvent("invoice_rejected_by_ksef", {**self._about(), "code": int(code), "reason": reason[:1000],
                                                      "details": [d[:1000] for d in details][:20], "at": iso(now)})]  # fmt: skip


class CorrectionLedger(InvoiceLedger):
    """One month's register of correcting invoices: their own gapless series KOR/<year>/<month>/<n>."""

    stream_prefix = "corrections-"
    on_correction_issued = InvoiceLedger.on_invoice_issued

    def issue(self, invoice_id: str, payload: dict[str, Any]) -> list[NewEvent]:
        if invoice_id in self.issued:
            return []
        sequence, number = self.next_number("KOR")
        return [NewEvent("correction_issued", {**payload, "invoice_id": invoice_id, "number": number,
                                               "sequence": sequence})]  # fmt: skip
