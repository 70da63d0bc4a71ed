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
