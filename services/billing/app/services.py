"""Hosting services: the account's list, one service with its invoices, cancellation."""

from __future__ import annotations

from typing import Any

from kernel.aggregate import execute
from kernel.errors import Invalid, NotFound
from kernel.events import command_meta
from kernel.paging import one_page, page_number
from services.billing.app import Deps
from services.billing.domain import SERVICE_STATUSES, Customer, customer_stream
from services.billing.projections import InvoiceView, OrderView, ServiceView


def list_page(account_id: str, status: str | None, page: int, per_page: int) -> dict[str, Any]:
    """The account's hosting services by name, one page; `status` narrows them to one status."""
    if status is not None and status not in SERVICE_STATUSES:
        raise Invalid("invalid_input", {"status": "invalid_status"})
    page, per_page = page_number(page, 1, 10_000), page_number(per_page, 100, 100)
    found = ServiceView.objects(account_id=account_id, **({"status": status} if status else {})).order_by("name")
    return one_page(found, page, per_page, ServiceView.public)


def detail(account_id: str, service_id: str) -> dict[str, Any]:
    """The account's service with its invoices (the order's and the renewals'), newest first."""
    view = ServiceView.objects(id=service_id, account_id=account_id).first() if isinstance(service_id, str) else None
    if not view:
        raise NotFound("service")
    invoice_ids = [i.id for i in InvoiceView.objects(service_id=service_id).only("id")]
    order = OrderView.objects(id=view.order_id).first() if view.order_id else None
    if order and order.invoice_id:
        invoice_ids.append(order.invoice_id)
    found = [v.summary() for v in InvoiceView.objects(id__in=invoice_ids, account_id=account_id) if v.number]
    found.sort(key=lambda i: i["issue_date"] or "", reverse=True)
    return {**view.public(), "invoices": found}


def request_cancellation(deps: Deps, account_id: str, service_id: str, when: str, ctx: dict | None) -> dict[str, Any]:
    detail(account_id, service_id)
    execute(deps.events, Customer, customer_stream(account_id),
            lambda c: c.request_cancellation(service_id, when, deps.now()), command_meta(ctx))  # fmt: skip
    return detail(account_id, service_id)
