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
