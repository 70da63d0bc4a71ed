"""For the accountant (issue #16): a month's invoices and corrections as CSV, and their FA(3) documents
as a zip (the documents KSeF got, for those sent)."""

from __future__ import annotations

import base64
import csv
import io
import re
import zipfile
from typing import Any

from kernel.errors import Invalid
from services.billing.app import Deps
from services.billing.app.ksef import document_of
from services.billing.projections import InvoiceView
from services.billing.vat import vat_id

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
COLUMNS = ("number", "kind", "issue_date", "sale_date", "period_from", "period_to", "buyer_name", "buyer_tax_id",
           "buyer_country", "net", "vat", "gross", "vat_rates", "currency", "status", "payment_method", "paid_at",
           "corrects", "corrects_ksef_number", "ksef_status", "ksef_number")  # fmt: skip
FORMATS = ("csv", "zip")


def month_invoices(month: Any) -> list[InvoiceView]:
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise Invalid("invalid_input", {"month": "invalid_month"})
    found = InvoiceView.objects(month=month, number__ne=None).order_by("issue_date")
    return sorted(found, key=lambda v: (v.kind == "correction", v.number))


def _grosze(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"


def csv_row(view: InvoiceView) -> list[str]:
    period, ksef, corrected = view.period or {}, view.ksef_state(), view.correction or {}
    rates = "; ".join(f"{b.get('vat_code') or b['vat_rate']}: {_grosze(b['vat'])}" for b in view.vat_summary)
    return [view.number, view.kind or "", (view.issue_date or "")[:10], (view.sale_date or "")[:10],
            period.get("from", ""), period.get("to", ""), (view.buyer or {}).get("name", ""), vat_id(view.buyer or {}),
            (view.buyer or {}).get("country", ""), _grosze(view.total_net), _grosze(view.total_vat),
            _grosze(view.total_gross), rates, view.currency, view.status, view.payment_method or "",
            (view.paid_at or "")[:10], corrected.get("number", ""), corrected.get("ksef_number") or "",
            ksef.get("status", "") if ksef.get("required") else "not_required", ksef.get("ksef_number", "")]  # fmt: skip


def export(deps: Deps, month: Any, kind: Any) -> dict[str, str]:
    """{filename, content_type, data (base64)}: the month's CSV, or the zip of its FA(3) documents."""
    if kind not in FORMATS:
        raise Invalid("invalid_input", {"format": "invalid_choice"})
    views = month_invoices(month)
    if kind == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(csv_row(v) for v in views)
        content, content_type = out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8"
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for view in views:
                archive.writestr(f"{view.number.replace('/', '-')}.xml", document_of(deps, view))
        content, content_type = buffer.getvalue(), "application/zip"
    return {"filename": f"faktury-{month}.{kind}", "content_type": content_type,
            "data": base64.b64encode(content).decode("ascii")}  # fmt: skip
