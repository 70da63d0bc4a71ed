"""Invoice PDF with a Unicode TTF font, so Polish letters (ą ć ę ł ń ó ś ź ż) render."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpdf import FPDF

from kernel.money import format_pln

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian/Ubuntu: apt-get install fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Fedora, Alpine
    "/usr/share/fonts/TTF",  # Arch
    "/Library/Fonts",
)
STATUS_PL = {"unpaid": "nieopłacona", "paid": "opłacona", "cancelled": "anulowana", "refunded": "zwrócona",
             "pending": "w przygotowaniu"}  # fmt: skip


class FontMissingError(RuntimeError):
    pass


def font_paths() -> tuple[str, str]:
    """DejaVu Sans regular and bold: INVOICE_FONT_DIR first, then the usual system places."""
    dirs = [os.environ["INVOICE_FONT_DIR"]] if os.environ.get("INVOICE_FONT_DIR") else []
    for folder in [*dirs, *FONT_DIRS]:
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.is_file():
            return str(regular), str(bold if bold.is_file() else regular)
    raise FontMissingError(
        "DejaVuSans.ttf not found: install the Debian package fonts-dejavu-core "
        "or set INVOICE_FONT_DIR to a folder holding DejaVuSans.ttf"
    )


def _date(value: str | None) -> str:
    return (value or "")[:10]


def render_invoice(invoice: dict[str, Any]) -> bytes:
    """`invoice` is InvoiceView.detail(); returns the PDF bytes."""
    regular, bold = font_paths()
    pdf = FPDF(format="A4")
    pdf.set_title(f"Faktura {invoice['number']}")
    pdf.set_creator("Panel Klienta")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.add_page()
    pdf.set_auto_page_break(True, margin=15)

    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 10, f"Faktura VAT nr {invoice['number']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, f"Data wystawienia: {_date(invoice['issue_date'])}    Termin płatności: {_date(invoice['due_date'])}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 5, f"Status: {STATUS_PL.get(invoice['status'], invoice['status'])}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    seller, buyer = invoice.get("seller") or {}, invoice.get("buyer") or {}
    top = pdf.get_y()
    for x, title, party in ((10, "Sprzedawca", seller), (110, "Nabywca", buyer)):
        pdf.set_xy(x, top)
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(90, 6, title, new_x="LEFT", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)
        rows = [party.get("name", ""), party.get("street", ""), f"{party.get('postcode', '')} {party.get('city', '')}".strip(),
                party.get("country", "")]  # fmt: skip
        if party.get("nip"):
            rows.append(f"NIP: {party['nip']}")
        for row in rows:
            if row:
                pdf.cell(90, 5, row, new_x="LEFT", new_y="NEXT")
    pdf.set_xy(10, max(pdf.get_y(), top + 40))
    pdf.ln(4)

    widths = (8, 92, 24, 14, 24, 28)
    pdf.set_font("DejaVu", "B", 8)
    for width, head in zip(
        widths, ("Lp.", "Nazwa towaru lub usługi", "Netto", "VAT %", "Kwota VAT", "Brutto"), strict=True
    ):
        pdf.cell(width, 7, head, border=1, align="C")
    pdf.ln()
    pdf.set_font("DejaVu", "", 8)
    for index, line in enumerate(invoice["lines"], start=1):
        cells = (str(index), line["description"][:70], format_pln(line["net"]), f"{line['vat_rate']}%",
                 format_pln(line["vat"]), format_pln(line["gross"]))  # fmt: skip
        for width, value, align in zip(widths, cells, "CLRRRR", strict=True):
            pdf.cell(width, 7, value, border=1, align=align)
        pdf.ln()
    pdf.set_font("DejaVu", "B", 8)
    pdf.cell(widths[0] + widths[1], 7, "Razem", border=1, align="R")
    for width, value in zip(widths[2:], (format_pln(invoice["total_net"]), "", format_pln(invoice["total_vat"]),
                                         format_pln(invoice["total_gross"])), strict=True):  # fmt: skip
        pdf.cell(width, 7, value, border=1, align="R")
    pdf.ln(12)

    pdf.set_font("DejaVu", "B", 11)
    due = invoice["total_gross"] - invoice.get("paid_amount", 0) if invoice["status"] == "unpaid" else 0
    pdf.cell(0, 7, f"Do zapłaty: {format_pln(due)}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    if seller.get("bank_account"):
        pdf.cell(0, 5, f"Rachunek bankowy: {seller['bank_account']}   Tytuł przelewu: {invoice['number']}",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 7)
    pdf.multi_cell(0, 4, "Dokument wygenerowany elektronicznie w Panelu Klienta; nie wymaga podpisu. "
                         "Dziękujemy za zaufanie — zespół obsługi klienta.")  # fmt: skip
    return bytes(pdf.output())
