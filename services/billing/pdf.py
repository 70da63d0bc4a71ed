"""Invoice PDF with a Unicode TTF font, so Polish letters (ą ć ę ł ń ó ś ź ż) render: everything art. 106e
of the VAT act asks for, in the buyer's language (Polish or English; amounts in PLN), the KSeF number
and its QR code (KOD I) when it has one, and for a correcting invoice the corrected one and each line
before and after."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import segno
from babel import Locale
from fpdf import FPDF

from kernel.money import format_pln
from services.billing import vat

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian/Ubuntu: apt-get install fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Fedora, Alpine
    "/usr/share/fonts/TTF",  # Arch
    "/Library/Fonts",
)
WORDS = {
    "pl": {
        "invoice": "Faktura VAT nr", "correction": "Faktura korygująca nr", "issued": "Data wystawienia",
        "sale": "Data sprzedaży", "period": "Okres świadczenia usługi", "due": "Termin płatności",
        "seller": "Sprzedawca", "buyer": "Nabywca", "nip": "NIP", "vat_eu": "Nr VAT-UE", "tax_id": "Nr podatkowy",
        "consumer": "Konsument (bez NIP)", "no": "Lp.", "name": "Nazwa towaru lub usługi", "unit": "J.m.",
        "qty": "Ilość", "unit_net": "Cena jedn. netto", "discount": "Rabat", "net": "Wartość netto",
        "rate": "Stawka VAT", "vat": "Kwota VAT", "gross": "Wartość brutto", "total": "Razem",
        "by_rate": "Podsumowanie według stawek VAT", "method": "Sposób płatności", "paid": "Zapłacono",
        "to_pay": "Do zapłaty", "account": "Rachunek bankowy", "title": "Tytuł przelewu",
        "ksef": "Numer KSeF", "offline": "Faktura wystawiona w trybie offline (KSeF niedostępny); zostanie przesłana "
        "do KSeF", "ksef_waiting": "Faktura zostanie przesłana do KSeF", "qr": "Kod weryfikacyjny KSeF (KOD I)",
        "corrects": "Korekta faktury nr", "corrected_ksef": "Numer KSeF faktury korygowanej",
        "reason": "Przyczyna korekty", "before": "Przed korektą", "after": "Po korekcie",
        "difference": "Różnica", "unit_word": "usł.", "footer": "Dokument wygenerowany elektronicznie w Panelu "
        "Klienta; nie wymaga podpisu.", "to_return": "Do zwrotu",
    },
    "en": {
        "invoice": "VAT invoice no.", "correction": "Corrective invoice no.", "issued": "Issue date",
        "sale": "Date of sale", "period": "Service period", "due": "Payment due", "seller": "Seller",
        "buyer": "Buyer", "nip": "Tax ID (NIP)", "vat_eu": "EU VAT number", "tax_id": "Tax number",
        "consumer": "Consumer (no tax ID)", "no": "No.", "name": "Description", "unit": "Unit", "qty": "Qty",
        "unit_net": "Unit net price", "discount": "Discount", "net": "Net amount", "rate": "VAT rate",
        "vat": "VAT amount", "gross": "Gross amount", "total": "Total", "by_rate": "Totals by VAT rate",
        "method": "Payment method", "paid": "Paid on", "to_pay": "Amount due", "account": "Bank account",
        "title": "Transfer title", "ksef": "KSeF number", "offline": "Invoice issued in offline mode (KSeF "
        "unavailable); it will be sent to KSeF", "ksef_waiting": "The invoice will be sent to KSeF",
        "qr": "KSeF verification code (KOD I)", "corrects": "Corrects invoice no.",
        "corrected_ksef": "KSeF number of the corrected invoice", "reason": "Reason for correction",
        "before": "Before correction", "after": "After correction", "difference": "Difference",
        "unit_word": "service", "footer": "Electronically generated in the Customer Panel; valid without a "
        "signature.", "to_return": "To be returned",
    },
}  # fmt: skip
METHODS = {
    "pl": {"bank_transfer": "przelew bankowy", "card": "karta płatnicza", "credit": "środki na koncie (saldo)",
           "stripe": "karta płatnicza"},
    "en": {"bank_transfer": "bank transfer", "card": "payment card", "credit": "account credit",
           "stripe": "payment card"},
}  # fmt: skip


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


def country_name(code: str, language: str) -> str:
    """ "PL" -> "Polska" / "Poland"."""
    code = (code or "PL").upper()
    return Locale(language).territories.get(code, code)


def payment_method(method: str | None, language: str) -> str:
    return METHODS[language].get(method or "bank_transfer", method or "")


def transfer_title(invoice: dict[str, Any]) -> str:
    """What a bank transfer for the invoice says: its number, and its KSeF number once it has one."""
    number = (invoice.get("ksef") or {}).get("ksef_number")
    return f"{invoice['number']} KSeF {number}" if number else invoice["number"]


def render_invoice(invoice: dict[str, Any]) -> bytes:
    """`invoice` is InvoiceView.detail(); returns the PDF bytes."""
    language = invoice.get("language") if invoice.get("language") in WORDS else "pl"
    words = WORDS[language]
    regular, bold = font_paths()
    pdf = FPDF(format="A4")
    correction = invoice.get("kind") == "correction"
    title = f"{words['correction' if correction else 'invoice']} {invoice['number']}"
    pdf.set_title(title)
    pdf.set_creator("Panel Klienta")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.add_page()
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    _header(pdf, invoice, words)
    _parties(pdf, invoice, words, language)
    if correction:
        _correction(pdf, invoice, words, language)
    else:
        _lines(pdf, invoice["lines"], words, language)
    _by_rate(pdf, invoice, words)
    if not correction:
        _payment(pdf, invoice, words, language)
    _ksef(pdf, invoice, words)
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 7)
    pdf.multi_cell(0, 4, words["footer"])
    return bytes(pdf.output())


def _row(pdf: FPDF, text: str, height: float = 5) -> None:
    pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def _header(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str]) -> None:
    pdf.set_font("DejaVu", "", 9)
    _row(pdf, f"{words['issued']}: {_date(invoice['issue_date'])}")
    period = invoice.get("period")
    if period:
        _row(pdf, f"{words['period']}: {period['from']} – {period['to']}")
    else:
        _row(pdf, f"{words['sale']}: {_date(invoice.get('sale_date') or invoice['issue_date'])}")
    if invoice.get("status") == "unpaid" and invoice.get("due_date"):
        _row(pdf, f"{words['due']}: {_date(invoice['due_date'])}")
    pdf.ln(3)


def party_rows(party: dict[str, Any], words: dict[str, str], language: str, seller: bool = False) -> list[str]:
    rows = [party.get("name", ""), party.get("street", ""),
            f"{party.get('postcode', '')} {party.get('city', '')}".strip(),
            country_name(party.get("country", ""), language)]  # fmt: skip
    number = vat.vat_id(party)
    if seller or (number and vat.buyer_country(party) == vat.HOME):
        rows.append(f"{words['nip']}: {number}")
    elif number and vat.is_eu(vat.buyer_country(party)):
        rows.append(f"{words['vat_eu']}: {number}")
    elif number:
        rows.append(f"{words['tax_id']}: {number}")
    else:
        rows.append(words["consumer"])
    return [row for row in rows if row]


def _parties(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str], language: str) -> None:
    top = pdf.get_y()
    bottom = top
    for x, title, party, is_seller in ((10, words["seller"], invoice.get("seller") or {}, True),
                                       (110, words["buyer"], invoice.get("buyer") or {}, False)):  # fmt: skip
        pdf.set_xy(x, top)
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(90, 6, title, new_x="LEFT", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)
        for row in party_rows(party, words, language, is_seller):
            pdf.multi_cell(90, 5, row, new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(10, bottom + 4)


def line_text(line: dict[str, Any], language: str) -> str:
    return (line.get("description_en") if language == "en" else None) or line["description"]


def _line_cells(index: Any, line: dict[str, Any], words: dict[str, str], language: str) -> list[str]:
    unit = words["unit_word"] if (line.get("unit") or "usł.") == "usł." else line["unit"]
    quantity = line.get("quantity", 1)
    unit_net = line.get("unit_net") if line.get("unit_net") is not None else line["net"] // max(quantity, 1)
    return [str(index), line_text(line, language), unit, str(quantity), format_pln(unit_net),
            format_pln(line.get("discount") or 0), format_pln(line["net"]),
            vat.rate_label(line["vat_rate"], line.get("vat_code")), format_pln(line["vat"]),
            format_pln(line["gross"])]  # fmt: skip


WIDTHS = (7, 50, 11, 9, 19, 17, 19, 14, 20, 24)


def _table(pdf: FPDF, words: dict[str, str], rows: list[list[str]], bold_last: bool = False) -> None:
    pdf.set_font("DejaVu", "", 7)
    heads = [words[k] for k in ("no", "name", "unit", "qty", "unit_net", "discount", "net", "rate", "vat", "gross")]
    with pdf.table(col_widths=WIDTHS, text_align=("CENTER", "LEFT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "RIGHT",
                                                  "RIGHT", "RIGHT", "RIGHT"), line_height=4) as table:  # fmt: skip
        header = table.row()
        for head in heads:
            header.cell(head)
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.ln(2)


def _lines(pdf: FPDF, lines: list[dict[str, Any]], words: dict[str, str], language: str) -> None:
    _table(pdf, words, [_line_cells(i, line, words, language) for i, line in enumerate(lines, start=1)])


def _correction(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str], language: str) -> None:
    corrected = invoice.get("correction") or {}
    pdf.set_font("DejaVu", "", 9)
    _row(pdf, f"{words['corrects']}: {corrected.get('number', '')} ({words['issued'].lower()} "
              f"{_date(corrected.get('issue_date'))})")  # fmt: skip
    if corrected.get("ksef_number"):
        _row(pdf, f"{words['corrected_ksef']}: {corrected['ksef_number']}")
    _row(pdf, f"{words['reason']}: {corrected.get('reason', '')}")
    pdf.ln(2)
    rows = []
    for index, pair in enumerate(corrected.get("pairs") or [], start=1):
        after = pair.get("after") or {**pair["before"], "unit_net": 0, "discount": 0, "net": 0, "vat": 0, "gross": 0,
                                      "quantity": 0}  # fmt: skip
        for label, line in ((words["before"], pair["before"]), (words["after"], after)):
            cells = _line_cells(index, line, words, language)
            rows.append([cells[0], f"{label}: {cells[1]}", *cells[2:]])
    _table(pdf, words, rows)
    pdf.set_font("DejaVu", "B", 10)
    label = words["to_return"] if invoice["total_gross"] < 0 else words["difference"]
    _row(pdf, f"{label}: {format_pln(abs(invoice['total_gross']))}", 6)


def _by_rate(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str]) -> None:
    pdf.set_font("DejaVu", "B", 8)
    _row(
        pdf, words["by_rate"] if invoice.get("kind") != "correction" else f"{words['by_rate']} ({words['difference']})"
    )
    pdf.set_font("DejaVu", "", 8)
    with pdf.table(col_widths=(30, 40, 40, 40), text_align="RIGHT", line_height=4, width=150, align="LEFT") as table:
        head = table.row()
        for key in ("rate", "net", "vat", "gross"):
            head.cell(words[key])
        for bucket in invoice.get("vat_summary") or []:
            row = table.row()
            for value in (vat.rate_label(bucket["vat_rate"], bucket.get("vat_code")), format_pln(bucket["net"]),
                          format_pln(bucket["vat"]), format_pln(bucket["gross"])):  # fmt: skip
                row.cell(value)
        row = table.row()
        for value in (words["total"], format_pln(invoice["total_net"]), format_pln(invoice["total_vat"]),
                      format_pln(invoice["total_gross"])):  # fmt: skip
            row.cell(value)
    if invoice.get("vat_note"):
        pdf.ln(1)
        pdf.set_font("DejaVu", "B", 9)
        _row(pdf, vat.note_in(invoice["vat_note"], invoice.get("language") or "pl"))
    pdf.ln(3)


def _payment(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str], language: str) -> None:
    pdf.set_font("DejaVu", "", 9)
    _row(pdf, f"{words['method']}: {payment_method(invoice.get('payment_method'), language)}")
    pdf.set_font("DejaVu", "B", 11)
    if invoice.get("status") == "paid" or (invoice.get("paid_at") and invoice.get("status") == "refunded"):
        _row(pdf, f"{words['paid']} {_date(invoice.get('paid_at'))}: {format_pln(invoice['total_gross'])}", 7)
        return
    due = invoice["total_gross"] - invoice.get("paid_amount", 0) if invoice.get("status") == "unpaid" else 0
    _row(pdf, f"{words['to_pay']}: {format_pln(due)}", 7)
    pdf.set_font("DejaVu", "", 9)
    seller = invoice.get("seller") or {}
    if seller.get("bank_account") and due:
        _row(pdf, f"{words['account']}: {seller['bank_account']}")
        _row(pdf, f"{words['title']}: {transfer_title(invoice)}")


def qr_png(link: str) -> io.BytesIO:
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=4, border=2)
    out.seek(0)
    return out


def _ksef(pdf: FPDF, invoice: dict[str, Any], words: dict[str, str]) -> None:
    ksef = invoice.get("ksef") or {}
    if not ksef.get("required"):
        return
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 9)
    if ksef.get("ksef_number"):
        _row(pdf, f"{words['ksef']}: {ksef['ksef_number']}")
    elif ksef.get("status") == "offline":
        _row(pdf, f"OFFLINE — {words['offline']}")
    else:
        _row(pdf, words["ksef_waiting"])
    if ksef.get("qr_link"):
        top = pdf.get_y()
        pdf.image(qr_png(ksef["qr_link"]), x=10, y=top, w=30, h=30)
        pdf.set_xy(42, top + 10)
        pdf.set_font("DejaVu", "", 8)
        label = ksef["ksef_number"] if ksef.get("ksef_number") else "OFFLINE"
        pdf.cell(150, 5, f"{words['qr']}: {label}")
        pdf.set_xy(10, top + 31)
        _one_line(pdf, ksef["qr_link"])


def _one_line(pdf: FPDF, text: str, width: float = 190) -> None:
    """`text` on one line (a link must not break), in the largest font up to 8 pt that fits."""
    size = 8.0
    pdf.set_font("DejaVu", "", size)
    while size > 4 and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font("DejaVu", "", size)
    pdf.cell(width, 4, text, new_x="LMARGIN", new_y="NEXT")
