"""The knowledge base: staff write articles (Markdown, a Polish and optionally an English version, a
category, published or draft) and withdraw them; everybody reads the published ones in their language,
by category or by a search (services.support.kb_search)."""

from __future__ import annotations

from typing import Any

from kernel.aggregate import execute
from kernel.errors import Conflict, NotFound
from services.support import kb_search
from services.support import validation as v
from services.support.app import Deps, invalid, page, staff_meta
from services.support.domain import Article, kb_stream
from services.support.projections import KbEntry

SEARCH_LIMIT = 20
SUMMARY_FIELDS = ("id", "slug", "language", "category", "title", "updated_at")


def write(deps: Deps, slug: str, category: str, status: str, versions: dict[str, Any],
          ctx: dict | None) -> dict[str, Any]:  # fmt: skip
    """A new article under /help/<slug> (a slug already used, even withdrawn: Conflict kb_slug_taken)."""
    if code := v.check_slug(slug):
        raise invalid("slug", code)
    execute(deps.events, Article, kb_stream(slug), lambda a: a.write(category, status, versions), staff_meta(ctx))
    return staff_get(slug)


def update(deps: Deps, slug: str, changes: dict[str, Any], ctx: dict | None) -> dict[str, Any]:
    staff_get(slug)
    execute(deps.events, Article, kb_stream(slug), lambda a: a.update(changes), staff_meta(ctx))
    return staff_get(slug)


def withdraw(deps: Deps, slug: str, ctx: dict | None) -> dict[str, Any]:
    staff_get(slug)
    execute(deps.events, Article, kb_stream(slug), lambda a: a.withdraw(), staff_meta(ctx))
    return staff_get(slug)


def staff_get(slug: str) -> dict[str, Any]:
    """Every version of an article, whatever its status: {slug, category, status, versions: {pl, en?}}."""
    entries = list(KbEntry.objects(slug=slug)) if isinstance(slug, str) else []
    if not entries:
        raise NotFound("kb_article")
    first = entries[0]
    return {"slug": slug, "category": first.category, "status": first.status,
            "updated_at": first.public()["updated_at"],
            "versions": {e.language: e.public(staff=True) for e in entries}}  # fmt: skip


def staff_list(page_number: int, per_page: int) -> dict[str, Any]:
    """Every article (drafts and withdrawn ones too), by its Polish title."""
    query = KbEntry.objects(language="pl").order_by("title_folded")
    return page(query, page_number, per_page, lambda e: {**e.summary(), "status": e.status})


def _published(language: str) -> Any:
    return KbEntry.objects(language=language if language in v.LANGUAGES else "pl", status="published")


def list_page(language: str, category: str | None, page_number: int, per_page: int) -> dict[str, Any]:
    """Published articles in a language, by title; `categories`: each category with its count."""
    if category and category not in v.KB_CATEGORIES:
        raise invalid("category", "invalid_category")
    everything = _published(language)
    counts = {c: everything.filter(category=c).count() for c in v.KB_CATEGORIES}
    query = (everything.filter(category=category) if category else everything).order_by("title_folded")
    result = page(query, page_number, per_page, KbEntry.summary)
    return {**result, "categories": [{"category": c, "count": n} for c, n in counts.items() if n]}


def get(slug: str, language: str) -> dict[str, Any]:
    """A published article in the language asked for, or in the other one when it has no such version
    (`language` says which one it is); NotFound for drafts, withdrawn and unknown slugs."""
    entries = {e.language: e for e in KbEntry.objects(slug=slug, status="published")} if isinstance(slug, str) else {}
    found = entries.get(language) or next(iter(entries.values()), None)
    if found is None:
        raise NotFound("kb_article")
    return found.public()


def search(query: str, language: str, limit: int = SEARCH_LIMIT) -> dict[str, Any]:
    """Published articles in a language that have any of the query's meaningful words (stop words left
    out, each word stemmed and matched as the beginning of an article's word, diacritics folded), best
    first (more words found, then title over body and rare over common words): see
    services.support.kb_search. `words`: the query's meaningful words, folded."""
    if not isinstance(query, str) or len(query) > 200:
        raise invalid("q", "invalid_query")
    language = language if language in v.LANGUAGES else "pl"
    words, stems = kb_search.terms(query, language)
    if not stems:
        return {"items": [], "words": []}
    # one query: the articles having any of the stems as the beginning of a word (the stored prefixes),
    # their summaries only; which of the stems each one has is then read from its words, kept in this
    # process per version (a query per stem would cost a scan each on nx-27017, whose array matches use
    # no index, and the bodies need not travel again for every query)
    query = _published(language).filter(prefixes__in=stems).only(*SUMMARY_FIELDS).batch_size(1000)
    found = list(query.as_pymongo())  # one round trip for up to 1,000 (not batches of 101)
    articles = _indexed(found, language)
    having = {e["_id"]: kb_search.found_stems(stems, articles[e["_id"]]) for e in found if e["_id"] in articles}
    found = [e for e in found if having.get(e["_id"])]  # (none: removed or changed meanwhile)
    holders = {s: sum(1 for matched in having.values() if s in matched) for s in stems}
    found.sort(key=lambda e: kb_search.rank(stems, articles[e["_id"]], having[e["_id"]], holders, len(found)))
    limit = min(max(int(limit), 1), SEARCH_LIMIT) if isinstance(limit, int) else SEARCH_LIMIT
    return {"items": [KbEntry._from_son(e).summary() for e in found[:limit]], "words": words}


