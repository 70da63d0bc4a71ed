"""The knowledge base's search, done in the read model (the local nx-27017 has no text index).

Words: runs of letters and digits, lower-cased, Polish (and other) diacritics folded ("Przeniesienie
domeny" and "przeniesienie domeny" and "PRZENIESIENIE DOMENY" are the same words; "ł" becomes "l").
An article's language version stores the prefixes of its words (from 2 letters, `prefixes`).

A query is read the way a customer types a question ("Jak przenieść domenę?", "how do I transfer my
domain"):

1. its folded words, without the stop words of the page's language ("jak", "czy", "się", "how",
   "the"...): a query of stop words only finds nothing;
2. each word cut to a stem by removing one inflectional ending (`stem`: "domenę" -> "domen",
   "przenieść" -> "przenies", "przeniesienie" -> "przenies", "hasła" -> "hasl", "transferring" ->
   "transfer"). No stemming library fits: the Snowball stemmers have no Polish; pystempel (Apache/BSD,
   2.7 MB, last release 2024) took 17 s to load its table here; the dictionary lemmatisers (simplemma,
   MIT, 19 MB, 6 s to load Polish; morfeusz2) need the diacritics customers often leave out
   (simplemma turns "przeniesc" into "przeć"). So the rules below are a small suffix list applied to
   folded words, which works the same with or without diacritics;
3. a stem matches an article word it begins (the stored prefixes): "domen" finds "domena", "domeny",
   "domenie". Only the query is stemmed; the article's words are matched as written, so a stem only
   needs to be a beginning of the forms it should find. Known misses: a form whose letters change
   inside the word ("haseł" does not find "hasło" nor the reverse; "fakturze" does not find "faktura",
   though "faktura" finds "fakturze"). services.support.app.kb picks the articles having any stem by
   their stored prefixes (one query) and reads which stems each has from its words (`index`).

Ranking (`rank`), best first: more of the query's stems found in the article; then a weight where a
stem found in the title counts TITLE_WEIGHT times one found only in the body (a title word whose own
stem is the query's stem, not just begins with it, counts TITLE_EXACT_WEIGHT), each stem weighted by
how rare it is among the articles found (inverse document frequency); then the title
alphabetically. An article matching none of the query's stems is not returned.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from typing import NamedTuple

WORD = re.compile(r"[^\W_]+")
MIN_WORD = 2
MAX_WORD = 30  # longer runs (hashes, URLs glued together) are cut
MAX_QUERY_WORDS = 8
MIN_STEM = 3  # an ending is removed only when at least this much of the word is left
TITLE_WEIGHT = 3.0
TITLE_EXACT_WEIGHT = 4.0
# letters that do not decompose into a base letter and a combining mark
EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "ø": "o", "đ": "d"})


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no subject, folded (so "się" is "sie"). One-letter words ("w", "z", "i", "a") are
# never words here (MIN_WORD). Chosen by the page's language: "has" is an English stop word but the
# beginning of a Polish "hasło" being typed.
_PL_STOP = """
        jak jaki jaka jakie jakiego jakiej czy co czego czym kto kogo gdzie kiedy dlaczego czemu ile po ktory
        ktora ktore ktorego ktorej ktorym we na do sie ze od ode pod nad za przed przez dla to ten ta te tego
        tej tym tych jest sa byc byl byla bylo jestem mam ma mamy maja moge mozna musze trzeba moj moja moje
        mojego mojej moim mnie mi my wy on ona ono oni one ich im jej go mu nas was wam nam ja ty pan pani
        panstwo sobie swoj swoja swoje swojego swojej nie tak juz jeszcze tez takze oraz lub albo ale bo aby
        zeby by bym jesli jezeli gdy czyli przy bez niz chce chcialbym chcialabym chcemy prosze potrzebuje
        zrobic
        """
_EN_STOP = """
        an the to of in on at for by with from about into onto how what why when where which who whom whose
        do does did done doing can could should would will shall may might must me my mine we us our ours
        you your yours it its this that these those is are was were be been being am have has had having
        and or but not no nor if so than then there here get got please want wanted need needed some any
        he she they them their his her him also just very don doesn didn isn aren wasn ve ll re
        """
STOP_WORDS: dict[str, frozenset[str]] = {"pl": _word_set(_PL_STOP), "en": _word_set(_EN_STOP)}

# Endings removed from a folded word (one: the longest that leaves MIN_STEM letters, MIN_STEM + 1 for
# an ending of 4 letters or more), by language.
# Polish: noun and adjective case endings, verbal nouns (-enie/-anie/-ecie), nouns in -acja (so
# "konfiguracja" meets "konfigurować": "konfigur") and infinitives (-ac, -ic, -owac, and -sc/-zc whose
# "c" alone goes, so "przenieść" and "przeniesienie" both give "przenies", "znaleźć" and "znalezienie"
# both "znalez"). English: -ation and -ration ("registration" -> "regist", meeting "register").
_PL_ENDINGS = """
    acjami acjach acjom acja acji acje
    owaniami owaniach owaniem owania owaniu owanie ywaniem ywania ywanie iwaniem iwania iwanie
    ieniami ieniach ieniem ienia ieniu ienie eniami eniach eniem enia eniu enie
    aniami aniach aniem ania aniu anie ieciami ieciem iecia ieciu iecie eciem ecia eciu ecie
    owego owemu owych owymi owej owym owa owe owy owi
    iego iemu iej ich imi ego emu ej ym ymi ych
    owac ywac iwac ujemy ujesz uje uja ac ec ic yc
    iami iach iem ami ach om ow em ia ie iu ii a e i o u y
