"""Billing's part of the customer's dashboard."""

from __future__ import annotations

from typing import Any

from services.billing.app import Deps, invoices, renewals
from services.billing.domain import LIVE
from services.billing.projections import InvoiceView, ServiceView


def summary(deps: Deps, account_id: str) -> dict[str, Any]:
    """Tiles, active services, renewals and credit from two reads: the live services (both the list and
    the active count) and the customer view (credit, the unpaid count, which domain renewals are due); the
    cart and the invoices only when something is due. The offer is the same for everybody: the gateway
    asks it once (`get_current_offer`), not with each account."""
    live = list(ServiceView.objects(account_id=account_id, status__in=list(LIVE)).order_by("name"))
    customer = invoices.customer_figures(account_id)
    unpaid = customer["unpaid_invoice_ids"]
    if unpaid is None:  # no sets in the customer view yet: counted the slow way
        unpaid_count = InvoiceView.objects(account_id=account_id, status="unpaid").count()
    else:
        unpaid_count = len(unpaid)
    active = [{"service_id": s.id, "name": s.name, "domain": s.domain, "status": s.status,
               "next_due_date": s.public()["next_due_date"]} for s in live]  # fmt: skip
    return {
        "tiles": {"services": sum(1 for s in live if s.status == "active"), "unpaid_invoices": unpaid_count},
        "active_services": active,
        "renewals": renewals.renewals(deps, account_id, live, customer["unpaid_domain_renewal_ids"])["items"],
        "credit": customer["credit"],
    }
