"""Invoice documents (issue #16): the FA(3) XML of an invoice for its owner (`/invoices/<id>/xml`, and
`GET /api/v1/invoices/<id>/xml`), what the invoice page adds (the KSeF QR code, countries written
out), and the staff desk's invoices page: what KSeF rejected or has not taken yet, with KSeF's reason,
and the month's export for the accountant (CSV, or a zip of the FA(3) documents)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import segno
from flask import Response, flash, g, redirect, render_template, request, url_for

from gateway import clients, i18n, rpc
from gateway.auth import page_login_required
from gateway.errors import ApiError
from gateway.policy import is_staff
from gateway.views.api import api, token_required
from gateway.views.billing_api import _READ, PATHS, _account_id, _op
from gateway.views.pages import pages
from gateway.views.staff import blueprint as staff
from kernel import countries
from kernel.errors import CommandError, NotFound

EXPORT_FORMATS = ("csv", "zip")
CORRECTION_FIELDS = ("number", "line", "unit_net", "reason")


def file_response(result: dict[str, Any], default_type: str) -> Response:
    """A service's {filename, content_type, data (base64)} as a download."""
    try:
        content = base64.b64decode(result["data"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise rpc.ServiceUnavailable("billing: malformed document") from None
    filename = str(result.get("filename") or "document").replace('"', "")
    return Response(content, mimetype=str(result.get("content_type") or default_type),
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@api.get("/invoices/<invoice_id>/xml")
@token_required
def invoice_xml_api(invoice_id: str):
    return file_response(
        clients.billing.invoice_xml(account_id=_account_id(), invoice_id=invoice_id), "application/xml"
    )


PATHS["/invoices/{invoice_id}/xml"] = {"get": _op("The invoice's FA(3) document, as sent to KSeF (application/xml)",
                                                  "200", errors=_READ)}  # fmt: skip


@pages.get("/invoices/<invoice_id>/xml")
@page_login_required
def billing_invoice_xml(invoice_id: str):
    return file_response(clients.billing.invoice_xml(account_id=g.account["account_id"], invoice_id=invoice_id),
                         "application/xml")  # fmt: skip


def country_name(code: str | None) -> str:
    """ "PL" -> "Polska" / "Poland", in the page's language."""
    return countries.country_name(code or "PL", g.get("language") or "pl")


@pages.app_context_processor
def country_choices() -> dict[str, Any]:
    """`countries()` in templates: every ISO 3166 country (code, name in the page's language), Poland first,
    then by name (kernel.countries, the list accounts accepts)."""
    return {"countries": lambda: countries.country_choices(g.get("language") or "pl")}


def page_extras(invoice: dict[str, Any]) -> dict[str, Any]:
    """What the invoice page shows besides the invoice: the KOD I QR code, countries by name."""
    link = (invoice.get("ksef") or {}).get("qr_link")
    return {"ksef_qr": segno.make(link, error="m").svg_inline(scale=3) if link else "", "country_name": country_name}


@staff.get("/invoices")
def invoices():
    return _desk({}, {}, 200)


def _desk(form: dict[str, str], errors: dict[str, str], status: int):
    month = request.args.get("month") or dt.date.today().strftime("%Y-%m")
    shown = {k: v for k, v in errors.items() if k in CORRECTION_FIELDS}
    error = next((v for k, v in errors.items() if k not in CORRECTION_FIELDS), None)  # not one of the form's fields
    return render_template("staff/invoices.html", problems=clients.billing.ksef_problems(), month=month,
                           formats=EXPORT_FORMATS, form=form, errors=shown, error=error, key=uuid.uuid4().hex), status  # fmt: skip


def grosze(text: str) -> int | None:
    """ "100,00" or "100.5" zł -> grosze; None for anything else (negative, more than two decimals)."""
    try:
        amount = Decimal(text.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    cents = amount * 100
    return int(cents) if amount.is_finite() and cents >= 0 and cents == cents.to_integral_value() else None


@staff.post("/invoices/correct")
def correct_invoice():
    """A price corrected by staff: the invoice (by number), the line, its new unit net price, the reason."""
    form = {k: request.form.get(k, "") for k in (*CORRECTION_FIELDS, "key")}
    price = grosze(form["unit_net"])
    if price is None:
        return _desk(form, {"unit_net": i18n.t("invalid_amount")}, 422)
    try:
        made = clients.billing.correct_invoice(invoice_id=form["number"], prices={form["line"].strip(): price},
                                               reason=form["reason"], idempotency_key=form["key"])  # fmt: skip
    except NotFound:
        return _desk(form, {"number": i18n.t("not_found")}, 422)
    except CommandError as exc:
        errors = {("line" if k == "prices" else k): i18n.t(c) for k, c in exc.fields.items()} or {
            "number": i18n.t(exc.code)
        }
        return _desk(form, errors, 422)
    flash(i18n.t("staff_correction_issued", number=made["number"]), "success")
    return redirect(url_for("staff.invoices"))


@staff.get("/invoices/export")
def export_invoices():
    """The month's invoices and corrections: ?month=YYYY-MM&format=csv|zip (422 naming the field)."""
    answer = clients.billing.export_invoices(month=request.args.get("month", ""),
                                             format=request.args.get("format", "csv"))  # fmt: skip
    return file_response(answer, "application/octet-stream")


# --- the same for staff tools over the API (a staff member's bearer token; 404 for anyone else) ---------
def _staff_api() -> None:
    if not is_staff(g.account):
        raise ApiError(404, "not_found")


@api.get("/staff/invoices/export")
@token_required
def export_invoices_api():
    """?month=YYYY-MM&format=csv|zip: the month's invoices and corrections for the accountant."""
    _staff_api()
    answer = clients.billing.export_invoices(month=request.args.get("month", ""),
                                             format=request.args.get("format", "csv"))  # fmt: skip
    return file_response(answer, "application/octet-stream")


@api.get("/staff/invoices/ksef-problems")
@token_required
def ksef_problems_api():
    """Invoices KSeF rejected (its code, reason, details) or holds offline."""
    _staff_api()
    return {"items": clients.billing.ksef_problems()}


PATHS["/staff/invoices/export"] = {"get": _op("Staff: a month's invoices and corrections, CSV or a zip of FA(3) "
                                              "documents (query: month, format)", "200", errors=("404", "422"))}  # fmt: skip
PATHS["/staff/invoices/ksef-problems"] = {"get": _op("Staff: invoices KSeF rejected or holds offline", "200",
                                                     errors=("404",))}  # fmt: skip
