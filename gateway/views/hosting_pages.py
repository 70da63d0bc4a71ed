"""The hosting account on a service's page ("Zarządzaj"): access details, disk usage, the state while
it is set up or delayed, and the form that sets a new password (issue #21). The service page
(billing_pages) renders `billing/_hosting_access.html` with what `access(service)` returns."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for

from gateway import clients, i18n, rpc
from gateway.auth import page_login_required
from gateway.errors import field_messages
from gateway.views.pages import pages
from kernel.errors import CommandError, NotFound

MB = 1024 * 1024


def access(service: dict[str, Any]) -> dict[str, Any] | None:
    """The service's hosting account as the partial shows it; None when it has none (not a hosting
    service, or billing's activation not seen yet), {"unavailable": True} when hosting does not answer."""
    if service.get("status") in ("pending", "terminated", "cancelled"):
        return None
    try:
        found = clients.hosting.get_access(account_id=g.account["account_id"], service_id=service["service_id"])
    except NotFound:
        return None
    except (rpc.ServiceUnavailable, CommandError):
        return {"unavailable": True}
    usage = found["usage"]
    if usage["disk_bytes"] is not None:
        used, limit = i18n.number(round(usage["disk_bytes"] / MB, 1)), i18n.number(usage["disk_limit_bytes"] // MB)
        found["disk_text"] = i18n.t("hosting_disk_used", used=used, limit=limit)
        found["disk_percent"] = min(100, round(100 * usage["disk_bytes"] / max(usage["disk_limit_bytes"], 1)))
    limits = found.get("limits") or {}
    if limits:
        found["limits_text"] = i18n.t("hosting_limits_text", workers=limits["php_workers"],
                                      memory=i18n.number(limits["php_memory_mb"]), upload=i18n.number(limits["upload_mb"]),
                                      connections=limits["db_connections"])  # fmt: skip
    return found


@pages.post("/services/<service_id>/hosting/password")
@page_login_required
def hosting_set_password(service_id: str):
    password, repeated = request.form.get("password", ""), request.form.get("password_repeat", "")
    back = redirect(url_for("pages.billing_service", service_id=service_id, _anchor="hosting-password"))
    if password != repeated:
        flash(i18n.t("hosting_password_mismatch"), "error")
        return back
    try:
        clients.hosting.set_password(account_id=g.account["account_id"], service_id=service_id, password=password)
    except NotFound:
        abort(404)
    except CommandError as exc:
        messages = field_messages(exc.fields)
        flash(messages.get("password") or i18n.t(exc.code), "error")
        return back
    except rpc.ServiceUnavailable:
        flash(i18n.t("hosting_server_unavailable"), "error")
        return back
    flash(i18n.t("hosting_password_changed"), "success")
    return back
