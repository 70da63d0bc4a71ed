"""VAT by buyer (issue #16): which rate an invoice line carries, decided by who buys.

Hosting and domains are services; for a business buyer the place of supply is the buyer's
country (art. 28b of the Polish VAT act), for a consumer in another EU country it is the
consumer's country (art. 28k, electronically supplied services, settled through OSS).

- a Polish buyer (business or consumer): 23%;
- a business in another EU country with a VAT-EU number: no Polish VAT, the buyer accounts
  for it ("odwrotne obciążenie"). In FA(3) this is rate code "np II" (art. 100 ust. 1 pkt 4:
  services reported in VAT-UE) with the reverse-charge annotation P_18; the XSD keeps "oo"
  for domestic reverse charge (art. 17 ust. 1 pkt 7 and 8), which hosting is not;
- a consumer in another EU country: that country's standard rate (OSS), from vat_rates.json;
- anyone outside the EU: not taxed in Poland, "np I".
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

RATES_FILE = Path(__file__).with_name("vat_rates.json")
HOME = "PL"
DOMESTIC = "23"
EU_REVERSE_CHARGE = "np II"
OSS = "OSS"
OUTSIDE_EU = "np I"
REVERSE_CHARGE_NOTE = "odwrotne obciążenie"
OUTSIDE_EU_NOTE = "usługa niepodlegająca opodatkowaniu w Polsce (art. 28b ustawy o VAT)"
VAT_PREFIXES = {"EL": "GR"}  # Greek VAT numbers start with EL, the country is GR


class VatRule(NamedTuple):
    code: str  # "23", "np II" (EU reverse charge), "OSS" (the buyer country's rate), "np I"
    percent: Decimal  # the rate charged; 0 where no VAT is charged
    note: str  # what the invoice must say ("odwrotne obciążenie", ...), "" for none


@cache
def rate_table() -> dict[str, Any]:
    """vat_rates.json: standard rates of the EU member states, with the source and date."""
    return json.loads(RATES_FILE.read_text(encoding="utf-8"))


def standard_rate(country: str) -> Decimal:
    """The standard VAT rate of an EU member state (ISO code); KeyError outside the EU."""
    return Decimal(rate_table()["standard_rates"][country.upper()])


def is_eu(country: str) -> bool:
    return country.upper() in rate_table()["standard_rates"]


def vat_id(buyer: dict[str, Any]) -> str:
    """The buyer's VAT number (billing addresses keep a foreign VAT-EU number in `nip`)."""
    return str(buyer.get("vat_eu") or buyer.get("nip") or "").replace(" ", "").upper()


def buyer_country(buyer: dict[str, Any]) -> str:
    return str(buyer.get("country") or HOME).strip().upper()


def vat_rule(buyer: dict[str, Any]) -> VatRule:
    """The VAT rule for a buyer dict {country, nip | vat_eu}: (code, percent, note)."""
    country = buyer_country(buyer)
    if country == HOME:
        return VatRule(DOMESTIC, Decimal(DOMESTIC), "")
    if not is_eu(country):
        return VatRule(OUTSIDE_EU, Decimal(0), OUTSIDE_EU_NOTE)
    if vat_id(buyer):
        return VatRule(EU_REVERSE_CHARGE, Decimal(0), REVERSE_CHARGE_NOTE)
    rate = standard_rate(country)
    return VatRule(OSS, rate, f"VAT {country} {rate.normalize():f}% (procedura OSS)")


def vat_country_of(number: str) -> str:
    """The country of a VAT-EU number by its prefix (EL is Greece)."""
    prefix = number.strip().upper()[:2]
    return VAT_PREFIXES.get(prefix, prefix)


def charged_rate(rule: VatRule) -> int | str:
    """The rate as an invoice line keeps it: a whole percent (23), or a fraction's text ("25.5")."""
    percent = rule.percent.normalize()
    return int(percent) if percent == percent.to_integral_value() else f"{percent:f}"


def rate_label(vat_rate: int | str, vat_code: str | None) -> str:
    """How a rate is printed: "23%", "25.5%", or the code where no Polish VAT is charged ("np II")."""
    if vat_code in (EU_REVERSE_CHARGE, OUTSIDE_EU):
        return "np."
    return f"{vat_rate}%"


NOTES_EN = {REVERSE_CHARGE_NOTE: "reverse charge", OUTSIDE_EU_NOTE: "not subject to VAT in Poland (art. 28b of the "
            "Polish VAT Act)"}  # fmt: skip


def note_in(note: str, language: str) -> str:
    """The rule's note in the invoice's language."""
    if language != "en" or not note:
        return note
    if note in NOTES_EN:
        return NOTES_EN[note]
    return note.replace("procedura OSS", "OSS scheme")
