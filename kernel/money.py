"""Money, the shared vocabulary: integer grosze, VAT per line, discounts, totals, PLN formatting. No floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CURRENCY = "PLN"
DEFAULT_VAT_RATE = 23


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (0.5 grosza -> 1 grosz)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((abs(numerator) * 2 + denominator) // (2 * denominator))


def vat_of(net: int, rate: int | str) -> int:
    """VAT on a net amount in grosze at `rate` percent, rounded half up. A rate is a whole percent
    (23) or, where a country has a fraction (Finland's 25.5), its decimal text ("25.5")."""
    basis_points = int(Decimal(str(rate)) * 100)
    return div_half_up(net * basis_points, 10_000)


def discounted(net: int, percent: int) -> int:
    """Net after a percentage discount, rounded half up on grosze."""
    if not 0 <= percent <= 100:
        raise ValueError("percent out of range")
    return div_half_up(net * (100 - percent), 100)


def invoice_line(kind: str, description: str, params: dict[str, Any], net: int, vat_rate: int,
                 quantity: int = 1, currency: str = CURRENCY) -> dict[str, Any]:  # fmt: skip
    """An InvoiceLine (kernel.contracts): net, VAT and gross computed on this line."""
    if not isinstance(net, int) or isinstance(net, bool):
        raise TypeError("net must be integer grosze")
    line_net = net * quantity
    vat = vat_of(line_net, vat_rate)
    return {
        "kind": kind,
        "description": description,
        "params": dict(params),
        "quantity": quantity,
        "unit_net": net,
        "net": line_net,
        "vat_rate": vat_rate,
        "vat": vat,
        "gross": line_net + vat,
        "currency": currency,
    }


def totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoice totals: sums of the rounded lines, plus a summary per VAT rate."""
    by_rate: dict[str, dict[str, Any]] = {}
    for line in lines:
        rate = f"{line['vat_rate']}|{line.get('vat_code') or ''}"  # 0% charged and "np" are different rates
        code = {"vat_code": line["vat_code"]} if line.get("vat_code") else {}
        bucket = by_rate.setdefault(rate, {"vat_rate": line["vat_rate"], "net": 0, "vat": 0, "gross": 0, **code})
        for key in ("net", "vat", "gross"):
            bucket[key] += line[key]
    return {
        "total_net": sum(line["net"] for line in lines),
        "total_vat": sum(line["vat"] for line in lines),
        "total_gross": sum(line["gross"] for line in lines),
        "vat_summary": sorted(by_rate.values(), key=lambda b: (Decimal(str(b["vat_rate"])), b.get("vat_code", ""))),
        "currency": CURRENCY,
    }


def format_pln(grosze: int) -> str:
    """1234567 -> '12 345,67 zł' (Polish notation, for documents)."""
    sign = "-" if grosze < 0 else ""
    zloty, gr = divmod(abs(grosze), 100)
    return f"{sign}{zloty:,}".replace(",", "\u00a0") + f",{gr:02d} zł"
