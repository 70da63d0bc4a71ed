"""Polish first, English second: message catalogue, language choice, formatting."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from flask import g, request

LANGUAGES = ("pl", "en")
LOCALES = {"pl": "pl_PL", "en": "en_GB"}

from gateway.messages import MESSAGES  # noqa: E402


def current_language() -> str:
    return getattr(g, "language", "pl")


def choose_language(account_language: str | None = None) -> str:
    """The account's language; before login the `lang` cookie, then the browser."""
    if account_language in LANGUAGES:
        return account_language
    cookie = request.cookies.get("lang")
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(LANGUAGES) or "pl"


def t(key: str, language: str | None = None, **values) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry[LANGUAGES.index(language or current_language())]
    return text.format(**values) if values else text


def money(grosze: int, currency: str = "PLN", language: str | None = None) -> str:
    locale = LOCALES[language or current_language()]
    return format_currency(grosze / 100, currency, locale=locale)


def number(value: float, language: str | None = None) -> str:
    return format_decimal(value, locale=LOCALES[language or current_language()])


def datetime_text(value: str | dt.datetime | None, language: str | None = None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.rstrip("Z"))
    return format_datetime(value, "short", locale=LOCALES[language or current_language()])
