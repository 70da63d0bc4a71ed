"""Domain names: validation with a reason code, IDN (IDNA 2008), registrable names under our TLDs.

Names are stored in ASCII (punycode, `xn--...`) and shown in Unicode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

from kernel.errors import Invalid
from services.domains import prices

MAX_NAME = 253
MAX_LABEL = 63
ASCII_LABEL = re.compile(r"^[a-z0-9-]+$")
HOSTNAME_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class DomainName:
    ascii: str  # what is stored and sent to the registry
    unicode: str  # what people read
    label: str  # the registrable label, ASCII
    tld: str

    def public(self) -> dict[str, str]:
        return {"name": self.ascii, "unicode_name": self.unicode, "tld": self.tld}


class InvalidName(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _clean(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidName("domains_name_required")
    text = raw.strip().lower().rstrip(".")
    text = text.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")  # ideographic full stops
    if " " in text or "/" in text or "@" in text:
        raise InvalidName("domains_bad_characters")
    return text


def to_ascii_label(label: str) -> str:
    """One label in ASCII, or InvalidName with the reason."""
    if not label:
        raise InvalidName("domains_empty_label")
    if label.startswith("-") or label.endswith("-"):
        raise InvalidName("domains_hyphen_edge")
    if label.isascii():
        if not ASCII_LABEL.match(label):
            raise InvalidName("domains_bad_characters")
        if label[2:4] == "--" and not label.startswith("xn--"):
            raise InvalidName("domains_double_hyphen")
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError):
                raise InvalidName("domains_invalid_idn") from None
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise InvalidName("domains_bad_characters") from None
    if len(ascii_label) > MAX_LABEL:
        raise InvalidName("domains_label_too_long")
    return ascii_label


def to_unicode(ascii_name: str) -> str:
    return ".".join(idna.ulabel(label) if label.startswith("xn--") else label for label in ascii_name.split("."))


def parse_label(raw: object) -> str:
    """A bare label with no TLD (`mojafirma`), ASCII; InvalidName otherwise."""
    text = _clean(raw)
    if "." in text:
        raise InvalidName("domains_bad_characters")
    return to_ascii_label(text)


def split_tld(text: str) -> tuple[str, str]:
    """(label, tld) for a name under one of our TLDs; InvalidName otherwise."""
    for tld in prices.tlds():
        if text.endswith("." + tld):
            label = text[: -len(tld) - 1]
            if "." in label:
                raise InvalidName("domains_subdomain")
            return label, tld
    raise InvalidName("domains_unsupported_tld")


def parse(raw: object) -> DomainName:
    """A registrable name under one of our TLDs, or InvalidName with the reason."""
    text = _clean(raw)
    labels = text.split(".")
    if len(labels) < 2:
        raise InvalidName("domains_tld_required")
    ascii_labels = [to_ascii_label(label) for label in labels]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > MAX_NAME:
        raise InvalidName("domains_name_too_long")
    label, tld = split_tld(ascii_name)
    return DomainName(ascii_name, to_unicode(ascii_name), label, tld)


def parse_or_refuse(raw: object, field: str = "name") -> DomainName:
    """`parse` for commands: a CommandError naming the field."""
    try:
        return parse(raw)
    except InvalidName as exc:
        raise Invalid("invalid_input", {field: exc.code}) from None


def valid_hostname(raw: object) -> str | None:
    """A nameserver host name in ASCII (IDN allowed), or None."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower().rstrip(".")
    labels = text.split(".")
    if len(labels) < 2 or len(text) > MAX_NAME:
        return None
    try:
        ascii_labels = [to_ascii_label(label) for label in labels]
    except InvalidName:
        return None
    if not all(HOSTNAME_LABEL.match(label) for label in ascii_labels) or ascii_labels[-1].isdigit():
        return None
    return ".".join(ascii_labels)
