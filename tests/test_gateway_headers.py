"""Security headers from the gateway's own app factory (no servers needed): HSTS only when the
panel is served over https, a CSP that also closes <base> and form targets, and no-store on every
API answer and every page of a logged-in session (but not on static files). The same checks run
end to end in tests/e2e/test_account_trust.py."""

from __future__ import annotations

import pytest

from kernel import settings


def _app(monkeypatch, public_url: str):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setattr(settings, "PUBLIC_URL", public_url)
    return create_app()


@pytest.mark.parametrize(("public_url", "hsts"), [("https://panel.example.pl", True), ("http://127.0.0.1:8000", False),
                                                  ("HTTPS://Panel.example.pl", True)])  # fmt: skip
def test_hsts_is_sent_only_when_the_panel_is_served_over_https(monkeypatch, public_url, hsts):
    response = _app(monkeypatch, public_url).test_client().get("/login")
    assert response.status_code == 200
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in response.headers


def test_the_csp_forbids_base_and_foreign_form_targets(monkeypatch):
    policy = _app(monkeypatch, "http://127.0.0.1:8000").test_client().get("/login").headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["base-uri"] == ["'none'"] and directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["default-src"] == ["'self'"]


def test_no_store_on_api_answers_and_logged_in_pages_but_not_on_anonymous_pages_or_static_files(monkeypatch):
    app = _app(monkeypatch, "http://127.0.0.1:8000")
    client = app.test_client()
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    assert client.get("/api/v1/openapi.json").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/profile").headers["Cache-Control"] == "no-store"  # a 401 too
    with client.session_transaction() as session:  # a logged-in browser (the token is not checked for /login)
        session["token"] = "some-session-token"
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    static = client.get("/static/panel.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
