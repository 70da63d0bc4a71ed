"""Invoice documents (issue #16): the FA(3) XML of an invoice for its owner (`/invoices/<id>/xml`, and
`GET /api/v1/invoices/<id>/xml`), what the invoice page adds (the KSeF QR code, countries written
out), and the staff desk's invoices page: what KSeF rejected or has not taken yet, with KSeF's reason,
and the month's export for the accountant (CSV, or a zip of the FA(3) documents)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import segno
from babel import Locale
from flask import Response, g, render_template, request

from gateway import clients, rpc
from gateway.auth import page_login_required
from gateway.views.api import api, token_required
from gateway.views.billing_api import _READ, PATHS, _account_id, _op
from gateway.views.pages import pages
from gateway.views.staff import blueprint as staff

EXPORT_FORMATS = ("csv", "zip")
# the billing address form's countries (services/accounts/validation.py COUNTRIES)
COUNTRIES = ("PL", "DE", "CZ", "SK", "LT", "UA", "GB", "FR", "NL", "AT", "BE", "DK", "ES", "IT", "IE", "SE", "NO", "FI",
             "PT", "HU", "RO", "BG", "HR", "SI", "EE", "LV", "GR", "CH", "US", "CA")  # fmt: skip


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
    code = (code or "PL").upper()
    return Locale(g.language if g.get("language") in ("pl", "en") else "pl").territories.get(code, code)


@pages.app_context_processor
def country_choices() -> dict[str, Any]:
    """`countries()` in templates: (code, name in the page's language), Poland first, then by name."""

    def countries() -> list[tuple[str, str]]:
        named = sorted(((code, country_name(code)) for code in COUNTRIES[1:]), key=lambda pair: pair[1])
        return [("PL", country_name("PL")), *named]

    return {"countries": countries}


def page_extras(invoice: dict[str, Any]) -> dict[str, Any]:
    """What the invoice page shows besides the invoice: the KOD I QR code, countries by name."""
    link = (invoice.get("ksef") or {}).get("qr_link")
    return {"ksef_qr": segno.make(link, error="m").svg_inline(scale=3) if link else "", "country_name": country_name}


@staff.get("/invoices")
def invoices():
    month = request.args.get("month") or dt.date.today().strftime("%Y-%m")
    return render_template("staff/invoices.html", problems=clients.billing.ksef_problems(), month=month,
                           formats=EXPORT_FORMATS)  # fmt: skip


@staff.get("/invoices/export")
def export_invoices():
    """The month's invoices and corrections: ?month=YYYY-MM&format=csv|zip (422 naming the field)."""
    answer = clients.billing.export_invoices(month=request.args.get("month", ""),
                                             format=request.args.get("format", "csv"))  # fmt: skip
    return file_response(answer, "application/octet-stream")
