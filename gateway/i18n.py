"""Polish first, English second: message catalogues, language choice, formatting.

The UI messages live in gettext catalogues, gateway/locale/<language>/LC_MESSAGES/messages.po,
keyed: the msgid is the key the code passes to `t()`. They are compiled in memory at
import (no .mo files); `python -m tools.i18n_catalog check` keeps both complete.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from flask import g, request, url_for
from markupsafe import Markup, escape

from kernel.settings import env

LANGUAGES = ("pl", "en")
LOCALES = {"pl": "pl_PL", "en": "en_GB"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DATE_FORMAT = "medium"  # one date format per language, on every page: date_text and datetime_text
# The brand in the header: BRAND_NAME ("" = the panel's name in the page's language), BRAND_LOGO_URL ("" = ours)
BRAND_NAME = env("BRAND_NAME", "")
BRAND_LOGO_URL = env("BRAND_LOGO_URL", "")


def _load(language: str) -> dict[str, str]:
    """The language's catalogue: key -> text, for the keys it translates (empty and fuzzy entries
    left out, as gettext's compiled catalogue would). A plain dict: a page asks hundreds of keys."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


_CATALOGUES = {language: _load(language) for language in LANGUAGES}


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
    """The message `key` in the language (the page's by default), `{placeholders}` filled
    from `values`; an unknown key comes back as itself."""
    if not key:  # gettext("") is the catalogue's header
        return key
    text = _CATALOGUES[language or current_language()].get(key, key)
    if any(isinstance(value, Markup) for value in values.values()):  # e.g. money_html: the rest escaped
        return escape(text).format(**values)
    return text.format(**values) if values else text


def known(key: str, language: str | None = None) -> bool:
    """Whether `key` has a translation in `language`, or in every language when None."""
    languages = (language,) if language else LANGUAGES
    return all(key in _CATALOGUES[lang] for lang in languages)


def money(grosze: int, currency: str = "PLN", language: str | None = None) -> str:
    locale = LOCALES[language or current_language()]
    return format_currency(Decimal(grosze) / 100, currency, locale=locale)  # exact: never a float


def money_html(grosze: int, currency: str = "PLN", language: str | None = None) -> Markup:
    """The amount for a page: one unbreakable piece (class "money"), "zł" never on a line of its own."""
    return Markup('<span class="money">{}</span>').format(money(grosze, currency, language))


def number(value: float, language: str | None = None) -> str:
    return format_decimal(value, locale=LOCALES[language or current_language()])


def datetime_text(value: str | dt.datetime | None, language: str | None = None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.rstrip("Z"))
    locale = LOCALES[language or current_language()]
    # the same date as date_text, then the time: "2 gru 2026, 10:00", "2 Dec 2026, 10:00"
    return f"{format_date(value, DATE_FORMAT, locale=locale)}, {format_time(value, 'short', locale=locale)}"


def date_text(value: str | dt.date | None, language: str | None = None) -> str:
    """A calendar date (an ISO date or timestamp, or a date) in the locale's words: "1 gru 2026", "1 Dec 2026"."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    elif isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, DATE_FORMAT, locale=LOCALES[language or current_language()])


def brand() -> dict[str, str]:
    """The header's brand: its name and logo address (BRAND_NAME, BRAND_LOGO_URL, else the panel's)."""
    return {"name": BRAND_NAME or t("app_name"), "logo": BRAND_LOGO_URL or url_for("static", filename="logo.svg")}


def template_helpers() -> dict:
    """What every template may call: money (as HTML), dates, the brand; the same as filters in FILTERS."""
    return {"money": money_html, "date_text": date_text, "datetime_text": datetime_text, "brand": brand}


FILTERS = {"money": money_html, "date": date_text, "datetime": datetime_text}
