"""The knowledge base's pages: /help (categories, the list, the search) and /help/<slug> for everybody,
logged in or not, in the reader's language; the staff desk's /staff/help to write, change and withdraw
articles (support owns them: services/support/app/kb.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from gateway import clients, i18n, inputs
from gateway.auth import load_account
from gateway.errors import status_of
from gateway.views.pages import pages
from gateway.views.staff import _errors, _message, staff_only
from gateway.views.support_pages import choice, found_or_404, page_number
from kernel.errors import CommandError

CATEGORIES = ("domains", "hosting", "email", "billing", "account")
KB_STATUSES = ("published", "draft")
LANGUAGES = ("pl", "en")
VERSION_FIELDS = tuple(f"{field}_{language}" for language in LANGUAGES for field in ("title", "body"))
QUERY_MAX = 200

blueprint = Blueprint("staff_help", __name__, url_prefix="/staff/help")
blueprint.before_request(staff_only)


@pages.app_template_global()
def file_size(size: int) -> str:
    """An attachment's size in KiB, written the page's way: "0,1 KiB" in Polish, "0.1 KiB" in English."""
    return f"{i18n.number(round(size / 1024, 1))} KiB"


def _reader() -> None:
    """Whoever is logged in (for the header and their language); the pages are open to everybody."""
    g.account = load_account(session.get("token")) if session.get("token") else None
    if g.account:
        g.language = g.account.get("language") or g.language


# --- for everybody ----------------------------------------------------------------
@pages.get("/help")
def help_index():
    _reader()
    category = choice("category", CATEGORIES) or None
    query = inputs.query_text("q", max_length=QUERY_MAX).strip()
    found = clients.support.search_articles(query=query, language=g.language, limit=20) if query else None
    result = clients.support.list_articles(language=g.language, category=category, page=page_number(), per_page=50)
    return render_template("help/index.html", result=result, found=found, query=query, category=category,
                           categories=CATEGORIES)  # fmt: skip


@pages.get("/help/<slug>")
def help_article(slug: str):
    _reader()
    article = found_or_404(clients.support.get_article, slug=slug, language=g.language)
    return render_template("help/article.html", article=article)


# --- the staff desk -----------------------------------------------------------------
def _form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in ("slug", "category", "status", *VERSION_FIELDS)}


def _versions(form: dict[str, str]) -> dict[str, dict[str, str]]:
    return {language: {"title": form[f"title_{language}"], "body": form[f"body_{language}"]} for language in LANGUAGES}


def _as_form(article: dict[str, Any]) -> dict[str, str]:
    form = {"slug": article["slug"], "category": article["category"], "status": article["status"]}
    for language, version in article["versions"].items():
        form.update({f"title_{language}": version["title"], f"body_{language}": version["body"]})
    return form


def _context(**values: Any) -> dict[str, Any]:
    return {"categories": CATEGORIES, "statuses": KB_STATUSES, "errors": {}, "error": None, **values}


@blueprint.route("", methods=["GET", "POST"])
def articles():
    form, errors, error, status = {"status": "published"}, {}, None, 200
    if request.method == "POST":
        form = _form()
        try:
            clients.support.write_article(slug=form["slug"].strip(), category=form["category"], status=form["status"],
                                          versions=_versions(form))  # fmt: skip
        except CommandError as exc:
            errors, error, status = _errors(exc), _message(exc.code), status_of(exc)
        else:
            flash(i18n.t("kb_staff_saved"), "success")
            return redirect(url_for("staff_help.articles"))
    result = clients.support.staff_list_articles(page=page_number(), per_page=50)
    return render_template(
        "help/staff_list.html", **_context(result=result, form=form, errors=errors, error=error)
    ), status


@blueprint.route("/<slug>", methods=["GET", "POST"])
def edit(slug: str):
    article = found_or_404(clients.support.staff_get_article, slug=slug)
    if request.method == "GET":
        return render_template("help/staff_edit.html", **_context(article=article, form=_as_form(article)))
    form = {**_form(), "slug": slug}
    try:
        clients.support.update_article(slug=slug, category=form["category"], status=form["status"],
                                       versions=_versions(form))  # fmt: skip
    except CommandError as exc:
        context = _context(article=article, form=form, errors=_errors(exc), error=_message(exc.code))
        return render_template("help/staff_edit.html", **context), status_of(exc)
    flash(i18n.t("kb_staff_saved"), "success")
    return redirect(url_for("staff_help.articles"))


@blueprint.post("/<slug>/withdraw")
def withdraw(slug: str):
    found_or_404(clients.support.withdraw_article, slug=slug)
    flash(i18n.t("kb_staff_withdrawn"), "success")
    return redirect(url_for("staff_help.articles"))
