"""What the billing service publishes. Streams: `customer-<account_id>` (orders, invoice states,
payments, credit, hosting services), `invoices-<YYYY-MM>` (the month's ledger: invoice_issued) and
`offer` (offer_set). Money is integer grosze with its currency; dates are ISO 8601 text.
"""

from __future__ import annotations

from typing import Any, Literal

from kernel.contracts import BILLING, CART_ITEM_KINDS
from kernel.contracts.base import Contract, Currency, IsoDateTime, Part, by_type

SOURCE = BILLING
ItemKind = Literal[CART_ITEM_KINDS]  # type: ignore[valid-type]
# an invoice line may also bill a plan change (issue #18: an upgrade's prorated difference)
LineKind = Literal[(*CART_ITEM_KINDS, "hosting_plan_change")]  # type: ignore[valid-type]
InvoiceKind = Literal["order", "renewal"]


class InvoiceLine(Part):
    """`params` are what the owning service needs (hosting: plan, cycle, domain; domain_registration:
    domain, years; domain_transfer: domain, epp_code; *_renewal: service_id or domain_id, ...)."""

    kind: LineKind
    description: str
    params: dict[str, Any]
    quantity: int
    unit_net: int | None = None  # lines written before it existed lack it
    net: int
    vat_rate: int | str  # a whole percent, or a fraction's decimal text ("25.5", Finland through OSS)
    vat: int
    gross: int
    currency: Currency
    # issue #16 (absent on lines written before): the unit, grosze taken off by a discount (unit_net is
    # the price before it), the VAT rule's code ("23", "np II", "OSS", "np I"), the English text
    unit: str | None = None
    discount: int | None = None
    vat_code: str | None = None
    description_en: str | None = None


class VatSummary(Part):
    vat_rate: int | str
    net: int
    vat: int
    gross: int
    vat_code: str | None = None


class Buyer(Part):
    name: str
    person: str
    company: str
    nip: str
    street: str
    postcode: str
    city: str
    country: str
    email: str


class Seller(Part):
    name: str
    street: str
    postcode: str
    city: str
    country: str
    nip: str
    bank_account: str


class OrderItem(Part):
    """A cart item as ordered: priced anew (a line of the order's invoice) or pointing at an invoice
    issued already (`invoice_id`, a renewal billed before)."""

    item_id: str
    kind: ItemKind
    params: dict[str, Any] = {}
    description: str | None = None
    discount_percent: int | None = None
    invoice_id: str | None = None


class Allocation(Part):
    invoice_id: str
    amount: int
    paid_total: int


class InvoiceRequest(Contract):
    """Everything an invoice will say, frozen when it is requested (the ledger adds only the number)."""

    account_id: str
    invoice_id: str | None = None
    lines: list[InvoiceLine] | None = None
    total_net: int | None = None
    total_vat: int | None = None
    total_gross: int
    vat_summary: list[VatSummary] | None = None
    currency: Currency | None = None
    month: str | None = None
    issue_date: IsoDateTime | None = None
    sale_date: IsoDateTime | None = None
    due_date: IsoDateTime | None = None
    buyer: Buyer | None = None
    seller: Seller | None = None
    # issue #16 (absent on invoices requested before): the buyer's language (pl | en), the payment method
    # chosen, the service period, the VAT rule's note, and whether the invoice goes to KSeF
    language: str | None = None
    payment_method: str | None = None
    period: dict[str, str] | None = None
    vat_note: str | None = None
    ksef: bool | None = None


class OrderPlaced(InvoiceRequest):
    """An order; with new lines it also requests their invoice (then every invoice field is there),
    with only renewals billed already it reuses their invoices (`reused_invoice_ids`)."""

    TYPE = "order_placed"
    order_id: str
    items: list[OrderItem]
    reused_invoice_ids: list[str]
    payment_method: str
    discount_code: str | None
    placed_at: IsoDateTime
    cart_key: str | None = None  # absent for an invoice for one item (issue_item_invoice)