"""
_EN_ENDINGS = """
    rations ration ations ation ments ment ingly ings ing edly ed ies es s ly e
"""
ENDINGS: dict[str, tuple[str, ...]] = {
    language: tuple(sorted(set(text.split()), key=len, reverse=True))
    for language, text in (("pl", _PL_ENDINGS), ("en", _EN_ENDINGS))
}


def fold(text: str) -> str:
    """Lower-case without diacritics: "Zażółć Gęślą" -> "zazolc gesla"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(EXTRA_FOLDS).lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a text, in order (repeats kept), each at least MIN_WORD letters."""
    return [w[:MAX_WORD] for w in WORD.findall(fold(text or "")) if len(w) >= MIN_WORD]


def prefixes(text: str) -> list[str]:
    """Every prefix (from MIN_WORD letters) of every word, once each: what a query word is matched against."""
    found: set[str] = set()
    for word in set(words(text)):
        found.update(word[:n] for n in range(MIN_WORD, len(word) + 1))
    return sorted(found)


def _language(language: str) -> str:
    return language if language in ENDINGS else "pl"


def query_words(query: str, language: str = "pl") -> list[str]:
    """The distinct folded words of a query that mean something (stop words of the language left out),
    in order, at most MAX_QUERY_WORDS."""
    stop = STOP_WORDS[_language(language)]
    return list(dict.fromkeys(w for w in words(query) if w not in stop))[:MAX_QUERY_WORDS]


def stem(word: str, language: str = "pl") -> str:
    """A folded word without its inflectional ending: the longest of the language's ENDINGS that leaves
    at least MIN_STEM letters, one more for an ending of 4 letters or more (so "domenie" loses "ie", not
    "enie"): "domeny" -> "domen", "przeniesc" -> "przenies", "transferring" -> "transfer"; a word with
    no such ending is its own stem."""
    language = _language(language)
    if language == "pl" and word.endswith(("sc", "zc")) and len(word) > MIN_STEM + 1:
        return word[:-1]  # przeniesc, znalezc: the infinitive's "c" alone
    for ending in ENDINGS[language]:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM + (len(ending) >= 4):
            base = word[: -len(ending)]
            if language == "en" and ending in ("ing", "ed", "ings", "edly", "ingly") and _doubled(base):
                base = base[:-1]  # transferring -> transferr -> transfer
            return base
    return word


def _doubled(base: str) -> bool:
    return len(base) > MIN_STEM and base[-1] == base[-2] and base[-1] not in "aeiouls"


def terms(query: str, language: str = "pl") -> tuple[list[str], list[str]]:
    """(the query's meaningful words, their distinct stems): what `rank` and the read model match."""
    meaningful = query_words(query, language)
    return meaningful, list(dict.fromkeys(stem(w, language) for w in meaningful))


class Indexed(NamedTuple):
    """An article's language version read for the search: its distinct folded words (sorted, for a
    binary search by beginning), its title's words and their stems, its title folded."""

    words: tuple[str, ...]
    title_words: tuple[str, ...]
    title_stems: frozenset[str]
    title_folded: str


def index(title: str, body: str, language: str = "pl") -> Indexed:
    title_words = tuple(dict.fromkeys(words(title)))
    return Indexed(tuple(sorted(set(words(body)).union(title_words))), title_words,
                   frozenset(stem(w, language) for w in title_words), fold(title))  # fmt: skip


def _begins_a_word(beginning: str, sorted_words: tuple[str, ...]) -> bool:
    at = bisect.bisect_left(sorted_words, beginning)
    return at < len(sorted_words) and sorted_words[at].startswith(beginning)


def found_stems(stems: list[str], article: Indexed) -> set[str]:
    """The stems that begin a word of the article (what its stored prefixes say, read from its words)."""
    return {s for s in stems if _begins_a_word(s, article.words)}


def idf(holders: int, total: int) -> float:
    """How much finding a stem says: rarer among the `total` articles, more (never zero)."""
    return math.log(1 + (max(total, holders, 1)) / max(holders, 1))


def rank(stems: list[str], article: Indexed, matched: Collection[str], holders: Mapping[str, int],
         total: int) -> tuple[int, float, str]:  # fmt: skip
    """A sort key (smaller first) for an article whose words (title and body) begin with the stems
    `matched` (a subset of `stems`); `holders[s]`: how many of the `total` articles found have `s`.
    Number of stems found, then their weight (title > body, rare > common), then the title."""
    weight = 0.0
    for s in stems:
        if s not in matched:
            continue
        if s in article.title_stems:
            place = TITLE_EXACT_WEIGHT
        elif any(w.startswith(s) for w in article.title_words):
            place = TITLE_WEIGHT
        else:
            place = 1.0
        weight += place * idf(holders.get(s, 1), total)
    return -sum(1 for s in stems if s in matched), -round(weight, 9), article.title_folded
