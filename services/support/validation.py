"""Field rules for tickets and news. Each check returns an error code or None."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

DEPARTMENTS = ("technical", "billing", "sales")
PRIORITIES = ("low", "medium", "high", "urgent")
PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}
STATUSES = ("open", "answered", "customer-reply", "on_hold", "in_progress", "closed")
# A list filter: every status but closed (what the tickets tile counts).
ACTIVE = "active"
LANGUAGES = ("pl", "en")
RELATED_KINDS = ("service", "domain")

SUBJECT_MAX = 200
MESSAGE_MAX = 20_000
NOTE_MAX = 20_000
NEWS_TITLE_MAX = 200
NEWS_BODY_MAX = 50_000
PLAN_MAX = 64
PLANS_MAX = 50


def check_text(value: Any, maximum: int) -> str | None:
    if not isinstance(value, str):
        return "required" if value is None else "invalid_type"
    if not value.strip():
        return "required"
    return "too_long" if len(value) > maximum else None


def check_choice(value: Any, choices: tuple[str, ...], code: str) -> str | None:
    if value is None or value == "":
        return "required"
    return None if isinstance(value, str) and value in choices else code


def check_related(value: Any) -> tuple[dict | None, str | None]:
    """Optional link to a service or domain: {kind: service|domain, id, name?}."""
    if value is None or value == {}:
        return None, None
    if not isinstance(value, dict):
        return None, "invalid_type"
    kind, ref, name = value.get("kind"), value.get("id"), value.get("name") or ""
    if kind not in RELATED_KINDS:
        return None, "invalid_related_kind"
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 100:
        return None, "invalid_related_id"
    if not isinstance(name, str) or len(name) > 255:
        return None, "invalid_related_name"
    return {"kind": kind, "id": ref.strip(), "name": name.strip()}, None


def check_plans(value: Any) -> tuple[list[str], str | None]:
    if value is None:
        return [], None
    if not isinstance(value, list | tuple) or len(value) > PLANS_MAX:
        return [], "invalid_plans"
    plans: list[str] = []
    for plan in value:
        if not isinstance(plan, str) or not plan.strip() or len(plan) > PLAN_MAX:
            return [], "invalid_plans"
        if plan.strip() not in plans:
            plans.append(plan.strip())
    return plans, None


def parse_datetime(value: Any) -> tuple[dt.datetime | None, str | None]:
    """ISO-8601 text or a datetime -> naive UTC; None stays None."""
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, "invalid_datetime"
    if not isinstance(value, dt.datetime):
        return None, "invalid_datetime"
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000), None


def page_args(page: Any, per_page: Any, default: int = 20, maximum: int = 100) -> tuple[int, int]:
    """Forgiving paging: nonsense becomes page 1 / the default size."""
    try:
        page = max(1, int(page))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = min(maximum, max(1, int(per_page)))
    except (TypeError, ValueError):
        per_page = default
    return page, per_page


# --- knowledge base ---------------------------------------------------------------
KB_CATEGORIES = ("domains", "hosting", "email", "billing", "account")
KB_STATUSES = ("published", "draft")
KB_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
KB_SLUG_MAX = 100
KB_RESERVED = ("search",)  # /api/v1/help/search is the search, not an article
KB_TITLE_MAX = 200
KB_BODY_MAX = 100_000


def check_slug(value: Any) -> str | None:
    """Lower-case letters, digits and single hyphens: the article's address /help/<slug>."""
    if value is None or value == "":
        return "required"
    if not isinstance(value, str) or len(value) > KB_SLUG_MAX or not KB_SLUG.fullmatch(value) or value in KB_RESERVED:
        return "invalid_slug"
    return None


def check_versions(value: Any) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """{"pl": {title, body}, "en": {title, body}}: Polish required, English optional (an empty English
    title and body = none). The cleaned versions and the field errors (e.g. "title_en": "required")."""
    if not isinstance(value, dict) or set(value) - set(LANGUAGES):
        return {}, {"versions": "invalid_versions"}
    clean: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for language in LANGUAGES:
        given = value.get(language) or {}
        if not isinstance(given, dict):
            errors[f"title_{language}"] = "invalid_type"
            continue
        title, body = given.get("title") or "", given.get("body") or ""
        if language != "pl" and not (str(title).strip() or str(body).strip()):
            continue
        for field, text, maximum in (("title", title, KB_TITLE_MAX), ("body", body, KB_BODY_MAX)):
            if code := check_text(text, maximum):
                errors[f"{field}_{language}"] = code
        if isinstance(title, str) and isinstance(body, str):
            clean[language] = {"title": title.strip(), "body": body}
    return clean, errors
