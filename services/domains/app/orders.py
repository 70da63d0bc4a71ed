"""Orders from billing's invoices: a domain waits for payment, a paid registration or transfer goes to
the registry (exactly once per paid line), a paid renewal is applied there once, a cancelled invoice
cancels what waited for it; a renewal invoice billing issued for `domain_renewal_due` is recorded."""

from __future__ import annotations

import datetime as dt
import logging
import os

from kernel.contracts.billing import InvoiceIssued, InvoiceLine, InvoicePaid
from kernel.events import Event
from services.domains import names, registrar
from services.domains.app import SYSTEM, Deps, do, load
from services.domains.domain import ORDER_KINDS, Domain, domain_id_for
from services.domains.projections import DomainView

log = logging.getLogger(__name__)
# Where a newly registered domain points until the customer changes it: our hosting's DNS.
DEFAULT_NAMESERVERS = [n.strip() for n in os.environ.get("DOMAIN_DEFAULT_NAMESERVERS",
                                                          "ns1.panel.localhost,ns2.panel.localhost").split(",") if n.strip()]  # fmt: skip


def invoice_issued(deps: Deps, event: Event) -> None:
    """An order's domains wait for payment; a renewal invoice asked for by `domain_renewal_due` (its
    line keeps `for_expiry`) is recorded on its domain."""
    ctx, invoice = {"causation_id": event.event_id, **SYSTEM}, event.payload
    for index, line in enumerate(invoice.lines):
        params = line.params
        if line.kind in ORDER_KINDS:
            order(deps, invoice, index, line, event)
        elif line.kind == "domain_renewal" and params.get("for_expiry") and params.get("domain_id"):
            do(deps, params["domain_id"], lambda d, e=params["for_expiry"]: d.renewal_invoiced(invoice.invoice_id, e),
               ctx)  # fmt: skip


def order(deps: Deps, invoice: InvoiceIssued | InvoicePaid, index: int, line: InvoiceLine, event: Event) -> str:
    params = line.params
    name = names.parse(params["domain"])
    details = {"account_id": invoice.account_id, "name": name.ascii, "unicode_name": name.unicode,
               "tld": name.tld, "kind": ORDER_KINDS[line.kind], "years": int(params.get("years") or 1),
               "invoice_id": invoice.invoice_id, "epp_code": params.get("epp_code", ""),
               "nameservers": DEFAULT_NAMESERVERS}  # fmt: skip
    if getattr(invoice, "buyer", None):  # the registrant's contact at the registry (issue #19)
        details["holder"] = invoice.buyer.model_dump(mode="json")
    domain_id = domain_id_for(invoice.invoice_id, index)
    do(deps, domain_id, lambda d: d.order(details), {"causation_id": event.event_id, **SYSTEM})
    return domain_id


def invoice_paid(deps: Deps, event: Event) -> None:
    """Each paid line acts once: the aggregate refuses a second request for the same invoice."""
    ctx, invoice = {"causation_id": event.event_id, **SYSTEM}, event.payload
    for index, line in enumerate(invoice.lines):
        if line.kind in ORDER_KINDS:
            domain_id = order(deps, invoice, index, line, event)
            do(deps, domain_id, lambda d: d.request(invoice.invoice_id), ctx)
            submit(deps, domain_id)
        elif line.kind == "domain_renewal":
            domain_id, years = line.params["domain_id"], int(line.params.get("years") or 1)
            do(deps, domain_id, lambda d, y=years: d.request_renewal(invoice.invoice_id, y), ctx)
            renew_pending(deps, domain_id)


def invoice_cancelled(deps: Deps, event: Event) -> None:
    for view in DomainView.objects(invoice_id=event.payload.invoice_id, status="pending"):
        do(deps, view.id, lambda d: d.cancel("invoice_cancelled"), {"causation_id": event.event_id, **SYSTEM})


def submit(deps: Deps, domain_id: str) -> Domain:
    """Send a paid registration or transfer to the registry and record its answer."""
    domain = load(deps, domain_id)
    if domain.status == "pending_registration":
        return register(deps, domain)
    if domain.status == "pending_transfer" and not domain.failure:
        ref = f"{domain_id}:{domain.attempts}"
        try:
            deps.registry("transfer", domain.data["name"], domain.epp_code, ref)
        except registrar.RegistrarError as exc:
            if exc.temporary:  # still pending: the cycle submits it again
                return domain
            code = exc.code
            return do(deps, domain_id, lambda d: d.transfer_rejected(code))
        return poll_transfer(deps, domain)
    return domain


def register(deps: Deps, domain: Domain) -> Domain:
    try:
        expires_at = deps.registry("register", domain.data["name"], domain.years, domain.nameservers,
                                   domain.domain_id, domain.data.get("holder"))  # fmt: skip
    except registrar.RegistrarError as exc:
        log.warning("registering %s failed: %s", domain.data["name"], exc.code)
        code, temporary = exc.code, exc.temporary
        return do(deps, domain.domain_id, lambda d: d.registration_failed(code, temporary, deps.now()))
    return deps.on_held(do(deps, domain.domain_id, lambda d: d.registered(expires_at)))


def poll_transfer(deps: Deps, domain: Domain) -> Domain:
    ref = f"{domain.domain_id}:{domain.attempts}"
    status = deps.registry("transfer_status", domain.data["name"], ref)
    if status["status"] == "completed":
        return deps.on_held(do(deps, domain.domain_id, lambda d: d.transferred_in(status["expires_at"])))
    if status["status"] == "rejected":
        return do(deps, domain.domain_id, lambda d: d.transfer_rejected(status["reason"]))
    if status["status"] == "unknown":
        return submit(deps, domain.domain_id)
    return domain


def renew_pending(deps: Deps, domain_id: str, requested_before: dt.datetime | None = None) -> None:
    domain = load(deps, domain_id)
    for invoice_id, years in domain.pending_renewals(requested_before).items():
        try:
            expires_at = deps.registry("renew", domain.data["name"], years, invoice_id)
        except registrar.RegistrarError as exc:  # the cycle tries again
            log.warning("renewing %s failed: %s", domain.data["name"], exc.code)
            continue
        do(deps, domain_id, lambda d, i=invoice_id, e=expires_at: d.renewed(i, e))
