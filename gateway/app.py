"""The gateway: the only thing a browser talks to (Jinja2 pages and a JSON API)."""

from __future__ import annotations

import functools
import logging
import os

from flask import Flask, g, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import clients, i18n, inputs, rpc, views
from gateway.auth import csrf_token, load_account
from gateway.errors import error_response, status_of
from kernel import settings
from kernel.errors import CommandError, NotFound
from kernel.settings import SERVICES

log = logging.getLogger(__name__)


def create_app() -> Flask:
    app = Flask(__name__)
    secret = os.environ.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("SECRET_KEY is not set: the gateway refuses to sign sessions with a default key")
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="panel_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure unless the panel is served over plain http (local development).
        SESSION_COOKIE_SECURE=os.environ.get("COOKIE_SECURE", str(settings.PUBLIC_URL.startswith("https"))).lower()
        == "true",
        MAX_CONTENT_LENGTH=30 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.jinja_env.globals.update(t=i18n.t, csrf_token=csrf_token, languages=i18n.LANGUAGES, **i18n.template_helpers())
    app.jinja_env.filters.update(i18n.FILTERS)

    @app.before_request
    def pick_language() -> None:
        g.language = i18n.choose_language()

    @app.context_processor
    def page_language() -> dict:
        """`t` bound to the page's language once per render: a page asks hundreds of keys, and
        looking the language up in `g` took most of each one's time."""
        return {"t": functools.partial(i18n.t, language=i18n.current_language())}

    https = settings.PUBLIC_URL.lower().startswith("https://")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        if https:  # the browser keeps to https for a year, subdomains too
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if _private(response) and "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"  # nothing a logged-in person sees, no API answer
        return response

    @app.get("/livez")
    def livez():
        return jsonify(status="up")

    @app.get("/healthz")
    def healthz():
        calls = {service: clients.start(clients.BY_SERVICE[service].health) for service in SERVICES}
        results, failures = rpc.gather(calls)
        services = {s: ("up" if s in results else "down") for s in SERVICES}
        status = "up" if not failures else "degraded"
        return jsonify(status=status, services=services), 200 if status == "up" else 503

    inputs.install(app)  # every query, form and JSON body checked before any view (gateway/inputs.py)
    for blueprint in views.discover():
        app.register_blueprint(blueprint)
    _register_error_handlers(app)
    _trust_proxies(app)
    return app


def _private(response) -> bool:
    """Every API answer, and every page served to someone logged in (session or bearer token),
    except the static files."""
    if request.path.startswith("/static/"):
        return False
    return request.path.startswith("/api/") or bool(session.get("token")) or bool(g.get("account"))


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies (an ingress: 1) the client's address is the one the
    nearest proxy appended to X-Forwarded-For; the login throttle and the history need it, else every
    client would share the proxy's address. Left of that, the header is the client's own claim and
    never trusted. With no proxy (0, the default) the header is ignored."""
    hops = int(os.environ.get("TRUSTED_PROXIES", "0"))
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_page(code: str, status: int):
    """The error page with the header and navigation of whoever is logged in (a 404 never reached a view)."""
    if "account" not in g:
        try:
            g.account = load_account(session.get("token"))
        except rpc.ServiceUnavailable:
            g.account = None
        if g.account:
            g.language = g.account.get("language") or g.language
    return render_template("error.html", code=code), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CommandError)
    def command_error(exc: CommandError):
        return error_response(status_of(exc), exc.code, exc.fields)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        if _wants_json():
            return error_response(404, exc.code)
        return _error_page("not_found", 404)

    @app.errorhandler(rpc.ServiceUnavailable)
    def unavailable(exc: rpc.ServiceUnavailable):
        log.warning("service unavailable: %s", exc)
        if _wants_json():
            return error_response(503, "service_unavailable")
        return render_template("error.html", code="service_unavailable"), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {
            400: "csrf" if exc.description == "csrf" else "invalid_input",
            401: "unauthorized",
            404: "not_found",
        }.get(exc.code or 500, "invalid_input")
        if _wants_json():
            return error_response(exc.code or 500, code)
        return _error_page(code, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return error_response(500, "internal_error")
        return render_template("error.html", code="internal_error"), 500
