"""A person in a browser-like session: register, mail, verify, log in, dashboard, settings."""

from __future__ import annotations

import time

import requests

from tests.e2e.helpers import PASSWORD, VERIFY_RE, csrf, token_from_mail, unique_email

SECTIONS = ("profile", "contacts", "shortcuts", "offer", "tiles", "active_services", "renewals", "news",
            "recent_tickets", "quick_domain")  # fmt: skip


def _register_and_login(base: str, mail_dir, browser: requests.Session) -> str:
    email = unique_email("page")
    since = time.time() - 1
    form = browser.get(f"{base}/register")
    assert form.status_code == 200 and "Załóż konto" in form.text
    created = browser.post(f"{base}/register", data={
        "csrf_token": csrf(form.text), "first_name": "Łucja", "last_name": "Żmuda", "email": email,
        "password": PASSWORD, "password_repeat": PASSWORD, "language": "pl"})  # fmt: skip
    assert created.status_code == 200 and "Wysłaliśmy link" in created.text
    token = token_from_mail(mail_dir, email, VERIFY_RE, since, subject="Potwierdź")
    verified = browser.get(f"{base}/verify-email", params={"token": token})
    assert "Adres e-mail potwierdzony" in verified.text
    page = browser.get(f"{base}/login")
    logged_in = browser.post(
        f"{base}/login", data={"csrf_token": csrf(page.text), "email": email, "password": PASSWORD}
    )
    assert logged_in.status_code == 200 and logged_in.url.rstrip("/") == base
    return email


def test_person_registers_verifies_logs_in_and_sees_all_ten_sections(stack):
    browser = requests.Session()
    _register_and_login(stack.gateway_url, stack.var / "mail", browser)
    page = browser.get(f"{stack.gateway_url}/")
    assert "Witaj, Łucja!" in page.text
    for section in SECTIONS:
        assert f'data-section="{section}"' in page.text, section
    assert "Uaktualnij" in page.text and "Zamów nową usługę" in page.text


def test_dashboard_requires_login(stack):
    response = requests.get(f"{stack.gateway_url}/", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_shows_polish_error_and_keeps_email(stack):
    browser = requests.Session()
    email = _register_and_login(stack.gateway_url, stack.var / "mail", requests.Session())
    page = browser.get(f"{stack.gateway_url}/login")
    failed = browser.post(
        f"{stack.gateway_url}/login", data={"csrf_token": csrf(page.text), "email": email, "password": "zle-haslo-123"}
    )
    assert failed.status_code == 401
    assert "Nieprawidłowy e-mail lub hasło." in failed.text
    assert f'value="{email}"' in failed.text


def test_settings_save_every_field_of_section_one(stack):
    base, browser = stack.gateway_url, requests.Session()
    _register_and_login(base, stack.var / "mail", browser)
    form = browser.get(f"{base}/settings")
    assert "Zapisz zmiany" in form.text
    # the page says which mail goes out whatever is chosen
    assert "wysyłamy zawsze" in form.text and "reset hasła" in form.text and "wystawiona faktura" in form.text
    saved = browser.post(f"{base}/settings", data=_full_settings(csrf(form.text), email=""))
    # the e-mail field was emptied: refused, nothing saved, typed values kept
    assert saved.status_code == 422 and "To pole jest wymagane." in saved.text
    assert 'value="Źdźbło sp. z o.o."' in saved.text
    email = browser.get(f"{base}/api/v1/profile")  # page session is not an API credential
    assert email.status_code == 401
    form = browser.get(f"{base}/settings")
    assert "Źdźbło" not in form.text  # all or nothing
    current_email = _field_value(form.text, "email")
    saved = browser.post(f"{base}/settings", data=_full_settings(csrf(form.text), email=current_email))
    assert saved.status_code == 200 and "Zmiany zapisane." in saved.text
    for shown in ('value="Żmuda-Nowak"', 'value="+48 600 100 200"', 'value="5260001246"', 'value="ul. Świętokrzyska 5"',
                  'value="00-950"', 'value="Łódź"'):  # fmt: skip
        assert shown in saved.text, shown
    assert (
        _checked(saved.text, "f-np-billing")
        and not _checked(saved.text, "f-np-domains")
        and _checked(saved.text, "f-mailing_list")
    )
    dashboard = browser.get(f"{base}/")
    assert "NIP: 5260001246" in dashboard.text and "Źdźbło sp. z o.o." in dashboard.text


def test_bad_settings_input_is_explained_next_to_the_field(stack):
    base, browser = stack.gateway_url, requests.Session()
    email = _register_and_login(base, stack.var / "mail", browser)
    form = browser.get(f"{base}/settings")
    response = browser.post(f"{base}/settings", data={
        "csrf_token": csrf(form.text), "first_name": "Łucja", "last_name": "Żmuda", "email": email, "phone": "tel. 12",
        "language": "pl", "billing_address.street": "Polna 1", "billing_address.postcode": "1234",
        "billing_address.city": "Gdańsk", "billing_address.country": "PL", "billing_address.nip": "5260001247",
    })  # fmt: skip
    assert response.status_code == 422
    assert 'id="e-billing_address.nip"' in response.text and "Niepoprawny NIP" in response.text
    assert 'id="e-billing_address.postcode"' in response.text and "00-000" in response.text
    assert 'id="e-phone"' in response.text
    assert 'value="5260001247"' in response.text and 'value="Gdańsk"' in response.text


def test_english_is_one_click_away_and_errors_follow_it(stack):
    base, browser = stack.gateway_url, requests.Session()
    page = browser.get(f"{base}/login")
    switched = browser.post(
        f"{base}/language", data={"csrf_token": csrf(page.text), "language": "en", "next": "/login"}
    )
    assert "Log in" in switched.text and 'lang="en"' in switched.text
    failed = browser.post(
        f"{base}/login", data={"csrf_token": csrf(switched.text), "email": "nobody@example.pl", "password": "x"}
    )
    assert "Wrong e-mail or password." in failed.text


def test_forms_without_csrf_token_are_refused(stack):
    response = requests.post(f"{stack.gateway_url}/login", data={"email": "a@b.pl", "password": "x"}, timeout=10)
    assert response.status_code == 400
    assert "Formularz wygasł" in response.text


def test_session_cookie_is_httponly_and_samesite(stack):
    browser = requests.Session()
    response = browser.get(f"{stack.gateway_url}/login")
    cookie = response.headers.get("Set-Cookie", "")
    assert "panel_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _full_settings(csrf_token: str, email: str) -> dict[str, str]:
    """Every field of section 1, as a person fills the settings form."""
    return {
        "csrf_token": csrf_token, "first_name": "Łucja", "last_name": "Żmuda-Nowak", "email": email,
        "phone": "+48 600 100 200", "language": "pl",
        "billing_address.company": "Źdźbło sp. z o.o.", "billing_address.nip": "526-000-12-46",
        "billing_address.street": "ul. Świętokrzyska 5", "billing_address.postcode": "00-950",
        "billing_address.city": "Łódź", "billing_address.country": "PL",
        "notification_preferences.billing": "on", "notification_preferences.support": "on", "mailing_list": "on",
    }  # fmt: skip


def _field_value(html: str, name: str) -> str:
    import re

    match = re.search(rf'name="{re.escape(name)}" type="[a-z]+"\s+value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def _checked(html: str, element_id: str) -> bool:
    start = html.index(f'id="{element_id}"')
    return "checked" in html[start : html.index(">", start)]
