"""Request bodies of /api/v1, declared once: the gateway validates with these models (gateway.inputs.json_model)
and the OpenAPI document is generated from them (gateway.openapi.schema_of). Strict types: a number where a
string is expected is refused, not converted; inside a nested part an unknown key is refused by name.

A cart item is a discriminated union on `kind` (kernel.contracts CART_ITEM_KINDS), each kind with its own
`params`; the document describes it as `oneOf` with a `discriminator`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema

from gateway.inputs import Address, Attachment, Body, MailPreferences
from kernel.contracts import CONTACT_MAIL_CATEGORIES, CONTACT_PERMISSIONS

PAYMENT_METHODS = ("bank_transfer", "card", "credit", "blik", "p24")  # blik, p24: with Stripe (issue #15)
# checked by the service (its own reason code), described in the document
PaymentMethod = Annotated[str, WithJsonSchema({"type": "string", "enum": list(PAYMENT_METHODS)})]


class Request(BaseModel):
    """A whole JSON body: strict types; keys the operation does not take are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


# --- cart items -----------------------------------------------------------------------------------
class HostingParams(Body):
    plan: str = Field(description="a plan code from GET /catalog")
    cycle: str = Field(description="a billing cycle the plan offers (e.g. monthly, yearly)")
    domain: str = Field("", description="the domain the hosting serves (optional)")


class HostingRenewalParams(Body):
    service_id: str


class DomainRegistrationParams(Body):
    domain: str
    years: int = Field(1, description="1-10")


class DomainTransferParams(Body):
    domain: str
    epp_code: str


class DomainRenewalParams(Body):
    domain_id: str
    years: int = Field(1, description="1-10")


class HostingItem(Request):
    kind: Literal["hosting"]
    params: HostingParams


class HostingRenewalItem(Request):
    kind: Literal["hosting_renewal"]
    params: HostingRenewalParams


class DomainRegistrationItem(Request):
    kind: Literal["domain_registration"]
    params: DomainRegistrationParams


class DomainTransferItem(Request):
    kind: Literal["domain_transfer"]
    params: DomainTransferParams


class DomainRenewalItem(Request):
    kind: Literal["domain_renewal"]
    params: DomainRenewalParams


CART_ITEMS: dict[str, type[Request]] = {
    "hosting": HostingItem,
    "hosting_renewal": HostingRenewalItem,
    "domain_registration": DomainRegistrationItem,
    "domain_transfer": DomainTransferItem,
    "domain_renewal": DomainRenewalItem,
}
CartItem = TypeAdapter(
    Annotated[HostingItem | HostingRenewalItem | DomainRegistrationItem | DomainTransferItem | DomainRenewalItem,
              Field(discriminator="kind")]
)  # fmt: skip


# --- auth -------------------------------------------------------------------------------------------
Password = Annotated[str, WithJsonSchema({"type": "string", "minLength": 10, "maxLength": 128})]
Language = Annotated[str, WithJsonSchema({"type": "string", "enum": ["pl", "en"]})]


class Register(Request):
    email: str
    password: Password
    first_name: str
    last_name: str
    language: Language = Field(None, description="the account's language; the request's when left out")


class Token(Request):
    token: str


class Login(Request):
    email: str
    password: str


class SecondFactor(Request):
    challenge: str
    code: str


class Email(Request):
    email: str


class NewPassword(Request):
    token: str
    password: Password


# --- billing ----------------------------------------------------------------------------------------
class Checkout(Request):
    payment_method: PaymentMethod
    idempotency_key: str = Field(description="the same key gives the same order (or send the Idempotency-Key header)")


class SaveCard(Request):
    setup_intent_id: str = Field(description="the SetupIntent that collected the card (from /billing/cards/setup)")
    make_default: bool = Field(False, description="charge this card for automatic renewals")


class AddFunds(Request):
    amount: int = Field(description="grosze to add to the account's credit, paid by card")


class AutoRenew(Request):
    auto_renew: bool = Field(description="renew automatically, charging the default saved card")


class PlanChange(Request):
    plan: str = Field(description="the code of the plan to move to (from the catalogue)")


class Withdrawal(Request):
    confirm: bool = Field(description="true: the customer confirmed the withdrawal")


class PayInvoice(Request):
    payment_method: PaymentMethod


# --- the knowledge base (staff; issue #18) ------------------------------------------------------------
KbCategory = Annotated[str, WithJsonSchema({"type": "string", "enum": ["domains", "hosting", "email", "billing",
                                                                       "account"]})]  # fmt: skip
KbStatus = Annotated[str, WithJsonSchema({"type": "string", "enum": ["published", "draft"]})]


class KbVersion(Body):
    title: str
    body: str = Field(description="Markdown; rendered and sanitised (no scripts, links http/https/mailto only)")


