"""The dashboard's offer banner (section 4) rendered from the gateway's own templates, no servers:
no active offer → no visible banner (only an empty hidden placeholder the live dashboard can
replace), an offer → its title, text and a call-to-action link (in English when the page is English and
the offer has English texts, else in Polish), billing down → the honest "unavailable" card."""

from __future__ import annotations

import re

import pytest
from flask import g, render_template

OFFER = {"title": "Hosting taniej o 20%", "text": "Tylko do końca miesiąca.", "link": "/order"}
BILINGUAL = {**OFFER, "title_en": "Hosting 20% off", "text_en": "Only until the end of the month."}


@pytest.fixture
def render(monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    app = create_app()

    def rendered(offer=None, unavailable=(), language="pl") -> str:
        with app.test_request_context("/"):
            g.language = language
            d = {"offer": offer, "unavailable": list(unavailable), "not_built": []}
            return render_template("dashboard/_offer.html", d=d)

    return rendered


def _section(html: str) -> str:
    [section] = re.findall(r"<section[^>]*data-section=\"offer\"[^>]*>.*?</section>", html, re.S)
    return section


def test_no_active_offer_renders_only_an_empty_hidden_placeholder(render):
    html = render(offer=None)
    section = _section(html)
    opening, inner = section.split(">", 1)
    assert ' id="s4"' in opening and " hidden" in opening
    assert inner == "</section>"  # nothing to see: no heading, no "no offer" text
    assert "Aktualna oferta" not in html and "Obecnie nie mamy promocji" not in html


def test_an_active_offer_shows_its_title_text_and_link(render):
    section = _section(render(offer=OFFER))
    assert " hidden" not in section.split(">", 1)[0]
    assert OFFER["title"] in section and OFFER["text"] in section
    [link] = re.findall(r"<a [^>]*>.*?</a>", section, re.S)
    assert 'href="/order"' in link and ">Sprawdź ofertę</a>" in link  # a call to action, not the raw URL
    assert ">/order<" not in section


def test_an_english_page_shows_the_english_texts_and_call_to_action(render):
    section = _section(render(offer=BILINGUAL, language="en"))
    assert "Hosting 20% off" in section and "Only until the end of the month." in section
    assert BILINGUAL["title"] not in section and BILINGUAL["text"] not in section
    assert 'href="/order"' in section and ">See the offer</a>" in section and 'lang="en"' in section
    polish_page = _section(render(offer=BILINGUAL, language="pl"))
    assert BILINGUAL["title"] in polish_page and "Hosting 20% off" not in polish_page


def test_an_english_page_without_english_texts_falls_back_to_polish(render):
    for offer in (OFFER, {**OFFER, "title_en": "", "text_en": ""}):  # an old offer / one without English
        section = _section(render(offer=offer, language="en"))
        assert OFFER["title"] in section and OFFER["text"] in section and 'lang="pl"' in section
        assert ">See the offer</a>" in section and "Current offer" in section


def test_billing_unavailable_keeps_the_honest_unavailable_card(render):
    section = _section(render(offer=None, unavailable=["offer"]))
    assert " hidden" not in section.split(">", 1)[0] and 'role="status"' in section
    assert "Aktualna oferta" in section and "Ta sekcja jest chwilowo niedostępna." in section
