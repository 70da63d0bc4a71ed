"""What the domains service publishes. Stream `domain-<domain_id>`: every event names the domain
(account_id, domain_id, name in punycode, unicode_name) except the order itself, which gives the
details; stream `dnszone-<domain_id>`: the domain's DNS zone.

A transfer's EPP code is private (kernel.contracts.DOMAIN_PRIVATE_FIELDS): stored for the registry,
never published.
"""

from __future__ import annotations

from typing import Literal

from kernel.contracts import DOMAINS
from kernel.contracts.base import Contract, IsoDateTime, Part, by_type
from kernel.contracts.billing import Buyer

SOURCE = DOMAINS
Status = Literal["pending", "pending_registration", "pending_transfer", "active", "grace_period", "redemption",
                 "expired", "transferred_away", "cancelled"]  # fmt: skip


class DomainEvent(Contract):
    account_id: str
    domain_id: str
    name: str
    unicode_name: str


class DomainOrdered(DomainEvent):
    """Billing issued an invoice with a registration or transfer line: the domain awaits payment."""

    TYPE = "domain_ordered"
    tld: str
    kind: Literal["registration", "transfer"]
    years: int
    invoice_id: str
    epp_code: str = ""  # private; "" for a registration
    nameservers: list[str] = []
    holder: Buyer | None = None  # private: the invoice's buyer, the registrant's contact at an EPP registry
    status: Literal["pending"]


class DomainRegistrationRequested(DomainEvent):
    TYPE = "domain_registration_requested"
    invoice_id: str
    years: int
    status: Literal["pending_registration"]


class DomainTransferRequested(DomainEvent):
    """The first request names the paid invoice; a retry after a rejection may carry a new EPP code."""

    TYPE = "domain_transfer_requested"
    attempt: int
    status: Literal["pending_transfer"]
    invoice_id: str | None = None
    epp_code: str | None = None  # private


class DomainCancelled(DomainEvent):
    TYPE = "domain_cancelled"
    reason: str
    status: Literal["cancelled"]


class DomainRegistered(DomainEvent):
    TYPE = "domain_registered"
    expires_at: IsoDateTime
    status: Literal["active"]
    nameservers: list[str]


class DomainRegistrationFailed(DomainEvent):
    TYPE = "domain_registration_failed"
    code: str
    temporary: bool
    attempts: int
    retry_at: IsoDateTime | None  # None: a permanent failure


class DomainTransferredIn(DomainEvent):
    TYPE = "domain_transferred_in"
    expires_at: IsoDateTime
    status: Literal["active"]


class DomainTransferRejected(DomainEvent):
    TYPE = "domain_transfer_rejected"
    reason: str


class DomainRenewalInvoiced(DomainEvent):
    TYPE = "domain_renewal_invoiced"
    invoice_id: str
    for_expiry: IsoDateTime


class DomainRenewalDue(DomainEvent):
    """Auto-renew is on and expiry is near: billing issues the renewal invoice once per key (the
    line's params keep for_expiry, by which domains records the invoice)."""

    TYPE = "domain_renewal_due"
    for_expiry: IsoDateTime
    years: int
    idempotency_key: str


class DomainRenewalRequested(DomainEvent):
    TYPE = "domain_renewal_requested"
    invoice_id: str
    years: int


class DomainRenewed(DomainEvent):
    TYPE = "domain_renewed"
    invoice_id: str
    status: Literal["active"]
    years: int
    expires_at: IsoDateTime


class DomainExpired(DomainEvent):
    TYPE = "domain_expired"
    status: Literal["grace_period", "redemption", "expired"]
    expires_at: IsoDateTime


class DomainTransferredAway(DomainEvent):
    TYPE = "domain_transferred_away"
    status: Literal["transferred_away"]


class NameserversChanged(DomainEvent):
    TYPE = "nameservers_changed"
    nameservers: list[str]
    previous: list[str]


class DomainLockChanged(DomainEvent):
    TYPE = "domain_lock_changed"
    locked: bool


class AutoRenewChanged(DomainEvent):
    TYPE = "auto_renew_changed"
    auto_renew: bool


class DomainEppCodeRevealed(DomainEvent):
    """The owner looked at the EPP code (the code itself is never in an event)."""

    TYPE = "domain_epp_code_revealed"


# --- DNS zones (stream dnszone-<domain_id>) --------------------------------------------------
class DnsRecord(Part):
    """A record as the zone keeps it: name relative to the zone (`@` the apex), per type priority
    (MX, SRV), weight and port (SRV), flags and tag (CAA)."""

    id: str
    name: str
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"]
    ttl: int
    value: str
    priority: int | None = None
    weight: int | None = None
    port: int | None = None
    flags: int | None = None
    tag: str | None = None


class DnsZoneCreated(DomainEvent):
    TYPE = "dns_zone_created"
    nameservers: list[str]
    records: list[DnsRecord]


class DnsZoneReset(DomainEvent):
    TYPE = "dns_zone_reset"
    records: list[DnsRecord]


class DnsRecordAdded(DomainEvent):
    TYPE = "dns_record_added"
    record: DnsRecord


class DnsRecordChanged(DomainEvent):
    TYPE = "dns_record_changed"
    record: DnsRecord
    previous: DnsRecord


class DnsRecordRemoved(DomainEvent):
    TYPE = "dns_record_removed"
    record: DnsRecord


class DnsNameserversFollowed(DomainEvent):
    TYPE = "dns_nameservers_followed"
    nameservers: list[str]


class DomainHostCreated(DomainEvent):
    """A child nameserver (a host object with glue addresses) under the customer's own domain (issue #19),
    stream `domainhosts-<domain_id>`."""

    TYPE = "domain_host_created"
    host: str
    unicode_host: str
    addresses: list[str]


class DomainHostChanged(DomainEvent):
    TYPE = "domain_host_changed"
    host: str
    unicode_host: str
    addresses: list[str]
    previous_addresses: list[str]


class DomainHostDeleted(DomainEvent):
    TYPE = "domain_host_deleted"
    host: str
    unicode_host: str


EVENTS = by_type(
    DomainOrdered, DomainRegistrationRequested, DomainTransferRequested, DomainCancelled, DomainRegistered,
    DomainRegistrationFailed, DomainTransferredIn, DomainTransferRejected, DomainRenewalInvoiced,
    DomainRenewalDue, DomainRenewalRequested, DomainRenewed, DomainExpired, DomainTransferredAway, NameserversChanged,
    DomainLockChanged, AutoRenewChanged, DomainEppCodeRevealed,
    DnsZoneCreated, DnsZoneReset, DnsRecordAdded, DnsRecordChanged, DnsRecordRemoved, DnsNameserversFollowed,
    DomainHostCreated, DomainHostChanged, DomainHostDeleted,
)  # fmt: skip
