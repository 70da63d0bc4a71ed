"""The staff desk's list of hosting accounts whose steps keep failing on their server (issue #21):
`/staff/hosting`, on the staff blueprint (staff only, like every desk page)."""

from __future__ import annotations

from flask import render_template

from gateway import clients
from gateway.views.staff import blueprint


@blueprint.get("/hosting")
def hosting_failures():
    failures = clients.hosting.list_failures()
    return render_template("staff/hosting.html", failures=failures)