class KbVersions(Body):
    pl: KbVersion = Field(description="the Polish version (required)")
    en: KbVersion | None = Field(None, description="the English version (optional)")


class KbArticle(Request):
    slug: str = Field(description="the address /help/<slug>: lower-case letters, digits, single hyphens; taken once")
    category: KbCategory
    status: KbStatus = Field("published", description="draft: staff only until an update publishes it")
    versions: KbVersions


class KbArticleChange(Request):
    """Only the fields sent change; `versions` replaces both versions (an English one left out is removed)."""

    category: KbCategory = None
    status: KbStatus = None
    versions: KbVersions | None = None


# --- profile and contacts (an unknown key is refused by name) ---------------------------------------
class Change(Body):
    """A whole JSON body of a change: strict types, every key optional, an unknown key refused by name."""


class ProfileChange(Change):
    """Only the fields sent change; all or nothing. A new e-mail address needs `current_password` (and `code` when
    two-factor login is on)."""

    first_name: str = None
    last_name: str = None
    email: str = None
    phone: str = None
    language: Language = None
    billing_address: Address = None
    notification_preferences: MailPreferences = None
    mailing_list: bool = None
    current_password: str = None
    code: str = None


ContactPermissions = Annotated[list[str], WithJsonSchema(
    {"type": "array", "items": {"type": "string", "enum": list(CONTACT_PERMISSIONS)}})]  # fmt: skip
ContactCategories = Annotated[list[str], WithJsonSchema(
    {"type": "array", "items": {"type": "string", "enum": list(CONTACT_MAIL_CATEGORIES)}})]  # fmt: skip


class ContactChange(Change):
    first_name: str = None
    last_name: str = None
    phone: str = None
    language: Language = None
    address: Address = None
    permissions: ContactPermissions = None
    categories: ContactCategories = None


class NewContact(ContactChange):
    """first_name, last_name and email are checked by the accounts service. With login: true the contact gets an
    invitation mail."""

    email: str = None
    login: bool = None


# --- account ----------------------------------------------------------------------------------------
class Code(Request):
    code: str = Field(description="from the authenticator app (or a recovery code)")


class PasswordChange(Request):
    current_password: str
    new_password: Password
    code: str = Field(None, description="required when two-factor login is on")


# --- support: tickets (JSON; the same fields as multipart/form-data with files) ----------------------
Department = Annotated[str, WithJsonSchema({"type": "string", "enum": ["technical", "billing", "sales"]})]
Priority = Annotated[str, WithJsonSchema({"type": "string", "enum": ["low", "medium", "high", "urgent"]})]
Related = Annotated[str, WithJsonSchema({"type": "string", "pattern": "^(service|domain):.+$"})]


class Reply(Request):
    message: str
    attachments: list[Attachment] = Field(None, description="files in base64")


class NewTicket(Reply):
    department: Department
    priority: Priority
    subject: str
    related: Related = Field(None, description="one of the account's own services (service:<service_id>) or domains "
                                               "(domain:<domain_id>); anything else is refused (422, fields.related)")  # fmt: skip


# --- domains and DNS ----------------------------------------------------------------------------------
Nameservers = Annotated[list[str], WithJsonSchema(
    {"type": "array", "minItems": 2, "maxItems": 13, "items": {"type": "string"}})]  # fmt: skip
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")


class DomainChange(Change):
    """Nameservers (2-13 host names), registrar lock or auto-renew; at least one; all or nothing."""

    nameservers: Nameservers = None
    locked: bool = None
    auto_renew: bool = None


class DnsRecord(Change):
    type: Annotated[str, WithJsonSchema({"type": "string", "enum": list(DNS_TYPES)})]
    name: str = Field(None, description="relative to the zone; @ is the apex; Unicode allowed")
    ttl: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 60, "maximum": 86400})] = None
    value: str = Field(None, description="address, target host name, text or CAA value")
    priority: int = None
    weight: int = None
    port: int = None
    flags: int = None
    tag: Annotated[str, WithJsonSchema({"type": "string", "enum": ["issue", "issuewild", "iodef"]})] = None


# --- responses: models that only describe answers in the document (gateway.openapi `_op(response_model)`) --
class Answer(BaseModel):
    """An answer body as the services give it: the fields listed are described; an answer may carry more."""


Text = str | None  # a text a service leaves empty as null (an ISO date not set yet, an optional id)


class Page(Answer):
    items: list[dict[str, Any]]
    total: int = None
    page: int = None
    per_page: int = None
    pages: int = None


class PostalAddress(Address):
    model_config = ConfigDict(extra="ignore")  # as answered: more keys may come


class Preferences(MailPreferences):
    model_config = ConfigDict(extra="ignore")


