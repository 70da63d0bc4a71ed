"""Account security against the real stack: two-factor login with a code computed by
pyotp, recovery codes, active sessions, the account history with a failed login
and its IP, the e-mail history and the data export without secrets."""

from __future__ import annotations

import json
import re
import time

import pyotp
import requests

from tests.e2e.helpers import (
    PASSWORD,
    bearer,
    client_at,
    csrf,
    random_loopback,
    register_verified,
    unique_email,
    wait_for,
)
from tests.e2e.test_contacts import page_login
from tools.seed import wait_for_mail

SECRET_RE = re.compile(r"data-secret>([A-Z2-7]+)<")
CODE_RE = re.compile(r"<li><code>([0-9a-f]{10}-[0-9a-f]{10})</code></li>")
MAIL_LINK_RE = re.compile(r'href="/emails/([0-9a-f-]{36})"')


def _post(browser: requests.Session, base: str, path: str, page: str, **data) -> requests.Response:
    return browser.post(f"{base}{path}", data={"csrf_token": csrf(browser.get(f"{base}{page}").text), **data})


def test_two_factor_login_with_an_authenticator_code_and_single_use_recovery_codes(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, _ = register_verified(base, mail_dir)
    browser = page_login(base, email)
    assert "Włącz logowanie dwuetapowe" in browser.get(f"{base}/account/security").text
    setup = _post(browser, base, "/account/two-factor/start", "/account/security")
    assert setup.status_code == 200 and "<svg" in setup.text  # the QR code, inline
    secret = SECRET_RE.search(setup.text).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="(secret|uri)" value="([^"]*)">', setup.text))
    wrong = browser.post(f"{base}/account/two-factor/confirm",
                         data={"csrf_token": csrf(setup.text), "code": "12345", **hidden})  # fmt: skip
    assert wrong.status_code == 422 and "Nieprawidłowy kod" in wrong.text and "<svg" in wrong.text
    since, confirming = time.time() - 1, pyotp.TOTP(secret).now()
    enabled = browser.post(f"{base}/account/two-factor/confirm",
                           data={"csrf_token": csrf(setup.text), "code": confirming})  # fmt: skip
    assert enabled.status_code == 200 and enabled.headers["Cache-Control"] == "no-store"
    codes = CODE_RE.findall(enabled.text)
    assert len(codes) == 10
    assert wait_for_mail(mail_dir, email, "Włączono logowanie dwuetapowe", since=since)

    # pages: password, then the code
    fresh = requests.Session()
    form = fresh.get(f"{base}/login")
    step_one = fresh.post(f"{base}/login", data={"csrf_token": csrf(form.text), "email": email, "password": PASSWORD})
    assert step_one.url.endswith("/login/code") and "Kod logowania" in step_one.text
    assert fresh.get(f"{base}/", allow_redirects=False).status_code == 302  # not logged in yet
    refused = fresh.post(f"{base}/login/code", data={"csrf_token": csrf(step_one.text), "code": "000000"})
    assert refused.status_code == 422 and "Nieprawidłowy kod" in refused.text
    # the code that turned two-factor login on is spent: accepted once, never again
    replayed = fresh.post(f"{base}/login/code", data={"csrf_token": csrf(step_one.text), "code": confirming})
    assert replayed.status_code == 422 and "Ten kod został już użyty" in replayed.text
    following = pyotp.TOTP(secret).at(time.time() + 30)  # the app's next code (one step ahead is accepted)
    done = fresh.post(f"{base}/login/code", data={"csrf_token": csrf(step_one.text), "code": following})
    assert done.status_code == 200 and done.url.rstrip("/") == base and "Witaj" in done.text

    # API: the challenge; the code used at that page login is refused; then a recovery code, which works once
    first = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=15).json()
    assert first["two_factor_required"] is True and "token" not in first
    reused_code = requests.post(f"{base}/api/v1/auth/login/second-factor", timeout=15,
                                json={"challenge": first["challenge"], "code": following})  # fmt: skip
    assert reused_code.status_code == 422
    assert reused_code.json()["error"]["fields"]["code"]["code"] == "code_already_used"
    second = requests.post(f"{base}/api/v1/auth/login/second-factor", timeout=15,
                           json={"challenge": first["challenge"], "code": codes[0]})  # fmt: skip
    assert second.status_code == 200 and requests.get(f"{base}/api/v1/profile", headers=bearer(second.json()["token"]),
                                                      timeout=15).status_code == 200  # fmt: skip
    again = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=15).json()
    reused = requests.post(f"{base}/api/v1/auth/login/second-factor", timeout=15,
                           json={"challenge": again["challenge"], "code": codes[0]})  # fmt: skip
    assert reused.status_code == 422 and reused.json()["error"]["fields"]["code"]["code"] == "invalid_code"

    # turning it off needs a code again
    page = browser.get(f"{base}/account/security")
    no_code = browser.post(f"{base}/account/two-factor/disable", data={"csrf_token": csrf(page.text), "code": ""})
    assert no_code.status_code == 422
    off = browser.post(f"{base}/account/two-factor/disable", data={"csrf_token": csrf(page.text), "code": codes[1]})
    assert off.status_code == 200 and "Logowanie dwuetapowe wyłączone" in off.text
    plain = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=15)
    assert "token" in plain.json()