class RenewalInvoiceRequested(InvoiceRequest):
    TYPE = "renewal_invoice_requested"
    invoice_id: str
    service_id: str
    period_due: IsoDateTime
    order_id: None = None
    lines: list[InvoiceLine]
    total_net: int
    total_vat: int
    vat_summary: list[VatSummary]
    currency: Currency
    month: str
    issue_date: IsoDateTime
    sale_date: IsoDateTime
    due_date: IsoDateTime
    buyer: Buyer
    seller: Seller


class InvoiceIssued(Contract):
    """The whole frozen invoice and its number (stream `invoices-<YYYY-MM>`)."""

    TYPE = "invoice_issued"
    account_id: str
    invoice_id: str
    number: str
    sequence: int
    kind: InvoiceKind
    order_id: str | None
    service_id: str | None
    period_due: IsoDateTime | None
    lines: list[InvoiceLine]
    total_net: int
    total_vat: int
    total_gross: int
    vat_summary: list[VatSummary]
    currency: Currency
    buyer: Buyer
    seller: Seller
    issue_date: IsoDateTime
    sale_date: IsoDateTime
    due_date: IsoDateTime
    month: str
    # issue #16 (absent on invoices requested before): the buyer's language (pl | en), the payment method
    # chosen, the service period, the VAT rule's note, and whether the invoice goes to KSeF
    language: str | None = None
    payment_method: str | None = None
    period: dict[str, str] | None = None
    vat_note: str | None = None
    ksef: bool | None = None


class InvoicePaid(Contract):
    TYPE = "invoice_paid"
    account_id: str
    invoice_id: str
    number: str
    order_id: str | None
    lines: list[InvoiceLine]
    paid_at: IsoDateTime
    method: str
    kind: InvoiceKind
    service_id: str | None


class InvoiceCancelled(Contract):
    TYPE = "invoice_cancelled"
    account_id: str
    invoice_id: str
    reason: str


class InvoiceRefunded(Contract):
    """method: `credit` (back to the balance, with credit_added) or `card` (back to the card through
    Stripe, `refund_id` its refund; absent on refunds recorded before)."""

    TYPE = "invoice_refunded"
    account_id: str
    invoice_id: str
    number: str
    amount: int
    currency: Currency
    refunded_at: IsoDateTime
    method: str | None = None
    refund_id: str | None = None


class InvoiceOverdueReminder(Contract):
    TYPE = "invoice_overdue_reminder"
    account_id: str
    invoice_id: str
    number: str
    reminder_no: int
    days_overdue: int
    due_date: IsoDateTime
    amount_due: int
    currency: Currency
    service_id: str | None


class PaymentReceived(Contract):
    TYPE = "payment_received"
    account_id: str
    payment_id: str
    method: str
    amount: int
    currency: Currency
    invoice_ids: list[str]
    allocations: list[Allocation]
    received_at: IsoDateTime


class CreditAdded(Contract):
    """reason: overpayment (payment_id), refund (invoice_id) or a staff top-up (reference)."""

    TYPE = "credit_added"
    account_id: str
    amount: int
    currency: Currency
    reason: str
    balance: int
    payment_id: str | None = None
    invoice_id: str | None = None
    reference: str | None = None


class CreditUsed(Contract):
    TYPE = "credit_used"
    account_id: str
    invoice_id: str
    amount: int
    currency: Currency
    balance: int
    paid_total: int


class ServiceEvent(Contract):
    """What every hosting service event says about the service."""

    account_id: str
    service_id: str
    name: str
    plan: str
    domain: str | None


class ServiceActivated(ServiceEvent):
    TYPE = "service_activated"
    cycle: str
    next_due_date: IsoDateTime
    invoice_id: str
    order_id: str | None
    activated_at: IsoDateTime


class ServiceRenewed(ServiceEvent):
    TYPE = "service_renewed"
    invoice_id: str
    previous_due_date: IsoDateTime
    next_due_date: IsoDateTime


class ServiceSuspended(ServiceEvent):
    TYPE = "service_suspended"
    reason: str
    invoice_id: str


class ServiceUnsuspended(ServiceEvent):
    TYPE = "service_unsuspended"


class ServiceTerminated(ServiceEvent):
    TYPE = "service_terminated"
    reason: str


