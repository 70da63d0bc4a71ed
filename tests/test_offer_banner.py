"""The dashboard's offer banner (section 4) rendered from the gateway's own templates, no servers:
no active offer → no visible banner (only an empty hidden placeholder the live dashboard can
replace), an offer → its title, text and link, billing down → the honest "unavailable" card."""

from __future__ import annotations

import re

import pytest
from flask import g, render_template

OFFER = {"title": "Hosting taniej o 20%", "text": "Tylko do końca miesiąca.", "link": "/order"}


@pytest.fixture
def render(monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    app = create_app()

    def rendered(offer=None, unavailable=()) -> str:
        with app.test_request_context("/"):
            g.language = "pl"
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
    assert OFFER["title"] in section and OFFER["text"] in section and 'href="/order"' in section


def test_billing_unavailable_keeps_the_honest_unavailable_card(render):
    section = _section(render(offer=None, unavailable=["offer"]))
    assert " hidden" not in section.split(">", 1)[0] and 'role="status"' in section
    assert "Aktualna oferta" in section and "Ta sekcja jest chwilowo niedostępna." in section
