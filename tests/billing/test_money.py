"""Money: integer grosze, VAT per line rounded half up, discounts, totals."""

from __future__ import annotations

import pytest

from kernel.money import discounted, div_half_up, format_pln, invoice_line, totals, vat_of


@pytest.mark.parametrize(("net", "rate", "vat"), [
    (1500, 23, 345),
    (1, 23, 0),  # 0.23 gr -> 0
    (2, 23, 0),  # 0.46 gr -> 0
    (3, 23, 1),  # 0.69 gr -> 1
    (50, 23, 12),  # 11.5 gr -> 12 (half up, not banker's 12 either way)
    (150, 23, 35),  # 34.5 gr -> 35 (banker's rounding would give 34)
    (250, 8, 20),
    (1250, 8, 100),
    (3999, 23, 920),  # 919.77
    (0, 23, 0),
])  # fmt: skip
def test_vat_rounds_half_up_on_grosze(net, rate, vat):
    assert vat_of(net, rate) == vat


def test_half_up_is_symmetric_for_corrections():
    assert div_half_up(-150 * 23, 100) == -35
    assert div_half_up(5, 10) == 1 and div_half_up(4, 10) == 0


def test_line_has_net_vat_gross_and_no_floats():
    line = invoice_line("hosting", "Hosting Start", {"plan": "hosting-start"}, 3999, 23, quantity=2)
    assert (line["net"], line["vat"], line["gross"]) == (7998, 1840, 9838)
    assert all(isinstance(line[k], int) for k in ("net", "vat", "gross", "unit_net"))
    with pytest.raises(TypeError):
        invoice_line("hosting", "x", {}, 12.5, 23)  # type: ignore[arg-type]


def test_totals_sum_rounded_lines_not_rounded_sum():
    lines = [invoice_line("hosting", f"L{i}", {}, 150, 23) for i in range(3)]
    result = totals(lines)
    # per line 34.5 -> 35; three lines 105, while VAT of the sum (450 * 23% = 103.5) would be 104
    assert result["total_vat"] == 105
    assert result["total_gross"] == 450 + 105
    assert result["vat_summary"] == [{"vat_rate": 23, "net": 450, "vat": 105, "gross": 555}]


def test_discount_rounds_half_up():
    assert discounted(1500, 10) == 1350
    assert discounted(3999, 15) == 3399  # 3399.15
    assert discounted(1, 50) == 1  # 0.5 -> 1
    with pytest.raises(ValueError):
        discounted(100, 120)


def test_polish_amount_format():
    assert format_pln(1234567) == "12\u00a0345,67 zł"
    assert format_pln(5) == "0,05 zł"
