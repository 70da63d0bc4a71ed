"""The gateway's gettext catalogues: extract, update, check.

Messages are keyed (`t("billing_pay_all")`): the msgid is a stable key and
both `pl` and `en` catalogues translate it, so a wording change never breaks
a lookup. Usage:

    python -m tools.i18n_catalog extract   # gateway/locale/messages.pot from code and templates
    python -m tools.i18n_catalog update    # merge the .pot into pl/en .po (new keys left empty)
    python -m tools.i18n_catalog check     # every key used has a translation in both languages

Keys built at run time (error codes from services, `t('lang_' ~ code)`) are
not found by `extract`: add them to both .po files by hand.
"""

from __future__ import annotations

import ast
import io
import string
import sys
import tokenize
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"
LOCALE_DIR = GATEWAY / "locale"
LANGUAGES = ("pl", "en")
DOMAIN = "messages"
KEYWORDS = {"t": None}
BRACE_FORMAT = "python-brace-format"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(language: str) -> Catalog:
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a message (ValueError when a brace is unbalanced)."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def mark_brace_format(catalog: Catalog) -> None:
    """Flag translations with `{placeholders}` as python-brace-format.

    Babel derives the flag from the msgid (a key here, never with braces), so it
    drops the flag on reading; it is put back from the msgstr on every save."""
    for message in catalog:
        if not message.id:
            continue
        try:
            has_fields = isinstance(message.string, str) and bool(placeholders(message.string))
        except ValueError:
            has_fields = False
        if has_fields:
            message.flags.add(BRACE_FORMAT)
        else:
            message.flags.discard(BRACE_FORMAT)


def save(catalog: Catalog, path: Path) -> None:
    mark_brace_format(catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=120, sort_output=True, omit_header=False)


def _literal_keys(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):  # t("a" if x else "b")
        yield from _literal_keys(node.body)
        yield from _literal_keys(node.orelse)


def extract_python_keys(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extraction method for `t("key")` and `i18n.t("key", ...)` in Python.

    Babel's own Python extractor glues together every string literal inside a
    call (`t("a" if f["when"] == "now" else "b")` gives one "awhennowb")."""
    source = fileobj.read().decode("utf-8")
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if any(text.startswith(tag) for tag in comment_tags):
                comments[token.start[0]] = text
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in keywords:
            continue
        notes = [comments[line] for line in (node.lineno - 1, node.lineno) if line in comments]
        for key in _literal_keys(node.args[0]):
            yield node.lineno, name, key, notes


METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", extract_python_keys)]


def extract() -> Catalog:
    """Every literal `t("key")` in gateway code and templates (dynamic keys such
    as error codes from services are added to the catalogues by hand)."""
    template = Catalog(project="Panel Klienta", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        GATEWAY, METHODS, keywords=KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
    ):
        if isinstance(message, str) and message:
            template.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return template


def update() -> list[str]:
    """Merge the extracted keys into both catalogues; returns keys new to a catalogue.

    The .po files carry no source locations (the .pot has them), so moving code
    around does not rewrite the translations."""
    template = extract()
    added: list[str] = []
    for language in LANGUAGES:
        catalog = load(language)
        for message in template:
            if message.id and message.id not in catalog:
                catalog.add(message.id, string="", auto_comments=message.auto_comments)
                added.append(f"{language}:{message.id}")
        save(catalog, po_path(language))
    return added


def problems() -> list[str]:
    """What stops the catalogues from being complete: a key used in code or templates,
    or present in either catalogue, that is missing, empty or fuzzy in one of them;
    translations of one key with different `{placeholders}`."""
    used = {m.id for m in extract() if m.id}
    catalogs = {language: load(language) for language in LANGUAGES}
    defined = {language: {m.id for m in catalog if m.id} for language, catalog in catalogs.items()}
    everywhere = set().union(*defined.values())
    found: list[str] = []
    for language, catalog in catalogs.items():
        for key in sorted(used | everywhere):
            message = catalog.get(key)
            if message is None:
                others = [other for other in LANGUAGES if key in defined[other]]
                where = "used in code" if key in used else f"present in {', '.join(others)}"
                found.append(f"{language}: no translation for {key!r} ({where})")
            elif not message.string or message.fuzzy:
                found.append(f"{language}: {key!r} is empty or fuzzy")
    for key in sorted(everywhere):
        fields: dict[str, set[str]] = {}
        for language, catalog in catalogs.items():
            message = catalog.get(key)
            if message is not None and isinstance(message.string, str) and message.string:
                try:
                    fields[language] = placeholders(message.string)
                except ValueError as exc:
                    found.append(f"{language}: {key!r} has a broken placeholder ({exc})")
        if len({frozenset(f) for f in fields.values()}) > 1:
            shown = ", ".join(f"{language} {sorted(f)}" for language, f in fields.items())
            found.append(f"{key!r}: placeholders differ between languages: {shown}")
    return found


def main(argv: Iterable[str]) -> int:
    command = next(iter(argv), "check")
    if command == "extract":
        LOCALE_DIR.mkdir(parents=True, exist_ok=True)
        save(extract(), LOCALE_DIR / f"{DOMAIN}.pot")
        return 0
    if command == "update":
        for key in update():
            print("new, needs a translation:", key)
        return 0
    if command == "check":
        found = problems()
        print("\n".join(found) or "catalogues complete")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
