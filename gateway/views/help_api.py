"""The knowledge base under /api/v1/help: reading and searching are open to everybody (no token; the
language is `language`, else the request's); writing, changing and withdrawing are for staff (a staff
member's bearer token; anyone else gets 404, as on the desk)."""

from __future__ import annotations

from flask import g, jsonify

from gateway import clients, inputs, schemas
from gateway.errors import ApiError
from gateway.openapi import PATHS, STRING, _obj, _op
from gateway.policy import is_staff
from gateway.views.api import api, token_required

CATEGORIES = ("domains", "hosting", "email", "billing", "account")


def _language() -> str:
    return inputs.query_choice("language", ("pl", "en")) or g.language


def _staff() -> None:
    if not is_staff(g.account):
        raise ApiError(404, "not_found")


@api.get("/help")
def help_articles():
    page, per_page = inputs.page_args(per_page=50)
    category = inputs.query_choice("category", CATEGORIES)
    return jsonify(clients.support.list_articles(language=_language(), category=category, page=page, per_page=per_page))


@api.get("/help/search")
def help_search():
    query = inputs.query_text("q", max_length=200)
    limit = inputs.query_int("limit", 10, maximum=20)
    return jsonify(clients.support.search_articles(query=query, language=_language(), limit=limit))


@api.get("/help/<slug>")
def help_article(slug: str):
    return jsonify(clients.support.get_article(slug=slug, language=_language()))


@api.post("/help")
@token_required
def write_article():
    _staff()
    data = inputs.json_model(schemas.KbArticle)
    article = clients.support.write_article(slug=data["slug"], category=data["category"],
                                            status=data.get("status", "published"), versions=data["versions"])  # fmt: skip
    return jsonify(article), 201


@api.patch("/help/<slug>")
@token_required
def update_article(slug: str):
    _staff()
    data = inputs.json_model(schemas.KbArticleChange)
    article = clients.support.update_article(slug=slug, category=data.get("category"), status=data.get("status"),
                                             versions=data.get("versions"))  # fmt: skip
    return jsonify(article)


@api.post("/help/<slug>/withdraw")
@token_required
def withdraw_article(slug: str):
    _staff()
    return jsonify(clients.support.withdraw_article(slug=slug))


# --- OpenAPI ----------------------------------------------------------------
_SUMMARY = _obj("slug", "title", slug=STRING, language={"type": "string", "enum": ["pl", "en"]},
                category={"type": "string", "enum": list(CATEGORIES)}, title=STRING,
                updated_at={"type": "string", "format": "date-time"})  # fmt: skip
_LIST = _obj("items", items={"type": "array", "items": _SUMMARY}, total={"type": "integer"}, page={"type": "integer"},
             per_page={"type": "integer"}, pages={"type": "integer"},
             categories={"type": "array", "items": _obj("category", "count", category=STRING,
                                                        count={"type": "integer"})})  # fmt: skip
_FOUND = _obj("items", "words", items={"type": "array", "items": _SUMMARY},
              words={"type": "array", "items": STRING,
                     "description": "the query's words that count (folded, stop words left out)"})  # fmt: skip
_ARTICLE = {**_SUMMARY, "properties": {**_SUMMARY["properties"], "body_html": STRING}}
_STAFF_ARTICLE = _obj("slug", "status", "versions", slug=STRING, category=STRING, status=STRING,
                      versions={"type": "object", "description": "pl and en: title, body (Markdown), body_html"})  # fmt: skip
_PUBLIC = {"auth": False}
PATHS["/help"] = {
    "get": _op("Published articles in a language, by title, with the categories that have any (query: language, "
               "category, page, per_page); no token needed", "200", _LIST, errors=("422", "503"), **_PUBLIC),
    "post": _op("Staff: write an article (published or draft)", "201", _STAFF_ARTICLE, schemas.KbArticle,
                errors=("400", "404", "409", "422", "503")),
}  # fmt: skip
PATHS["/help/search"] = {
    "get": _op("Search published articles (query: q, language, limit up to 20): the words of q without stop words "
               "(jak, czy, how, the...), each stemmed (domenę -> domen) and matched as the beginning of a word of the "
               "title or body, diacritics folded; articles with more of them first, then title over body; none "
               "found, not returned; no token needed", "200", _FOUND, errors=("422", "503"), **_PUBLIC),
}  # fmt: skip
PATHS["/help/{slug}"] = {
    "get": _op("A published article, in the language asked for or, when it has no such version, the other "
               "(`language` says which); no token needed", "200", _ARTICLE, errors=("404", "503"), **_PUBLIC),
    "patch": _op("Staff: change an article (only the fields sent)", "200", _STAFF_ARTICLE, schemas.KbArticleChange,
                 errors=("400", "404", "409", "422", "503")),
}  # fmt: skip
PATHS["/help/{slug}/withdraw"] = {
    "post": _op("Staff: withdraw an article for good", "200", _STAFF_ARTICLE, errors=("404", "503")),
}
