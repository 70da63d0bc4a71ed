"""What the customer sees of a hosting account and the one thing they do: set a new password (the
same for SFTP and the database). The password goes to the server and nowhere else: not in an
event, a log line or a mail (the welcome mail links to the page where it is set)."""

from __future__ import annotations

from typing import Any

from kernel.dates import iso
from kernel.errors import Conflict, Invalid, Unavailable
from services.hosting.app import Deps, do, load, own, spec
from services.hosting.modules import ServerError
from services.hosting.projections import HostingView

USABLE = ("active", "suspended")
MIN_PASSWORD, MAX_PASSWORD = 10, 128
PAGE_WAIT = 2.0  # seconds a page waits for the server's disk measurement (the gateway waits RPC_TIMEOUT in all)


def access(deps: Deps, account_id: str, service_id: str, measure: bool = True) -> dict[str, Any]:
    """The access details, the state, the plan's limits and the disk used against the plan (measured
    now unless the server does not answer; then the last measurement)."""
    view = own(account_id, service_id)
    if measure and view.state in USABLE:
        _measure(deps, view)
        view.reload()
    server, account = deps.server, load(deps, view.id)
    return {
        "service_id": view.id,
        "state": view.state,
        "domain": view.domain,
        "site_url": server.site_url(view.domain),
        "sftp": {"host": server.sftp_host, "port": server.sftp_port, "user": view.username},
        "database": {"host": server.db_host, "port": server.db_port, "name": view.database, "user": view.username},
        "login_link": server.module().login_link(spec(account)) if view.state in USABLE else None,
        "plan": account.plan,
        "limits": dict(account.limits),  # the plan's (plans.py); `plan_pending` while the server has the old ones
        "plan_pending": account.applied is not None and account.applied_plan != account.plan,
        "password_set": view.password_set == "yes",
        "usage": {
            "disk_bytes": view.disk_bytes,
            "disk_limit_bytes": (view.disk_mb or 0) * 1024 * 1024,
            "measured_at": view.measured_at,
        },  # fmt: skip
        "remove_at": view.remove_at,
    }


def _measure(deps: Deps, view: HostingView) -> None:
    try:
        used = deps.server.module(PAGE_WAIT).usage(spec(load(deps, view.id)))
    except ServerError:
        return  # the page shows the last measurement
    HostingView.objects(id=view.id).update_one(set__disk_bytes=used.disk_bytes, set__measured_at=iso(deps.now()))


def set_password(deps: Deps, account_id: str, service_id: str, password: Any, ctx: dict | None) -> dict[str, Any]:
    view = own(account_id, service_id)
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid("invalid_input", {"password": "hosting_password_length"})
    if not password.isprintable() or password.strip() != password:
        raise Invalid("invalid_input", {"password": "hosting_password_characters"})
    if view.state not in USABLE:
        raise Conflict("hosting_not_ready")
    account = load(deps, service_id)
    try:
        deps.module.set_password(spec(account), password)
    except ServerError as exc:
        raise Unavailable("hosting_server_unavailable") from exc
    do(deps, service_id, lambda a: a.password_changed(), ctx)
    return access(deps, account_id, service_id, measure=False)


def list_failures(min_attempts: int) -> list[dict[str, Any]]:
    """Accounts whose step has failed at least `min_attempts` times in a row, the oldest first (staff)."""
    rows = HostingView.objects(attempts__gte=min_attempts).order_by("updated_at")
    return [{"service_id": v.id, "account_id": v.account_id, "username": v.username, "domain": v.domain,
             "server": v.server, "state": v.state, "step": v.failing_step, "error": v.error, "attempts": v.attempts,
             "retry_at": v.retry_at} for v in rows]  # fmt: skip