class ServiceCancelled(ServiceEvent):
    TYPE = "service_cancelled"
    reason: Literal["customer", "end_of_period", "withdrawal"]


class ServiceCancellationRequested(ServiceEvent):
    TYPE = "service_cancellation_requested"
    effective_at: IsoDateTime


class OfferSet(Contract):
    """The dashboard banner (stream `offer`, no account). title/text Polish, title_en/text_en English
    ("" or, in offers set before they existed, absent: no English version)."""

    TYPE = "offer_set"
    title: str
    text: str
    link: str
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    discount_code: str | None
    discount_percent: int
    title_en: str = ""
    text_en: str = ""


class KsefEvent(Contract):
    """The KSeF side of an issued invoice or correction (issue #16; stream `ksef-<invoice_id>`)."""

    account_id: str
    invoice_id: str
    number: str


class KsefDocumentPrepared(KsefEvent):
    """The FA(3) document as it is sent (the same bytes every time: KOD I hashes them)."""

    TYPE = "ksef_document_prepared"
    xml: str
    invoice_hash: str
    qr_link: str


class InvoiceKsefOffline(KsefEvent):
    """KSeF could not be reached: the invoice stands in offline mode until it is sent."""

    TYPE = "invoice_ksef_offline"
    reason: str
    at: IsoDateTime


class InvoiceSentToKsef(KsefEvent):
    TYPE = "invoice_sent_to_ksef"
    ksef_number: str
    invoice_hash: str
    upo: str
    reference_number: str
    session_reference_number: str
    acquired_at: str
    mode: str
    offline: bool


class InvoiceRejectedByKsef(KsefEvent):
    TYPE = "invoice_rejected_by_ksef"
    code: int
    reason: str
    details: list[str]
    at: IsoDateTime


class CorrectionIssued(Contract):
    """A correcting invoice (stream `corrections-<YYYY-MM>`, its own gapless series KOR/<year>/<month>/<n>):
    the corrected invoice, the reason, each changed line before and after (`after` None: taken back
    whole), and the difference as lines and totals (negative for money given back)."""

    TYPE = "correction_issued"
    account_id: str
    invoice_id: str
    number: str
    sequence: int
    month: str
    corrected_invoice_id: str
    corrected_number: str
    corrected_issue_date: IsoDateTime
    corrected_ksef_number: str | None
    reason: str
    pairs: list[dict[str, Any]]
    lines: list[InvoiceLine]
    total_net: int
    total_vat: int
    total_gross: int
    vat_summary: list[VatSummary]
    currency: Currency
    buyer: Buyer
    seller: Seller
    issue_date: IsoDateTime
    language: str
    vat_note: str
    ksef: bool
    sale_date: IsoDateTime | None = None  # the corrected invoice's
    period: dict[str, str] | None = None
    # the customer's action it gives money back for, finished by a customer event naming this correction:
    # {"kind": withdrawal | cancellation | downgrade, "service_id", "at" (when asked), "plan" (a downgrade's)}
    action: dict[str, Any] | None = None


EVENTS = by_type(
    OrderPlaced, RenewalInvoiceRequested, InvoiceIssued, InvoicePaid, InvoiceCancelled, InvoiceRefunded,
    InvoiceOverdueReminder, PaymentReceived, CreditAdded, CreditUsed, ServiceActivated, ServiceRenewed,
    ServiceSuspended, ServiceUnsuspended, ServiceTerminated, ServiceCancelled, ServiceCancellationRequested, OfferSet,
    KsefDocumentPrepared, InvoiceKsefOffline, InvoiceSentToKsef, InvoiceRejectedByKsef, CorrectionIssued,
)  # fmt: skip


# --- issue #15: automatic renewal charges and saved cards
class ServiceAutoRenewSet(Contract):
    TYPE = "service_auto_renew_set"
    account_id: str
    service_id: str
    auto_renew: bool


class AutoChargeFailed(Contract):
    """A saved card charged for a renewal invoice was refused; `next_retry_at` None: no retry left."""

    TYPE = "auto_charge_failed"
    account_id: str
    invoice_id: str
    number: str
    amount: int
    currency: Currency
    attempt: int
    code: str
    next_retry_at: IsoDateTime | None


