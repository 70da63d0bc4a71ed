"""Request bodies of /api/v1, declared once: the gateway validates with these models (gateway.inputs.json_model)
and the OpenAPI document is generated from them (gateway.openapi.schema_of). Strict types: a number where a
string is expected is refused, not converted; inside a nested part an unknown key is refused by name.

A cart item is a discriminated union on `kind` (kernel.contracts CART_ITEM_KINDS), each kind with its own
`params`; the document describes it as `oneOf` with a `discriminator`.
"""

from __future__ import annotations

from typing import Annotated, Literal

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
