"""Field rules for account data. Each check returns an error code or None."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from kernel import contracts
from kernel.countries import ISO_3166

LANGUAGES = ("pl", "en")
CATEGORIES = ("billing", "services", "domains", "support", "security")
# Security mail always goes out; customers cannot switch it off.
MANDATORY_CATEGORIES = ("security",)
PERMISSIONS = contracts.CONTACT_PERMISSIONS
CONTACT_CATEGORIES = contracts.CONTACT_MAIL_CATEGORIES
COUNTRIES = ISO_3166  # stored as the ISO 3166-1 alpha-2 code

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{7,20}$")
PL_POSTCODE_RE = re.compile(r"^\d{2}-\d{3}$")
# what may separate a Polish postcode's digits as typed: "00-916", "00 916", "00–916", "00916"
POSTCODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]")
NIP_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.]")
EU_VAT_RE = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,13}$")
# EU countries of COUNTRIES other than Poland and their VAT-number prefix (a VAT-EU number starts with it)
EU_VAT_PREFIX = {c: ("EL" if c == "GR" else c) for c in ("DE", "CZ", "SK", "LT", "FR", "NL", "AT", "BE", "DK", "ES",
                                                        "IT", "IE", "SE", "FI", "PT", "HU", "RO", "BG", "HR", "SI",
                                                        "EE", "LV", "GR")}  # fmt: skip
NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
# A mail category a contact may receive needs the permission to see that part of the panel:
# invoice mails only to whom may read the invoices, and so on.
CATEGORY_PERMISSION = {"billing": "invoices.view", "services": "services.view", "domains": "domains.view",
                       "support": "tickets.view"}  # fmt: skip
# Control characters (C0, C1, NUL, DEL), lone surrogates (invalid Unicode) and line/paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def has_bad_characters(value: str) -> bool:
    """True when the text holds a control character, a line break of any kind or a lone surrogate."""
    return any(unicodedata.category(c) in _BAD_CATEGORIES for c in value)


def allowed_categories(permissions: list[str] | tuple[str, ...]) -> list[str]:
    """The contact mail categories a holder of `permissions` may receive."""
    return [c for c in CONTACT_CATEGORIES if CATEGORY_PERMISSION.get(c) in (permissions or ())]


def normalize_email(value: str) -> str:
    return (value if isinstance(value, str) else "").strip().lower()


def check_email(value: str) -> str | None:
    if not value:
        return "required"
    if has_bad_characters(value):
        return "invalid_characters"
    return None if EMAIL_RE.match(value) and len(value) <= 254 else "invalid_email"


def lookup_email(value: object) -> str | None:
    """The address to look an account up by, or None when it cannot be anybody's (not text,
    too long, control characters, invalid Unicode): such input is never sent to the database."""
    email = normalize_email(value)  # type: ignore[arg-type]
    return email if email and not check_email(email) else None


def check_password(value: str) -> str | None:
    if not value:
        return "required"
    if not isinstance(value, str):
        return "invalid_type"
    if any(unicodedata.category(c) == "Cs" for c in value):  # cannot be encoded, so never hashed
        return "invalid_characters"
    if len(value) < 10:
        return "password_too_short"
    if len(value) > 128:
        return "password_too_long"
    return None


def check_name(value: str) -> str | None:
    if not isinstance(value, str):
        return "invalid_type"
    if not value or not value.strip():
        return "required"
    if len(value) > 100:
        return "too_long"
    return "invalid_characters" if has_bad_characters(value) else None


def check_phone(value: str) -> str | None:
    if not value:
        return None
    if not isinstance(value, str):
        return "invalid_type"
    if has_bad_characters(value):
        return "invalid_characters"
    return None if PHONE_RE.match(value) else "invalid_phone"


def check_repeat(password: str, repeat: str | None) -> str | None:
    """A form's password typed twice: None when not asked (the API) or the same."""
    return None if repeat is None or repeat == password else "password_mismatch"


def check_language(value: str) -> str | None:
    return None if value in LANGUAGES else "invalid_language"


def nip_digits(value: str) -> str:
    """A NIP as typed ("PL 526-000-12-46", "526.000.12.46") without its separators and "PL" prefix."""
    return NIP_SEPARATORS.sub("", value or "").upper().removeprefix("PL")


def check_nip(value: str) -> str | None:
    """None for a valid Polish NIP; else what is wrong: invalid_nip (other than digits), nip_length (not
    10 digits), nip_checksum (10 digits whose check digit does not match)."""
    digits = nip_digits(value)
    if not digits.isascii() or not digits.isdigit():
        return "invalid_nip"
    if len(digits) != 10:
        return "nip_length"
    checksum = sum(int(d) * w for d, w in zip(digits, NIP_WEIGHTS, strict=False)) % 11
    return None if checksum != 10 and checksum == int(digits[9]) else "nip_checksum"


def is_valid_nip(value: str) -> bool:
    return check_nip(value) is None


def normalize_postcode(value: str, country: str) -> str:
    """A Polish postcode typed as five digits, with a space or any dash between, becomes 00-916."""
    digits = POSTCODE_SEPARATORS.sub("", value)
    if country == "PL" and len(digits) == 5 and digits.isascii() and digits.isdigit():
        return f"{digits[:2]}-{digits[2:]}"
    return value


