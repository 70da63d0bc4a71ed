"""VAT by buyer (issue #16): the rule and the rate table it reads."""

from datetime import date
from decimal import Decimal

import pytest

from services.billing import vat


@pytest.mark.parametrize(
    ("buyer", "code", "percent", "note"),
    [
        ({"country": "PL", "nip": "5260250274"}, "23", Decimal(23), ""),
        ({"country": "PL", "nip": ""}, "23", Decimal(23), ""),
        ({"nip": ""}, "23", Decimal(23), ""),  # no country: a Polish address (the form's default)
        ({"country": "DE", "nip": "DE123456789"}, "np II", Decimal(0), "odwrotne obciążenie"),
        ({"country": "gr", "vat_eu": "EL123456789"}, "np II", Decimal(0), "odwrotne obciążenie"),
        ({"country": "DE", "nip": ""}, "OSS", Decimal(19), "VAT DE 19% (procedura OSS)"),
        ({"country": "FI"}, "OSS", Decimal("25.5"), "VAT FI 25.5% (procedura OSS)"),
        ({"country": "HU"}, "OSS", Decimal(27), "VAT HU 27% (procedura OSS)"),
        ({"country": "US", "nip": "12-3456789"}, "np I", Decimal(0), vat.OUTSIDE_EU_NOTE),
        ({"country": "GB"}, "np I", Decimal(0), vat.OUTSIDE_EU_NOTE),
        ({"country": "CH", "nip": ""}, "np I", Decimal(0), vat.OUTSIDE_EU_NOTE),
    ],
)
def test_vat_rule_by_buyer(buyer, code, percent, note):
    assert vat.vat_rule(buyer) == (code, percent, note)


def test_the_rule_unpacks_as_code_percent_note():
    code, percent, note = vat.vat_rule({"country": "AT"})
    assert (code, percent, note) == ("OSS", Decimal(20), "VAT AT 20% (procedura OSS)")


def test_rate_table_names_its_source_and_date_and_covers_the_27_member_states():
    table = vat.rate_table()
    assert "European Commission" in table["source"]
    date.fromisoformat(table["checked"])
    rates = table["standard_rates"]
    assert len(rates) == 27 and "GB" not in rates and rates["PL"] == "23"
    assert all(Decimal(15) <= Decimal(rate) <= Decimal(27) for rate in rates.values())  # the directive's floor


def test_greek_vat_numbers_start_with_el():
    assert vat.vat_country_of("EL123456789") == "GR"
    assert vat.vat_country_of("de123456789") == "DE"
    assert vat.is_eu("gr") and not vat.is_eu("EL")


def test_a_lines_rate_is_a_whole_percent_or_a_fractions_text_and_vat_is_computed_in_basis_points():
    from kernel.money import totals, vat_of

    assert vat.charged_rate(vat.vat_rule({"country": "PL"})) == 23
    assert vat.charged_rate(vat.vat_rule({"country": "FI"})) == "25.5"
    assert vat.charged_rate(vat.vat_rule({"country": "DE", "nip": "DE123456789"})) == 0
    assert (vat_of(15000, "25.5"), vat_of(15000, 23), vat_of(1, "25.5"), vat_of(3, "25.5")) == (3825, 3450, 0, 1)
    lines = [{"vat_rate": 0, "vat_code": "np II", "net": 100, "vat": 0, "gross": 100},
             {"vat_rate": 0, "vat_code": "np I", "net": 50, "vat": 0, "gross": 50},
             {"vat_rate": "25.5", "vat_code": "OSS", "net": 200, "vat": 51, "gross": 251}]  # fmt: skip
    assert [(b["vat_rate"], b.get("vat_code")) for b in totals(lines)["vat_summary"]] == [
        (0, "np I"), (0, "np II"), ("25.5", "OSS")]  # fmt: skip


def test_the_rate_and_note_as_an_invoice_prints_them():
    assert [vat.rate_label(23, "23"), vat.rate_label("25.5", "OSS"), vat.rate_label(0, "np II")] == ["23%", "25.5%",
                                                                                                     "np."]  # fmt: skip
    assert vat.note_in(vat.REVERSE_CHARGE_NOTE, "en") == "reverse charge"
    assert vat.note_in(vat.REVERSE_CHARGE_NOTE, "pl") == "odwrotne obciążenie"
    assert vat.note_in(vat.vat_rule({"country": "FI"}).note, "en") == "VAT FI 25.5% (OSS scheme)"


@pytest.mark.parametrize(("country", "number", "error"), [
    ("DE", "DE123456789", None), ("GR", "EL123456789", None), ("DE", "FR12345678901", "vat_id_country_mismatch"),
    ("GR", "GR123456789", "vat_id_country_mismatch"), ("US", "12-3456789", "invalid_vat_id"),
    ("GB", "GB123456789", None), ("PL", "5260250274", None)])  # fmt: skip
def test_the_billing_address_asks_for_what_the_vat_rule_needs(country, number, error):
    from services.accounts.validation import check_billing_address

    address = {"company": "Firma", "nip": number, "street": "Ulica 1", "postcode": "00-001" if country == "PL" else "1",
               "city": "Miasto", "country": country}  # fmt: skip
    _, errors = check_billing_address(address)
    assert errors.get("billing_address.nip") == error
