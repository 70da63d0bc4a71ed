"""The session cookie's flags, from the gateway's own app factory (no servers needed: the login
page renders without calling a service and puts the CSRF token in the session)."""

from __future__ import annotations

import pytest

from kernel import settings


def _session_cookie(monkeypatch, public_url: str, cookie_secure: str | None) -> str:
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setattr(settings, "PUBLIC_URL", public_url)
    if cookie_secure is None:
        monkeypatch.delenv("COOKIE_SECURE", raising=False)
    else:
        monkeypatch.setenv("COOKIE_SECURE", cookie_secure)
    response = create_app().test_client().get("/login")
    assert response.status_code == 200
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("panel_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def _flags(cookie: str) -> set[str]:
    return {part.strip().lower() for part in cookie.split(";")[1:]}


@pytest.mark.parametrize(
    ("public_url", "cookie_secure", "secure"),
    [
        ("https://panel.example.pl", None, True),  # https: Secure by default
        ("http://127.0.0.1:8000", None, False),  # plain http (local development): a Secure cookie would not come back
        ("http://127.0.0.1:8000", "true", True),  # TLS ends at a proxy in front: forced on
        ("http://127.0.0.1:8000", "True", True),
        ("https://panel.example.pl", "false", False),  # explicitly off
    ],
)
def test_session_cookie_is_secure_when_the_panel_is_served_over_https(monkeypatch, public_url, cookie_secure, secure):
    flags = _flags(_session_cookie(monkeypatch, public_url, cookie_secure))
    assert ("secure" in flags) is secure
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags


def _client_address(monkeypatch, proxies: str | None, forwarded_for: str | None) -> str:
    """The address the gateway attributes a request to, arriving from 10.0.0.5 (a proxy, or a client)."""
    from flask import request

    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    if proxies is None:
        monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("TRUSTED_PROXIES", proxies)
    app = create_app()
    app.add_url_rule("/_test/address", "test_address", lambda: request.remote_addr)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = app.test_client().get("/_test/address", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "address"),
    [
        (None, "203.0.113.7", "10.0.0.5"),  # no proxy configured: a client's own header is ignored
        ("0", "203.0.113.7", "10.0.0.5"),
        ("1", "203.0.113.7", "203.0.113.7"),  # behind the ingress: the address it appended
        ("1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # a client's forged entry to the left is not trusted
        ("1", None, "10.0.0.5"),
    ],
)
def test_client_address_comes_from_the_trusted_proxy_only(monkeypatch, proxies, forwarded_for, address):
    assert _client_address(monkeypatch, proxies, forwarded_for) == address