def check_billing_address(address: dict) -> tuple[dict, dict[str, str]]:
    """Normalised address and per-field error codes (prefixed `billing_address.`)."""
    keys = ("company", "nip", "street", "postcode", "city", "country")
    errors: dict[str, str] = {}
    for key in keys:  # text or nothing; no control characters, no invalid Unicode
        value = address.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = "invalid_type"
        elif value and has_bad_characters(value):
            errors[key] = "invalid_characters"
    if errors:  # the other fields are still checked: every error at once
        clean, more = check_billing_address({k: x for k, x in address.items() if k not in errors})
        return {}, {**more, **{f"billing_address.{k}": x for k, x in errors.items()}}
    clean = {k: (address.get(k) or "").strip() for k in keys}
    clean["country"] = clean["country"].upper() or "PL"
    clean["postcode"] = normalize_postcode(clean["postcode"], clean["country"])
    for key in ("street", "postcode", "city"):
        if not clean[key]:
            errors[key] = "required"
        elif len(clean[key]) > 120:
            errors[key] = "too_long"
    if clean["country"] not in COUNTRIES:
        errors["country"] = "invalid_country"
    if clean["country"] == "PL" and clean["postcode"] and not PL_POSTCODE_RE.match(clean["postcode"]):
        errors["postcode"] = "invalid_postcode"
    if clean["nip"]:
        if clean["country"] == "PL":
            if code := check_nip(clean["nip"]):
                errors["nip"] = code
            else:
                clean["nip"] = nip_digits(clean["nip"])
        elif not EU_VAT_RE.match(clean["nip"].replace(" ", "").upper()):
            errors["nip"] = "invalid_vat_id"
        elif (
            clean["country"] in EU_VAT_PREFIX
            and clean["nip"].replace(" ", "").upper()[:2] != EU_VAT_PREFIX[clean["country"]]
        ):
            errors["nip"] = "vat_id_country_mismatch"  # the VAT rule (billing's vat.py) reads the country
    if len(clean["company"]) > 160:
        errors["company"] = "too_long"
    for key in ("nip", "country"):
        if len(clean[key]) > 32:
            errors[key] = "too_long"
    return clean, {f"billing_address.{k}": v for k, v in errors.items()}


def check_preferences(preferences: dict) -> tuple[dict, dict[str, str]]:
    unknown = [k for k in preferences if k not in CATEGORIES]
    if unknown:
        return {}, {f"notification_preferences.{unknown[0]}": "unknown_category"}
    wrong = [k for k, value in preferences.items() if not isinstance(value, bool)]
    if wrong:
        return {}, {f"notification_preferences.{wrong[0]}": "invalid_type"}
    clean = {c: bool(preferences.get(c, True)) for c in CATEGORIES}
    for category in MANDATORY_CATEGORIES:
        clean[category] = True
    return clean, {}


def clean_text(value: object, check: Callable[[str], str | None]) -> tuple[str, str | None]:
    """A text field stripped, and its error code (`invalid_type` when it is not text)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        return "", "invalid_type"
    if has_bad_characters(value):  # also a trailing line break: refused, not silently stripped
        return "", "invalid_characters"
    return value.strip(), check(value.strip())


def _choices(value: object, allowed: tuple[str, ...], field: str, unknown: str) -> tuple[list[str], dict[str, str]]:
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        return [], {field: "invalid_type"}
    wrong = [x for x in value if x not in allowed]
    if wrong:
        return [], {field: unknown}
    return [x for x in allowed if x in value], {}


def check_contact(data: dict, creating: bool) -> tuple[dict, dict[str, str]]:
    """A contact's fields, cleaned, and per-field error codes. The e-mail and the
    login choice are given once, when the contact is added."""
    clean: dict = {}
    errors: dict[str, str] = {}
    for field, check in (("first_name", check_name), ("last_name", check_name), ("phone", check_phone),
                         ("language", check_language)):  # fmt: skip
        if field in data or creating:
            raw = data.get(field)
            value, code = clean_text("pl" if field == "language" and raw in (None, "") else raw, check)
            if code:
                errors[field] = code
            else:
                clean[field] = value
    if creating:
        raw_email = data.get("email")
        email = normalize_email(raw_email if isinstance(raw_email, str) else "")
        if raw_email is not None and not isinstance(raw_email, str):
            errors["email"] = "invalid_type"
        elif code := check_email(email):
            errors["email"] = code
        clean["email"] = email
        if not isinstance(data.get("login", False), bool):
            errors["login"] = "invalid_type"
        clean["login"] = bool(data.get("login", False))
    if "address" in data or creating:
        address = data.get("address") or {}
        if not isinstance(address, dict) or not all(isinstance(x, str | None) for x in address.values()):
            errors["address"] = "invalid_type"
        elif any((x or "").strip() for k, x in address.items() if k != "country"):
            clean["address"], address_errors = check_billing_address(address)
            errors.update({k.replace("billing_address.", "address."): c for k, c in address_errors.items()})
        else:
            clean["address"] = {}
    for field, allowed, unknown in (("permissions", PERMISSIONS, "unknown_permission"),
                                    ("categories", CONTACT_CATEGORIES, "unknown_category")):  # fmt: skip
        if field in data or creating:
            clean[field], choice_errors = _choices(data.get(field, []), allowed, field, unknown)
            errors.update(choice_errors)
    return clean, errors