class Profile(Answer):
    """Every key is present in GET /profile; on the dashboard a hidden profile is {}."""

    account_id: str = None
    email: str = None
    email_verified: bool = None
    first_name: str = None
    last_name: str = None
    phone: str = None
    language: Language = None
    billing_address: PostalAddress = None
    notification_preferences: Preferences = None
    mailing_list: bool = None


class Contact(Answer):
    contact_id: str
    email: str
    permissions: ContactPermissions
    categories: ContactCategories
    first_name: str = None
    last_name: str = None
    phone: str = None
    language: Language = None
    address: PostalAddress = None
    login: bool = None
    active: bool = None


class Contacts(Answer):
    items: list[Contact]


class InvoiceSummary(Answer):
    invoice_id: str
    number: Text = Field(None, description="null until the invoice is numbered")
    kind: Text = Field(None, description="order | renewal")
    status: str = Field(description="unpaid | paid | cancelled | refunded")
    order_id: Text = None
    service_id: Text = None
    total_net: int = Field(description="grosze")
    total_vat: int
    total_gross: int
    paid_amount: int
    amount_due: int
    currency: str
    issue_date: Text = None
    due_date: Text = None
    paid_at: Text = None


class InvoicePage(Page):
    items: list[InvoiceSummary]


class Invoice(InvoiceSummary):
    lines: list[dict[str, Any]]
    vat_summary: list[dict[str, Any]]
    buyer: dict[str, Any]
    seller: dict[str, Any]
    payment_method: Text = None
    language: str = None
    sale_date: Text = None
    period: dict[str, Any] | None = None
    vat_note: str = None
    ksef: dict[str, Any] = None
    correction: dict[str, Any] | None = None
    corrections: list[str] = None


class ServiceSummary(Answer):
    service_id: str
    name: Text = None
    plan: Text = None
    domain: Text = None
    cycle: Text = None
    status: Text = None
    next_due_date: Text = None
    cancel_at_period_end: bool
    auto_renew: bool
    activated_at: Text = None


class ServicePage(Page):
    items: list[ServiceSummary]


class Service(ServiceSummary):
    invoices: list[InvoiceSummary] = Field(description="the order's and the renewals' invoices, newest first")


class Cart(Answer):
    items: list[dict[str, Any]] = Field(description="each item with its kind, params and price")
    totals: dict[str, Any] = Field(description="total_net, total_vat, total_gross (grosze), vat_summary, ...")
    discount_code: Text = None
    discount_percent: int = None
    discount_error: Text = None
    vat_code: Text = None
    vat_note: Text = None
    buyer_country: str = None


DOMAIN_STATUSES = ("pending", "pending_registration", "pending_transfer", "active", "grace_period", "redemption",
                   "expired", "transferred_away", "cancelled")  # fmt: skip


class Domain(Answer):
    domain_id: str
    name: str
    unicode_name: str
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": list(DOMAIN_STATUSES)})]
    tld: str = None
    expires_at: Annotated[Text, WithJsonSchema({"type": ["string", "null"], "format": "date-time"})] = None
    nameservers: list[str] = None
    locked: bool = None
    auto_renew: bool = None
    failure: dict[str, Any] | None = None


class DomainPage(Page):
    items: list[Domain]


class DnsRecordAnswer(Answer):
    id: str
    name: str
    type: str
    ttl: int
    content: str
    unicode_name: str = None
    value: str = None
    fqdn: str = None
    unicode_fqdn: str = None


class Zone(Answer):
    domain_id: str
    name: str
    records: list[DnsRecordAnswer]
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": ["applied", "pending"]})] = Field(
        description="pending while PowerDNS has not applied the last change"
    )
    unicode_name: str = None
    nameservers: list[str] = None
    version: int = None
    applied_version: int = None
    types: list[str] = None


class TicketRelated(Answer):
    kind: Annotated[str, WithJsonSchema({"type": "string", "enum": ["service", "domain"]})] = None
    id: str = None
    name: str = None


class Ticket(Answer):
    ticket_id: str
    number: str
    status: str
    subject: str = None
    department: str = None
    priority: str = None
    related: TicketRelated | None = Field(None, description="The service or domain the ticket concerns")
    messages: list[dict[str, Any]] = None


class Tiles(Answer):
    services: int | None
    domains: int | None
    unpaid_invoices: int | None
    tickets: int | None


class Dashboard(Answer):
    profile: Profile
    tiles: Tiles
    unavailable: list[str] = Field(description="sections whose service did not answer")
    contacts: list[Any] = None
    shortcuts: list[Any] = None
    offer: dict[str, Any] | None = None
    active_services: list[Any] = None
    renewals: list[Any] = None
    news: list[Any] = None
    recent_tickets: list[Any] = None
    not_built: list[str] = None
