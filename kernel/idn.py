"""Domain names as people type them (IDN, IDNA 2008): "Żółw.PL." -> "xn--w-uga1v8h.pl", the ASCII form
services store and compare. Each service still applies its own rules to the result."""

from __future__ import annotations

import idna

# full stops other scripts type between labels
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def ascii_name(typed: str) -> str:
    """The name in ASCII (each non-ASCII label in punycode), lower-case, without surrounding spaces or a
    final dot. A name IDNA refuses comes back cleaned but unconverted, for the caller's own check to refuse."""
    text = (typed or "").strip().translate(_DOTS).lower().rstrip(".")
    if text.isascii():
        return text
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return text


def unicode_name(ascii: str) -> str:
    """ "xn--w-uga1v8h.pl" -> "żółw.pl" (a label that is not valid punycode stays as it is)."""
    try:
        return idna.decode(ascii)
    except (idna.IDNAError, UnicodeError):
        return ascii
