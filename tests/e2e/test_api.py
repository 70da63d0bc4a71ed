"""The JSON API against the running stack."""

from __future__ import annotations

import time

import requests

from tests.e2e.helpers import (
    PASSWORD,
    RESET_RE,
    VERIFY_RE,
    bearer,
    client_at,
    random_loopback,
    register_verified,
    token_from_mail,
    unique_email,
)


def test_register_login_profile_and_dashboard(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    profile = requests.get(f"{base}/api/v1/profile", headers=bearer(token), timeout=10).json()
    assert profile["email"] == email and profile["email_verified"] is True and profile["language"] == "pl"
    dashboard = requests.get(f"{base}/api/v1/dashboard", headers=bearer(token), timeout=10)
    assert dashboard.status_code == 200
    body = dashboard.json()
    for key in ("profile", "contacts", "shortcuts", "offer", "tiles", "active_services", "renewals", "news",
                "recent_tickets", "unavailable"):  # fmt: skip
        assert key in body, key
    assert set(body["tiles"]) == {"services", "domains", "unpaid_invoices", "tickets"}
    assert body["unavailable"] == []


def test_unverified_account_cannot_log_in(stack):
    base, email = stack.gateway_url, unique_email()
    body = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
    assert requests.post(f"{base}/api/v1/auth/register", json=body, timeout=10).status_code == 201
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 403 and login.json()["error"]["code"] == "email_not_verified"


def test_duplicate_email_and_bad_fields_give_clear_errors(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    again = requests.post(f"{base}/api/v1/auth/register", timeout=10, json={
        "email": email.upper(), "password": PASSWORD, "first_name": "A", "last_name": "B"})  # fmt: skip
    # a known address gets the newcomer's answer (issue #13: no account enumeration); the mail tells it
    assert again.status_code == 201 and again.json() == {"status": "check_mail"}
    bad = requests.post(f"{base}/api/v1/auth/register", headers={"Accept-Language": "en"}, timeout=10,
                        json={"email": "not-an-email", "password": "short", "first_name": "", "last_name": "B"})  # fmt: skip
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert fields["email"]["code"] == "invalid_email" and fields["password"]["code"] == "password_too_short"
    assert fields["first_name"]["code"] == "required"
    assert fields["password"]["message"] == "The password must be at least 10 characters long."


def test_malformed_requests_never_give_500(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    cases = [
        ("post", "/api/v1/auth/login", {"data": "not json", "headers": {"Content-Type": "application/json"}}),
        ("post", "/api/v1/auth/login", {"json": ["a", "list"]}),
        ("post", "/api/v1/auth/login", {"json": {"email": 5, "password": None}}),
        ("patch", "/api/v1/profile", {"json": {"billing_address": "text"}, "headers": bearer(token)}),
        ("patch", "/api/v1/profile", {"json": {"notification_preferences": {"spam": True}}, "headers": bearer(token)}),
        ("patch", "/api/v1/profile", {"json": {"mailing_list": "yes"}, "headers": bearer(token)}),
        ("patch", "/api/v1/profile", {"json": {"role": "staff"}, "headers": bearer(token)}),
        ("patch", "/api/v1/profile", {"json": {"phone": 123}, "headers": bearer(token)}),
    ]
    for method, path, kwargs in cases:
        response = getattr(requests, method)(f"{base}{path}", timeout=10, **kwargs)
        assert 400 <= response.status_code < 500, (path, kwargs, response.status_code, response.text)
        assert "error" in response.json()


def test_requests_without_a_valid_token_get_401(stack):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{stack.gateway_url}/api/v1/dashboard", headers=headers, timeout=10)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_logout_ends_the_token(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    assert requests.post(f"{base}/api/v1/auth/logout", headers=bearer(token), timeout=10).status_code == 200
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(token), timeout=10).status_code == 401


def test_password_reset_is_single_use_and_ends_old_sessions(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, old_token = register_verified(base, mail_dir)
    since = time.time() - 1
    assert requests.post(f"{base}/api/v1/auth/password-reset", json={"email": email}, timeout=10).status_code == 202
    reset = token_from_mail(mail_dir, email, RESET_RE, since, subject="hasło")
    new_password = "Nowe-Haslo-2026!"
    confirm = requests.post(
        f"{base}/api/v1/auth/password-reset/confirm", json={"token": reset, "password": new_password}, timeout=10
    )
    assert confirm.status_code == 200
    again = requests.post(
        f"{base}/api/v1/auth/password-reset/confirm", json={"token": reset, "password": "Inne-Haslo-2026"}, timeout=10
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(old_token), timeout=10).status_code == 401
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": new_password}, timeout=10)
    assert login.status_code == 200
    # unknown addresses get the same answer: nobody learns who has an account
    assert (
        requests.post(f"{base}/api/v1/auth/password-reset", json={"email": unique_email()}, timeout=10).status_code
        == 202
    )


def test_failed_logins_are_rate_limited_per_account(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    guesser = client_at(random_loopback())  # its failures must not count against 127.0.0.1, the other tests' address
    codes = [guesser.post(f"{base}/api/v1/auth/login", json={"email": email, "password": "wrong-password"}, timeout=10).status_code
             for _ in range(6)]  # fmt: skip
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # even the right password waits out the window
    right = guesser.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert right.status_code == 429


def test_patch_profile_saves_everything_or_nothing(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    refused = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), timeout=10, json={
        "first_name": "Nowe", "billing_address": {"street": "Polna 1", "postcode": "00-001", "city": "Opole", "nip": "123"}})  # fmt: skip
    assert refused.status_code == 422
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(token), timeout=10).json()["first_name"] == "Zofia"
    changes = {
        "first_name": "Zuzanna", "last_name": "Łęcka", "phone": "+48 500 600 700", "language": "en",
        "billing_address": {"company": "Ćma S.A.", "nip": "5260001246", "street": "Polna 1", "postcode": "00-001",
                            "city": "Opole", "country": "PL"},
        "notification_preferences": {"billing": True, "services": False, "domains": False, "support": True},
        "mailing_list": True,
    }  # fmt: skip
    saved = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), json=changes, timeout=10)
    assert saved.status_code == 200, saved.text
    profile = requests.get(f"{base}/api/v1/profile", headers=bearer(token), timeout=10).json()
    assert profile["last_name"] == "Łęcka" and profile["language"] == "en" and profile["mailing_list"] is True
    assert profile["billing_address"]["company"] == "Ćma S.A." and profile["billing_address"]["country"] == "PL"
    assert profile["notification_preferences"] == {"billing": True, "services": False, "domains": False, "support": True,
                                                   "security": True}  # fmt: skip


