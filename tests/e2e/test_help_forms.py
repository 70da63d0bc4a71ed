"""Words and forms through the whole stack (issue #18): registration and settings show every error at
once, postcode and NIP normalised and explained, the country picked from a list, Polish letters in the
hosting order's domain, attachment sizes written the Polish way, the settings page following the
language switch."""

from __future__ import annotations

import json

import requests

from tests.e2e.helpers import bearer, csrf, unique_email
from tests.e2e.test_support_pages import PNG, customer, open_ticket, ticket_id_of


def test_registration_shows_every_wrong_field_at_once(stack):
    base, browser = stack.gateway_url, requests.Session()
    page = browser.get(f"{base}/register", timeout=15)
    refused = browser.post(f"{base}/register", timeout=30, data={
        "csrf_token": csrf(page.text), "first_name": "", "last_name": "Nowak", "email": "nie-adres",
        "password": "krótkie", "password_repeat": "inne", "language": "pl",
    })  # fmt: skip
    assert refused.status_code == 422
    for field in ("first_name", "email", "password", "password_repeat"):
        assert f'id="e-{field}"' in refused.text, field
    assert 'id="e-last_name"' not in refused.text and 'value="Nowak"' in refused.text
    email = unique_email("forms")
    only_repeat = browser.post(f"{base}/register", timeout=30, data={
        "csrf_token": csrf(refused.text), "first_name": "Anna", "last_name": "Nowak", "email": email,
        "password": "Bardzo-Tajne-2026", "password_repeat": "Bardzo-Tajne-2025", "language": "pl",
    })  # fmt: skip
    assert only_repeat.status_code == 422 and 'id="e-password_repeat"' in only_repeat.text
    assert 'id="e-password"' not in only_repeat.text


def _settings(page: str, email: str, **changes: str) -> dict[str, str]:
    return {"csrf_token": csrf(page), "first_name": "Anna", "last_name": "Nowak", "email": email, "phone": "",
            "language": "pl", "billing_address.street": "Polna 1", "billing_address.postcode": "00-950",
            "billing_address.city": "Gdańsk", "billing_address.country": "PL", "billing_address.nip": "", **changes}  # fmt: skip


def test_settings_normalise_postcode_and_nip_explain_them_and_list_countries(stack):
    email, _, browser = customer(stack)
    base = stack.gateway_url
    page = browser.get(f"{base}/settings", timeout=15)
    assert page.text.count("<option") > 249 and '<option value="DE"' in page.text and ">Niemcy<" in page.text
    short = browser.post(f"{base}/settings", data=_settings(page.text, email, **{"billing_address.nip": "123",
                                                                                 "billing_address.city": ""}), timeout=15)  # fmt: skip
    assert short.status_code == 422
    assert (
        "NIP ma 10 cyfr" in short.text and "kontrolna" not in short.text and 'id="e-billing_address.city"' in short.text
    )
    typo = browser.post(f"{base}/settings", data=_settings(page.text, email, **{"billing_address.nip": "5260001247"}),
                        timeout=15)  # fmt: skip
    assert typo.status_code == 422 and "kontrolna" in typo.text
    saved = browser.post(f"{base}/settings", timeout=15, data=_settings(page.text, email, **{
        "billing_address.postcode": "00916", "billing_address.nip": "PL 526-000-12-46"}))  # fmt: skip
    assert saved.status_code == 200, saved.text[:500]
    assert 'value="00-916"' in saved.text and 'value="5260001246"' in saved.text
    contact_form = browser.get(f"{base}/contacts/new", timeout=15)
    assert '<select id="f-address.country" name="address.country"' in contact_form.text


def test_the_settings_page_follows_the_language_switch(stack):
    _, _, browser = customer(stack)
    base = stack.gateway_url
    page = browser.get(f"{base}/settings", timeout=15)
    browser.post(f"{base}/language", data={"csrf_token": csrf(page.text), "language": "en", "next": "/settings"},
                 timeout=15)  # fmt: skip
    english = browser.get(f"{base}/settings", timeout=15)
    assert 'lang="en"' in english.text and '<option value="en" selected' in english.text
    assert ">Germany<" in english.text


def test_polish_letters_in_the_hosting_orders_domain(stack):
    _, token, _ = customer(stack)
    item = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly", "domain": "Żółw.pl"}}
    added = requests.post(f"{stack.gateway_url}/api/v1/cart/items", headers=bearer(token), json=item, timeout=15)
    assert added.status_code == 201, added.text
    assert "xn--w-uga1v8h.pl" in added.text  # what hosting is set up for
    assert "Hosting Start — żółw.pl" in json.dumps(added.json(), ensure_ascii=False)  # what the customer reads
    bad = {**item, "params": {**item["params"], "domain": "zła nazwa.pl"}}
    refused = requests.post(f"{stack.gateway_url}/api/v1/cart/items", headers=bearer(token), json=bad, timeout=15)
    assert refused.status_code == 422 and refused.json()["error"]["fields"]["domain"]["code"] == "invalid_domain"


def test_attachment_sizes_are_written_the_polish_way(stack):
    _, _, browser = customer(stack)
    opened = open_ticket(browser, stack.gateway_url, files=[("attachments", ("zrzut.png", PNG, "image/png"))])
    assert opened.status_code == 200, opened.text[:500]
    ticket_id = ticket_id_of(opened)
    page = browser.get(f"{stack.gateway_url}/tickets/{ticket_id}", timeout=15)
    assert "(0,1 KiB)" in page.text and "0.1 KiB" not in page.text