# Each article version's words for the search, by entry id: ((its updated_at, title), what kb_search.index
# read). A version is read again when the read model's updated_at or title for it differs (every change of
# an article sets updated_at to the event's time), so several support processes each keep a correct copy.
# (updated_at is stored to the millisecond: a second edit of the body within the same millisecond, title
# unchanged, would be searched as the first until the next change.)
_INDEXED: dict[str, tuple[tuple[Any, str], kb_search.Indexed]] = {}
INDEXED_MAX = 5000


def _version(entry: dict[str, Any]) -> tuple[Any, str]:
    return entry.get("updated_at"), entry.get("title", "")


def _indexed(entries: list[dict[str, Any]], language: str) -> dict[str, kb_search.Indexed]:
    stale = [e["_id"] for e in entries if _INDEXED.get(e["_id"], (None,))[0] != _version(e)]
    if stale:
        if len(_INDEXED) + len(stale) > INDEXED_MAX:
            _INDEXED.clear()
        for entry in KbEntry.objects(id__in=stale).only("id", "title", "body", "updated_at").as_pymongo():
            _INDEXED[entry["_id"]] = (_version(entry), kb_search.index(entry["title"], entry["body"], language))
    # an entry changed between the two reads is taken as read the second time (and read again next time)
    return {e["_id"]: _INDEXED[e["_id"]][1] for e in entries if e["_id"] in _INDEXED}


# --- the default articles: `make up` seeds them (tools/seed.py), each once ---------------------------
DOMAINS_GUIDE = "rejestracja-i-transfer-domen"
DEFAULT_ARTICLES: list[dict[str, Any]] = [
    {
        "slug": DOMAINS_GUIDE,
        "category": "domains",
        "status": "published",
        "versions": {
            "pl": {
                "title": "Rejestracja i przeniesienie domeny",
                "body": (
                    "## Rejestracja nowej domeny\n\n"
                    "1. Wpisz nazwę w polu **Szybkie dodawanie domeny** na pulpicie albo na stronie "
                    "[wyszukiwania domen](/domains/search). Polskie litery są dozwolone (np. *żółw.pl*).\n"
                    "2. Jeśli domena jest wolna, wybierz okres rejestracji (1-10 lat) i dodaj ją do koszyka.\n"
                    "3. Zapłać fakturę: domena zostanie zarejestrowana zaraz po zaksięgowaniu płatności, "
                    "a potwierdzenie przyjdzie e-mailem.\n\n"
                    "## Przeniesienie domeny od innego rejestratora\n\n"
                    "1. U obecnego rejestratora zdejmij blokadę transferu i pobierz **kod AuthInfo** (kod EPP).\n"
                    "2. Otwórz [przeniesienie domeny](/domains/transfer), wpisz nazwę domeny i kod.\n"
                    "3. Po opłaceniu faktury wysyłamy wniosek o transfer. Trwa on zwykle do 5 dni; "
                    "domena działa przez cały czas, a okres ważności przedłuża się o rok.\n\n"
                    "## Najczęstsze problemy\n\n"
                    "- **Nieprawidłowy kod AuthInfo**: poproś obecnego rejestratora o nowy kod.\n"
                    "- **Domena zarejestrowana niedawno** (mniej niż 60 dni temu) zwykle nie może jeszcze "
                    "zmienić rejestratora.\n\n"
                    "Brak odpowiedzi na Twoje pytanie? [Napisz do nas](/tickets/new)."
                ),
            },
            "en": {
                "title": "Registering and transferring a domain",
                "body": (
                    "## Registering a new domain\n\n"
                    "1. Type the name into **Quick domain** on the dashboard or on the "
                    "[domain search](/domains/search) page. Polish letters are allowed (e.g. *żółw.pl*).\n"
                    "2. If the domain is free, choose the registration period (1-10 years) and add it to the cart.\n"
                    "3. Pay the invoice: the domain is registered as soon as the payment is booked, and a "
                    "confirmation comes by e-mail.\n\n"
                    "## Transferring a domain from another registrar\n\n"
                    "1. At your current registrar, remove the transfer lock and get the **AuthInfo code** (EPP code).\n"
                    "2. Open [domain transfer](/domains/transfer), type the domain name and the code.\n"
                    "3. Once the invoice is paid we request the transfer. It usually takes up to 5 days; the "
                    "domain keeps working all the time and its expiry moves one year on.\n\n"
                    "## Common problems\n\n"
                    "- **Wrong AuthInfo code**: ask your current registrar for a new one.\n"
                    "- **A domain registered recently** (less than 60 days ago) usually cannot change registrar yet.\n\n"
                    "Found no answer? [Write to us](/tickets/new)."
                ),
            },
        },
    },
]


def seed_defaults(deps: Deps, ctx: dict | None) -> int:
    """Write the default articles that do not exist yet (never touching staff edits); how many were written."""
    added = 0
    for article in DEFAULT_ARTICLES:
        try:
            write(deps, article["slug"], article["category"], article["status"], article["versions"], ctx)
        except Conflict:
            continue
        added += 1
    return added
