"""The knowledge base's search, done in the read model (the local nx-27017 has no text index).

Words: runs of letters and digits, lower-cased, Polish (and other) diacritics folded ("Przeniesienie
domeny" and "przeniesienie domeny" and "PRZENIESIENIE DOMENY" are the same words; "ł" becomes "l").
An article's language version stores the prefixes of its words (from 2 letters): a query word matches
a word it begins ("domen" matches "domeny" and "domena"), and an article matches when every query word
matches a word of its title or body. Ranking: more query words found in the title first, then more
occurrences in title and body, then the title alphabetically.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
MIN_WORD = 2
MAX_WORD = 30  # longer runs (hashes, URLs glued together) are cut
MAX_QUERY_WORDS = 8
# letters that do not decompose into a base letter and a combining mark
EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "ø": "o", "đ": "d"})


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


def query_words(query: str) -> list[str]:
    """The distinct words of a query, in order, at most MAX_QUERY_WORDS."""
    return list(dict.fromkeys(words(query)))[:MAX_QUERY_WORDS]


def rank(query: list[str], title: str, body: str) -> tuple[int, int, str]:
    """A sort key (smaller first): query words in the title, then occurrences in title and body."""
    title_words, all_words = words(title), words(title) + words(body)
    in_title = sum(1 for q in query if any(w.startswith(q) for w in title_words))
    occurrences = sum(1 for w in all_words for q in query if w.startswith(q))
    return -in_title, -occurrences, fold(title)
