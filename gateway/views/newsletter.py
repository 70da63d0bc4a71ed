"""Staff desk: write the newsletter in Polish and English; it goes to the customers who opted in."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from gateway import clients, i18n
from gateway.errors import field_messages, status_of
from gateway.views.staff import staff_only
from kernel.errors import CommandError, NotFound

blueprint = Blueprint("staff_newsletter", __name__, url_prefix="/staff")
blueprint.before_request(staff_only)
FIELDS = ("subject_pl", "body_pl", "subject_en", "body_en")


@blueprint.route("/newsletter", methods=["GET", "POST"])
def newsletter():
    if request.method == "GET":
        return render_template("account/newsletter.html", form={}, errors={}, status=_status(request.args.get("id")))
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        queued = clients.notifications.send_newsletter(**form)
    except CommandError as exc:
        return render_template("account/newsletter.html", form=form, errors=field_messages(exc.fields),
                               error=i18n.t(exc.code), status=None), status_of(exc)  # fmt: skip
    flash(i18n.t("newsletter_queued"), "success")
    return redirect(url_for("staff_newsletter.newsletter", id=queued["newsletter_id"]))


def _status(newsletter_id: str | None) -> dict | None:
    if not newsletter_id:
        return None
    try:
        return clients.notifications.newsletter_status(newsletter_id=newsletter_id)
    except NotFound:
        return None
