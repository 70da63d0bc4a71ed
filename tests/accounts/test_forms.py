"""Words and forms (issue #18): postcodes and NIPs normalised and explained, every field's error at once,
countries as ISO 3166 codes named in both languages, IDN in the hosting order's domain, gender-neutral
Polish mails with a greeting that needs no vocative."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nameko.testing.services import worker_factory

from kernel import countries, idn
from kernel.errors import CommandError
from services.accounts import validation as v
from services.accounts.service import AccountsService
from services.notifications import mailer
from tests.fakes import RecordingDispatch, recording_events_api

TEMPLATES = Path(mailer.__file__).parent / "templates"
ADDRESS = {"street": "Długa 1", "city": "Łódź", "postcode": "00-950"}


@pytest.mark.parametrize("typed", ["00916", "00-916", "00 916", " 00–916 ", "00 - 916"])
def test_a_polish_postcode_typed_any_way_becomes_00_916(typed):
    clean, errors = v.check_billing_address({**ADDRESS, "postcode": typed})
    assert errors == {} and clean["postcode"] == "00-916"


def test_a_postcode_that_is_not_five_digits_is_refused_and_foreign_ones_kept():
    for typed in ("0091", "009166", "ab-cde"):
        assert v.check_billing_address({**ADDRESS, "postcode": typed})[1] == {
            "billing_address.postcode": "invalid_postcode"
        }
    clean, errors = v.check_billing_address({**ADDRESS, "postcode": "SW1A 1AA", "country": "GB"})
    assert errors == {} and clean["postcode"] == "SW1A 1AA"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("123", "nip_length"), ("12345678901", "nip_length"), ("1111111112", "nip_checksum"),
     ("5260001247", "nip_checksum"), ("52600012a6", "invalid_nip"), ("５２６０００１２４６", "invalid_nip")],
)  # fmt: skip
def test_nip_length_and_checksum_are_different_errors(typed, code):
    assert v.check_nip(typed) == code
    assert v.check_billing_address({**ADDRESS, "nip": typed})[1] == {"billing_address.nip": code}


@pytest.mark.parametrize(
    "typed", ["5260001246", "PL5260001246", "pl 526-000-12-46", "526.000.12.46", "PL 526 000 12 46"]
)
def test_nip_with_pl_prefix_and_separators_is_stored_as_ten_digits(typed):
    clean, errors = v.check_billing_address({**ADDRESS, "nip": typed})
    assert errors == {} and clean["nip"] == "5260001246"


def test_every_address_error_at_once_even_with_a_wrong_type():
    _, errors = v.check_billing_address({"street": 5, "postcode": "1", "city": "", "nip": "123"})
    assert errors == {"billing_address.street": "invalid_type", "billing_address.postcode": "invalid_postcode",
                      "billing_address.city": "required", "billing_address.nip": "nip_length"}  # fmt: skip
    _, errors = v.check_billing_address({"street": "", "postcode": "1", "city": "Berlin", "country": "XX"})
    assert errors == {"billing_address.street": "required", "billing_address.country": "invalid_country"}


def test_countries_are_iso_3166_codes_named_in_both_languages():
    assert len(countries.ISO_3166) == 249 and "XK" not in countries.ISO_3166 and "EU" not in countries.ISO_3166
    assert countries.country_name("DE", "pl") == "Niemcy" and countries.country_name("DE", "en") == "Germany"
    choices = countries.country_choices("pl")
    assert choices[0] == ("PL", "Polska") and len(choices) == 249
    names = [name for _, name in choices[1:]]
    assert names.index("Litwa") < names.index("Łotwa") < names.index("Luksemburg")  # Ł with the L's
    assert v.check_billing_address({**ADDRESS, "country": "tw"})[0]["country"] == "TW"  # not in the old short list
    assert v.check_billing_address({**ADDRESS, "country": "XK"})[1] == {"billing_address.country": "invalid_country"}


@pytest.fixture
def accounts(mongo_alias):
    mongo_alias("accounts")
    return worker_factory(AccountsService, events=recording_events_api(AccountsService, RecordingDispatch()))


def test_registration_names_every_wrong_field_in_one_answer(accounts):
    with pytest.raises(CommandError) as err:
        accounts.register("not-an-address", "short", "", "", "xx", ctx={"ip": "203.0.113.9"}, password_repeat="other")
    assert err.value.fields == {"email": "invalid_email", "password": "password_too_short",
                                "password_repeat": "password_mismatch", "first_name": "required",
                                "last_name": "required", "language": "invalid_language"}  # fmt: skip
    with pytest.raises(CommandError) as err:  # only the repetition wrong: said, nothing registered
        accounts.register("ala@example.pl", "Bardzo-Tajne-2026", "Ala", "Nowak", "pl", ctx={"ip": "203.0.113.9"},
                          password_repeat="Bardzo-Tajne-2025")  # fmt: skip
    assert err.value.fields == {"password_repeat": "password_mismatch"}
    assert accounts.register("ala@example.pl", "Bardzo-Tajne-2026", "Ala", "Nowak", "pl", ctx={"ip": "203.0.113.9"},
                             password_repeat="Bardzo-Tajne-2026")["account_id"]  # fmt: skip


def test_idn_typed_the_way_people_type_it():
    assert idn.ascii_name(" Żółw.PL. ") == "xn--w-uga1v8h.pl" and idn.unicode_name("xn--w-uga1v8h.pl") == "żółw.pl"
    assert idn.ascii_name("Example.COM") == "example.com"
    assert idn.ascii_name("zła nazwa.pl") == "zła nazwa.pl"  # left for the caller's rule to refuse


def test_hosting_order_takes_polish_letters_in_its_domain(mongo_alias):
    from services.billing import catalog
    from services.billing.app.cart import hosting_params

    mongo_alias("billing")
    catalog.seed_demo_catalog()
    plan = catalog.Plan.objects(active="yes").first()
    cycle = next(iter(plan.prices))
    assert hosting_params({"plan": plan.id, "cycle": cycle, "domain": "Żółw.pl"})["domain"] == "xn--w-uga1v8h.pl"
    with pytest.raises(CommandError) as err:
        hosting_params({"plan": plan.id, "cycle": cycle, "domain": "zła nazwa.pl"})
    assert err.value.fields == {"domain": "invalid_domain"}


# --- the mails: gender-neutral Polish, no nominative in the greeting ---------------------------------
GENDERED = re.compile(r"\b\w+(łeś|łaś|łbyś|łabyś)\b|\(a\)|\(-?aś\)|\(-?eś\)|\bsam\(a\)")


def polish_templates() -> list[Path]:
    return sorted(p for p in (TEMPLATES / "pl").iterdir() if p.suffix in (".txt", ".html"))


def test_polish_mails_greet_without_a_name_and_use_no_gendered_forms():
    assert len(polish_templates()) > 40
    for path in polish_templates():
        text = path.read_text()
        assert not GENDERED.search(text), f"{path.name}: {GENDERED.search(text).group(0)}"
        assert not re.search(r"Dzień dobry[^,\n]*\{\{", text), f"{path.name} greets with a name in the nominative"
        assert "Cześć {{" not in text and "Witaj {{" not in text, path.name


def test_the_verification_mail_to_a_woman():
    context = {"first_name": "Anna", "email": "anna@example.pl", "public_url": "https://panel.example.pl", "token": "t"}
    mail = mailer.render("verify_email", "pl", context)
    text = f"{mail.subject}\n{mail.text}\n{mail.html}"
    assert "Dzień dobry," in text and "Anna" not in text and "zakładałeś" not in text
    assert "Jeśli nie zakładasz konta w Panelu Klienta, zignoruj tę wiadomość." in mail.text