class CardExpiring(Contract):
    """The default card expires before a renewal it would pay."""

    TYPE = "card_expiring"
    account_id: str
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    renews_on: IsoDateTime


EVENTS.update(by_type(ServiceAutoRenewSet, AutoChargeFailed, CardExpiring))


# --- issue #18: the service's lifecycle on its page
class LineCorrection(Part):
    """One paid invoice line of a service taken down by a correcting invoice (KOR) and the money that came
    back for it: `net` taken off the line, `gross` given back (the line's gross before minus after, the VAT
    computed on the line's net after). `days` and `period_to` are the span of days the taken amount paid
    for, [period_to - days, period_to): what a later withdrawal counts as still unused of it."""

    invoice_id: str  # the corrected invoice (FV)
    line: int  # the line's index in it (from 0)
    correction_id: str
    net: int
    gross: int
    days: int
    period_to: IsoDateTime


class ServicePlanChanged(ServiceEvent):
    """The service moved to `plan` from `previous_plan`: an upgrade once its prorated invoice is paid
    (`invoice_id`), a downgrade at once with the difference credited (`amount`, gross grosze). Hosting
    may consume it to resize the account. A downgrade's credit is a price reduction after the invoice:
    `corrections` are the correcting invoices issued for it (absent on downgrades recorded before)."""

    TYPE = "service_plan_changed"
    previous_plan: str
    direction: Literal["upgrade", "downgrade"]
    amount: int
    currency: Currency
    invoice_id: str | None = None
    changed_at: IsoDateTime
    corrections: list[LineCorrection] | None = None


class WithdrawalRefund(Part):
    """One paid invoice's part of a withdrawal's refund: its correcting invoice and where the money went."""

    invoice_id: str  # the corrected invoice (the order's, an upgrade's, a renewal's)
    correction_id: str
    amount: int  # gross grosze given back
    method: Literal["credit", "card"]
    refund_id: str | None = None  # Stripe's, when the card was refunded


class ServiceWithdrawn(ServiceEvent):
    """A consumer withdrew from the contract within 14 days (EU right of withdrawal): the service ends,
    everything paid for it in that time less what was credited back and the days used (`refund`, gross
    grosze, the total) is given back. `refunds` (absent on withdrawals recorded before it existed) has one
    entry per corrected invoice, each with its own correcting invoice and method; `invoice_id` and
    `correction_id` are the order's invoice and its correction, `refund_method` is `credit` or `card` when
    every part went there, `mixed` otherwise, `refund_id` the order invoice's card refund."""

    TYPE = "service_withdrawn"
    invoice_id: str
    correction_id: str
    refund: int
    currency: Currency
    refund_method: Literal["credit", "card", "mixed"]
    withdrawn_at: IsoDateTime
    refund_id: str | None = None  # Stripe's, when the card was refunded
    refunds: list[WithdrawalRefund] | None = None


EVENTS.update(by_type(ServicePlanChanged, ServiceWithdrawn))


# --- issue #17: what becomes true as time passes, told by the billing cycle as events
class ServiceRenewalWindowOpened(ServiceEvent):
    """The service's period ending `next_due_date` entered its renewal window (RENEWAL_DAYS before it,
    `opens_at`): from now on it is among the renewals due. Once per service and period, decided by the
    billing cycle, whatever the renewal invoice's state (requested already by an early renewal, or not
    yet: a plan withdrawn)."""

    TYPE = "service_renewal_window_opened"
    next_due_date: IsoDateTime
    opens_at: IsoDateTime


class OfferStarted(Contract):
    """The offer set before its start (stream `offer`, no account) is shown from now on: once per offer."""

    TYPE = "offer_started"
    title: str
    starts_at: IsoDateTime
    ends_at: IsoDateTime


class OfferEnded(Contract):
    """The offer's end passed: no banner from now on (once per offer; not for one set after its end)."""

    TYPE = "offer_ended"
    title: str
    starts_at: IsoDateTime
    ends_at: IsoDateTime


EVENTS.update(by_type(ServiceRenewalWindowOpened, OfferStarted, OfferEnded))