def test_sessions_list_and_logging_out_the_other_sessions(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, api_token = register_verified(base, mail_dir)
    browser = page_login(base, email)
    page = browser.get(f"{base}/account/security")
    assert page.text.count('data-session="') == 2 and "ta sesja" in page.text
    listed = requests.get(f"{base}/api/v1/account/sessions", headers=bearer(api_token), timeout=15).json()["items"]
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    ended = browser.post(f"{base}/account/sessions/end-others", data={"csrf_token": csrf(page.text)})
    assert ended.status_code == 200 and "Wylogowano inne sesje: 1." in ended.text
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(api_token), timeout=15).status_code == 401
    assert browser.get(f"{base}/account/security").text.count('data-session="') == 1


def test_history_shows_a_failed_login_with_its_ip_and_the_export_holds_no_secret(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token = register_verified(base, mail_dir)
    failed = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": "zle-haslo-123"}, timeout=15)
    assert failed.status_code == 401
    requests.patch(f"{base}/api/v1/profile", headers=bearer(token), json={"phone": "+48 600 100 200"}, timeout=15)
    browser = page_login(base, email)
    page = browser.get(f"{base}/account/history")
    assert page.status_code == 200
    row = re.search(r'<tr data-event="login_failed">(.*?)</tr>', page.text, re.S)
    assert row and "Nieudane logowanie" in row.group(1) and "127.0.0.1" in row.group(1)
    assert 'data-event="profile_updated"' in page.text and 'data-event="account_registered"' in page.text
    history = requests.get(f"{base}/api/v1/account/history", headers=bearer(token), timeout=15).json()["items"]
    assert history[0]["type"] == "login_succeeded"  # the page login just now, newest first
    assert next(h for h in history if h["type"] == "login_failed")["ip"] == "127.0.0.1"
    verification = next(h for h in history if h["type"] == "email_verification_requested")
    assert "token" not in verification["data"] and "token_hash" not in verification["data"]

    download = browser.get(f"{base}/account/export")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment;")
    exported = json.loads(download.text)
    assert exported["profile"]["email"] == email and exported["profile"]["phone"] == "+48 600 100 200"
    assert {"contacts", "history", "invoices", "services", "domains", "tickets", "mails"} <= set(exported)
    assert any(m["subject"].startswith("Potwierdź") for m in exported["mails"])
    for secret in ("password_hash", "token_hash", '"token"', "$argon2"):
        assert secret not in download.text, secret
    assert requests.get(f"{base}/api/v1/account/export", headers=bearer(token), timeout=15).json()["profile"]


def test_email_history_lists_and_opens_past_mail_safely(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, _ = register_verified(base, mail_dir)
    browser = page_login(base, email)
    listing = browser.get(f"{base}/emails")
    assert listing.status_code == 200 and "Witamy w Panelu Klienta" in listing.text
    mail_ids = MAIL_LINK_RE.findall(listing.text)
    assert len(mail_ids) >= 2
    opened = browser.get(f"{base}/emails/{mail_ids[-1]}")
    assert opened.status_code == 200 and "/verify-email?token=" in opened.text and 'sandbox=""' in opened.text
    frame = browser.get(f"{base}/emails/{mail_ids[-1]}/html")
    assert "sandbox" in frame.headers["Content-Security-Policy"] and "script-src" not in frame.headers[
        "Content-Security-Policy"]  # fmt: skip
    other = page_login(base, register_verified(base, mail_dir)[0])
    assert other.get(f"{base}/emails/{mail_ids[-1]}").status_code == 404


def test_email_history_filters_by_category_on_the_server(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token = register_verified(base, mail_dir)
    every = wait_for(lambda: (r := requests.get(f"{base}/api/v1/emails", headers=bearer(token), timeout=15).json())
                     ["total"] >= 2 and r, what="verification and welcome mail in the history")  # fmt: skip
    assert {m["category"] for m in every["items"]} == {"security"}
    security = requests.get(f"{base}/api/v1/emails?category=security", headers=bearer(token), timeout=15).json()
    assert security["total"] == every["total"] and security["category"] == "security"
    billing = requests.get(f"{base}/api/v1/emails?category=billing", headers=bearer(token), timeout=15).json()
    assert billing["total"] == 0 and billing["items"] == []
    bogus = requests.get(f"{base}/api/v1/emails?category=spam", headers=bearer(token), timeout=15)
    assert bogus.status_code == 422 and list(bogus.json()["error"]["fields"]) == ["category"]
    browser = page_login(base, email)
    page = browser.get(f"{base}/emails?category=billing")
    assert page.status_code == 200 and not MAIL_LINK_RE.findall(page.text)
    assert '<option value="billing" selected>' in page.text
    assert len(MAIL_LINK_RE.findall(browser.get(f"{base}/emails?category=security").text)) == every["total"]
    refused = browser.get(f"{base}/emails?category=spam")
    assert refused.status_code == 422 and 'role="alert"' in refused.text


def test_failed_logins_from_one_address_throttle_that_address_only(stack):
    """20 failed logins per IP in 15 minutes, on different e-mails (so no account reaches its own
    limit of 5): that IP is refused even with the right password, another IP is not. The client
    address is the TCP peer (gunicorn does not take it from X-Forwarded-For), so the test connects
    from addresses of its own in 127.0.0.0/8 and the stack's usual 127.0.0.1 is left untouched."""
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    noisy_ip = random_loopback()
    other_ip = random_loopback()
    while other_ip == noisy_ip:
        other_ip = random_loopback()
    noisy, other = client_at(noisy_ip), client_at(other_ip)
    login = f"{base}/api/v1/auth/login"
    for attempt in range(20):
        guess = {"email": unique_email("guess"), "password": f"zgadywane-{attempt}"}
        failed = noisy.post(login, json=guess, timeout=15)
        assert failed.status_code == 401 and failed.json()["error"]["code"] == "invalid_credentials", failed.text
    refused = noisy.post(login, json={"email": email, "password": PASSWORD}, timeout=15)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_attempts"
    # a forwarded-for header from a peer that is no trusted proxy does not get it out
    spoofed = noisy.post(login, json={"email": email, "password": PASSWORD}, headers={"X-Forwarded-For": other_ip},
                         timeout=15)  # fmt: skip
    assert spoofed.status_code == 429, spoofed.text
    allowed = other.post(login, json={"email": email, "password": PASSWORD}, timeout=15)
    assert allowed.status_code == 200 and allowed.json()["token"], allowed.text
    history = requests.get(f"{base}/api/v1/account/history", headers=bearer(allowed.json()["token"]), timeout=15)
    newest = history.json()["items"][0]
    assert newest["type"] == "login_succeeded" and newest["ip"] == other_ip  # the address the gateway saw
