"""Support's application layer: one module per concern (the customer's tickets, attachments, the
staff desk, news, the plans customers hold, the dashboard), each of plain functions.

A function takes `Deps` (kernel.app: the event store and the clock; support calls no other service),
decides through the aggregates (`services.support.domain`: Ticket, News, Article, CustomerPlans), reads
the read models (`services.support.projections`) and returns plain data; `services.support.service`
only exposes them as Nameko entrypoints.
"""

from __future__ import annotations

from typing import Any

from kernel.app import Deps
from kernel.errors import CommandError, Invalid
from kernel.events import command_meta
from kernel.paging import one_page
from services.support import validation as v

__all__ = ["Deps", "customer_meta", "department_filter", "invalid", "page", "require_id", "staff_meta",
           "status_filter"]  # fmt: skip


def invalid(field: str, code: str) -> CommandError:
    return Invalid("invalid_input", {field: code})


def require_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "required")
    return value


def customer_meta(ctx: dict | None, account_id: str) -> dict[str, Any]:
    return command_meta(ctx, actor=(ctx or {}).get("actor") or {"type": "account", "id": account_id})


def staff_meta(ctx: dict | None) -> dict[str, Any]:
    """Meta of a staff command (the kernel admitted only a signed staff actor)."""
    return command_meta(ctx)


def page(queryset: Any, page: Any, per_page: Any, render: Any, default: int = 20) -> dict[str, Any]:
    """One page (nonsense paging becomes page 1 / the default size)."""
    return one_page(queryset, *v.page_args(page, per_page, default), render)


def status_filter(status: Any, default_active: bool) -> dict[str, Any]:
    if status in (None, ""):
        return {"status__ne": "closed"} if default_active else {}
    if status == "all":
        return {}
    if status == v.ACTIVE:
        return {"status__ne": "closed"}
    if status in v.STATUSES:
        return {"status": status}
    raise invalid("status", "invalid_status")


def department_filter(department: Any) -> dict[str, str]:
    if department in (None, ""):
        return {}
    if department not in v.DEPARTMENTS:
        raise invalid("department", "invalid_department")
    return {"department": department}
