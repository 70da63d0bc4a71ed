"""Countries as ISO 3166-1 alpha-2 codes (what accounts store), named in Polish and English by babel (CLDR)."""

from __future__ import annotations

import unicodedata

from babel import Locale

# CLDR's territories that are not ISO 3166-1 countries: exceptionally reserved codes, groupings, test and
# unknown regions
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"})
_LOCALES = {"pl": Locale("pl"), "en": Locale("en")}
ISO_3166 = tuple(
    sorted(c for c in _LOCALES["en"].territories if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)
)


def country_name(code: str | None, language: str = "pl") -> str:
    """ "DE" -> "Niemcy" / "Germany"; an unknown code comes back as itself."""
    code = (code or "").upper()
    return _LOCALES.get(language, _LOCALES["pl"]).territories.get(code, code) if code in ISO_3166 else code


def country_choices(language: str = "pl", first: str = "PL") -> list[tuple[str, str]]:
    """(code, name) of every country, `first` at the top, the rest by name in the language."""
    rest = sorted((c for c in ISO_3166 if c != first), key=lambda c: _sort_key(country_name(c, language)))
    return [(code, country_name(code, language)) for code in (first, *rest)]


def _sort_key(name: str) -> tuple[str, str]:
    """Alphabetical enough for both languages: letters without diacritics first ("Łotwa" with the L's)."""
    plain = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold(), name
