"""The layout's helpers (gateway/i18n.py) and pages rendered by the app factory without servers: money in one
unbreakable piece, one date format per language, the brand from the settings, the 404 page with the header."""

from __future__ import annotations

from markupsafe import Markup

from gateway import i18n


def _app(monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    return create_app()


def test_money_for_a_page_is_one_span_and_a_message_keeps_it_while_escaping_the_rest(monkeypatch):
    assert i18n.money_html(123456, language="pl") == Markup('<span class="money">1\xa0234,56\xa0zł</span>')
    assert i18n.money_html(5, language="en") == Markup('<span class="money">PLN0.05</span>')
    app = _app(monkeypatch)
    with app.test_request_context("/"):
        i18n.g.language = "pl"
        text = i18n.t("billing_method_credit", credit=i18n.money_html(100))
        assert isinstance(text, Markup) and '<span class="money">1,00\xa0zł</span>' in text
        hostile = i18n.t("acting_for", owner="<b>Firma</b>")  # a plain value stays plain text
        assert not isinstance(hostile, Markup) and "<b>Firma</b>" in hostile
        mixed = i18n.t("acting_for", owner=Markup("<i>x</i>"))  # markup kept, the message itself escaped
        assert mixed == Markup("Działasz w imieniu konta: <i>x</i>")


def test_one_date_format_per_language():
    for language, day, moment in (("pl", "2 gru 2026", "2 gru 2026, 10:05"), ("en", "2 Dec 2026", "2 Dec 2026, 10:05")):
        assert i18n.date_text("2026-12-02T10:05:00Z", language=language) == day
        assert i18n.datetime_text("2026-12-02T10:05:00Z", language=language) == moment
    assert i18n.FILTERS["date"] is i18n.date_text and i18n.FILTERS["datetime"] is i18n.datetime_text


def test_the_brand_comes_from_the_settings_or_is_the_panels_own(monkeypatch):
    app = _app(monkeypatch)
    with app.test_request_context("/"):
        i18n.g.language = "en"
        assert i18n.brand() == {"name": "Customer Panel", "logo": "/static/logo.svg"}
        monkeypatch.setattr(i18n, "BRAND_NAME", "Hosting Kowalski")
        monkeypatch.setattr(i18n, "BRAND_LOGO_URL", "https://cdn.example.pl/logo.svg")
        assert i18n.brand() == {"name": "Hosting Kowalski", "logo": "https://cdn.example.pl/logo.svg"}


def test_an_unknown_address_gets_the_layout_with_a_way_back(monkeypatch):
    page = _app(monkeypatch).test_client().get("/no-such-page", headers={"Accept-Language": "pl"})
    html = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "<h1>Nie ma takiej strony</h1>" in html and 'class="topbar"' in html and 'href="/"' in html
    assert (
        'rel="icon" href="/static/favicon.svg"' in html
        and "<title>Nie ma takiej strony · Panel Klienta</title>" in html
    )