def test_changing_email_requires_verifying_the_new_address(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    old_email, token = register_verified(base, mail_dir)
    new_email = unique_email("moved")
    since = time.time() - 1
    changed = requests.patch(f"{base}/api/v1/profile", headers=bearer(token), timeout=10,
                             json={"email": new_email, "current_password": PASSWORD})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["email_verified"] is False
    verify = token_from_mail(mail_dir, new_email, VERIFY_RE, since)
    token_from_mail(mail_dir, old_email, __import__("re").compile(r"(zmieniono)"), since)  # the old address is warned
    assert requests.post(f"{base}/api/v1/auth/verify-email", json={"token": verify}, timeout=10).status_code == 200
    profile = requests.get(f"{base}/api/v1/profile", headers=bearer(token), timeout=10).json()
    assert profile["email"] == new_email and profile["email_verified"] is True
    # the old address is free again: registering it makes a new account (a verification link, not
    # the "you already have an account" mail)
    since = time.time() - 1
    free = requests.post(f"{base}/api/v1/auth/register", timeout=10, json={
        "email": old_email, "password": PASSWORD, "first_name": "A", "last_name": "B"})  # fmt: skip
    assert free.status_code == 201
    assert token_from_mail(mail_dir, old_email, VERIFY_RE, since, subject="Potwierdź")


def test_openapi_document_lists_the_endpoints(stack):
    spec = requests.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/auth/register", "/auth/verify-email", "/auth/login", "/auth/logout", "/auth/password-reset",
                 "/auth/password-reset/confirm", "/profile", "/dashboard", "/auth/login/second-factor",
                 "/emails", "/emails/{mail_id}", "/account/sessions", "/account/history", "/account/export",
                 "/unsubscribe"):  # fmt: skip
        assert path in spec["paths"], path
    assert set(spec["paths"]["/profile"]) == {"get", "patch"}
    assert {"get", "post"} <= set(spec["paths"]["/contacts"])
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/contacts/{contact_id}"])


def test_healthz_reports_every_service(stack):
    health = requests.get(f"{stack.gateway_url}/healthz", timeout=10).json()
    assert health["status"] == "up"
    assert health["services"] == dict.fromkeys(
        ("accounts", "billing", "domains", "support", "notifications", "hosting"), "up"
    )
