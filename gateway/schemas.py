"""Request bodies of /api/v1, declared once: the gateway validates with these models (gateway.inputs.json_model)
and the OpenAPI document is generated from them (gateway.openapi.schema_of). Strict types: a number where a
string is expected is refused, not converted; inside a nested part an unknown key is refused by name.

A cart item is a discriminated union on `kind` (kernel.contracts CART_ITEM_KINDS), each kind with its own
`params`; the document describes it as `oneOf` with a `discriminator`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema

from gateway.inputs import Body

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
