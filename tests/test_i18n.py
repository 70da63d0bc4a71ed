"""The UI messages in gettext catalogues: complete in both languages, looked up by key."""

from __future__ import annotations

from io import BytesIO

from flask import Flask, g

from gateway import i18n
from tools import i18n_catalog


def po_string(language: str, key: str) -> str:
    return i18n_catalog.load(language)[key].string


def test_catalogues_are_complete_in_both_languages():
    assert i18n_catalog.problems() == []


def test_check_reports_missing_empty_and_one_sided_entries(monkeypatch):
    real_load = i18n_catalog.load

    def load(language):
        catalog = real_load(language)
        if language == "en":
            del catalog["live_updated"]  # used literally in a template
            catalog["hello"].string = ""
            catalog["acc_page_of"].string = "Page {page}"
        else:
            catalog.add("only_in_pl", string="Tylko po polsku")
        return catalog

    monkeypatch.setattr(i18n_catalog, "load", load)
    found = i18n_catalog.problems()
    assert "en: no translation for 'live_updated' (used in code)" in found
    assert "en: 'hello' is empty or fuzzy" in found
    assert "en: no translation for 'only_in_pl' (present in pl)" in found
    assert any(p.startswith("'acc_page_of': placeholders differ") for p in found)


def test_extraction_finds_both_keys_of_a_conditional():
    source = b'flash(i18n.t("done_now" if form["when"] == "now" else "done_later"))\nt(code)\n'
    keys = [key for _, _, key, _ in i18n_catalog.extract_python_keys(BytesIO(source), {"t": None}, (), {})]
    assert keys == ["done_now", "done_later"]


def test_texts_come_from_the_catalogues():
    for key in ("required", "login", "nav_services"):
        assert i18n.t(key, "pl") == po_string("pl", key)
        assert i18n.t(key, "en") == po_string("en", key)
        assert i18n.t(key, "pl") != i18n.t(key, "en")
    assert "wymagane" in i18n.t("required", "pl")
    assert "required" in i18n.t("required", "en")
    assert "ł" in i18n.t("too_long", "pl")  # Polish characters survive


def test_the_page_language_is_the_default():
    with Flask(__name__).app_context():
        g.language = "en"
        assert i18n.t("required") == po_string("en", "required")
        g.language = "pl"
        assert i18n.t("required") == po_string("pl", "required")


def test_placeholders_are_formatted():
    assert i18n.t("hello", "pl", name="Ola") == po_string("pl", "hello").format(name="Ola")
    assert "Ola" in i18n.t("hello", "en", name="Ola")
    assert "{" not in i18n.t("acc_page_of", "pl", page=2, pages=5)


def test_unknown_key_comes_back_as_itself():
    assert i18n.t("no_such_key", "pl") == "no_such_key"
    assert i18n.t("no_such_key", "en", name="x") == "no_such_key"
    assert i18n.t("", "pl") == ""
    assert i18n.known("required") and i18n.known("required", "en")
    assert not i18n.known("no_such_key")
    assert not i18n.known("staff_e_no_such_code", "pl")


def test_money_is_formatted_in_the_locale_and_exact_for_large_amounts():
    assert i18n.money(123456, language="pl") == "1\xa0234,56\xa0zł"
    assert i18n.money(123456, language="en") == "PLN1,234.56"
    # grosze beyond a float's 15-16 significant digits keep their last digit
    assert i18n.money(12345678901234567, language="pl").startswith("123\xa0456\xa0789\xa0012\xa0345,67")


def test_dates_are_written_in_the_locale():
    assert i18n.date_text("2026-12-01", language="pl") == "1 gru 2026"
    assert i18n.date_text("2026-12-01T23:59:00Z", language="en") == "1 Dec 2026"
    assert i18n.date_text(None, language="pl") == ""
