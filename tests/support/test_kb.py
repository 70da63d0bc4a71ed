"""The knowledge base (issue #18): staff write, change and withdraw articles; everybody browses the
published ones by category and searches them. Real event store and read models (nx-27017)."""

from __future__ import annotations

import pytest

from kernel.errors import CommandError, NotFound
from services.support import kb_search
from services.support.app.kb import DOMAINS_GUIDE
from tests.fakes import call_as
from tests.support.helpers import customer, staff

PL_BODY = "Wpisz **kod AuthInfo** i <script>alert(1)</script>[link](javascript:alert(2)) kliknij."


def write(support, slug="kod-authinfo", category="domains", status="published", pl=None, en=None):
    versions = {"pl": pl or {"title": "Gdzie znaleźć kod AuthInfo", "body": PL_BODY}}
    if en:
        versions["en"] = en
    return support.worker.write_article(slug, category, status, versions, ctx=staff())


def test_fold_and_words():
    assert kb_search.fold("Zażółć GĘŚLĄ Jaźń Łódź") == "zazolc gesla jazn lodz"
    assert kb_search.words("Przeniesienie domeny .PL (kod-EPP), a") == ["przeniesienie", "domeny", "pl", "kod", "epp"]
    assert kb_search.query_words("domena Domena DOMENA kod") == ["domena", "kod"]
    assert "dom" in kb_search.prefixes("Domeny") and "domeny" in kb_search.prefixes("Domeny")


def test_written_sanitised_with_contract_and_read_in_each_language(support):
    item = write(support, en={"title": "Where to find the AuthInfo code", "body": "Type the *code*."})
    assert set(item["versions"]) == {"pl", "en"} and item["status"] == "published"
    html = item["versions"]["pl"]["body_html"]
    assert "<strong>kod AuthInfo</strong>" in html and "<script" not in html and "javascript:" not in html
    [event] = support.dispatch.of("kb_article_published")
    assert event["meta"]["actor"] == {"type": "staff", "id": "staff-1"}
    assert [x["language"] for x in event["data"]["versions"]] == ["pl", "en"]
    assert support.worker.get_article("kod-authinfo", "en")["title"] == "Where to find the AuthInfo code"
    assert support.worker.get_article("kod-authinfo", "pl")["title"] == "Gdzie znaleźć kod AuthInfo"


def test_polish_only_article_is_shown_in_polish_to_english_readers_but_not_listed(support):
    write(support)
    assert support.worker.get_article("kod-authinfo", "en")["language"] == "pl"
    assert support.worker.list_articles("en")["items"] == []
    assert support.worker.search_articles("authinfo", "en")["items"] == []


def test_every_field_error_at_once(support):
    with pytest.raises(CommandError) as err:
        support.worker.write_article("x", "weather", "maybe", {"pl": {"title": "", "body": ""},
                                                               "en": {"title": "Only a title"}}, ctx=staff())  # fmt: skip
    assert err.value.fields == {"category": "invalid_category", "status": "invalid_status", "title_pl": "required",
                                "body_pl": "required", "body_en": "required"}  # fmt: skip
    for slug in ("Zła Nazwa", "a--b", "-a", "search", "x" * 101):
        with pytest.raises(CommandError) as err:
            write(support, slug=slug)
        assert err.value.fields == {"slug": "invalid_slug"}, slug


def test_slug_taken_once_even_after_withdrawal(support):
    write(support)
    with pytest.raises(CommandError) as err:
        write(support)
    assert err.value.code == "kb_slug_taken"
    support.worker.withdraw_article("kod-authinfo", ctx=staff())
    with pytest.raises(CommandError) as err:
        write(support)
    assert err.value.code == "kb_slug_taken"


def test_draft_published_by_update_then_withdrawn(support):
    write(support, status="draft")
    with pytest.raises(NotFound):
        support.worker.get_article("kod-authinfo", "pl")
    assert support.worker.list_articles("pl")["total"] == 0
    assert support.worker.search_articles("authinfo", "pl")["items"] == []
    assert support.worker.staff_list_articles()["items"][0]["status"] == "draft"

    updated = support.worker.update_article("kod-authinfo", status="published", ctx=staff())
    assert updated["status"] == "published"
    assert support.dispatch.of("kb_article_updated")[0]["data"]["changed"] == ["status"]
    assert support.worker.update_article("kod-authinfo", status="published", ctx=staff())["status"] == "published"
    assert len(support.dispatch.of("kb_article_updated")) == 1  # nothing changed: no event
    assert [a["slug"] for a in support.worker.list_articles("pl")["items"]] == ["kod-authinfo"]

    support.worker.withdraw_article("kod-authinfo", ctx=staff())
    with pytest.raises(NotFound):
        support.worker.get_article("kod-authinfo", "pl")
    assert support.worker.search_articles("authinfo", "pl")["items"] == []
    with pytest.raises(CommandError) as err:
        support.worker.update_article("kod-authinfo", status="draft", ctx=staff())
    assert err.value.code == "kb_article_withdrawn"


def test_update_dropping_the_english_version_removes_it(support):
    write(support, en={"title": "AuthInfo", "body": "Code."})
    versions = {"pl": {"title": "Kod AuthInfo", "body": "Nowa treść."}}
    support.worker.update_article("kod-authinfo", versions=versions, ctx=staff())
    assert set(support.worker.staff_get_article("kod-authinfo")["versions"]) == {"pl"}
    assert support.worker.list_articles("en")["total"] == 0
    assert support.worker.search_articles("nowa", "pl")["items"][0]["title"] == "Kod AuthInfo"


def test_categories_with_counts_and_filter(support):
    write(support, slug="a", category="domains", pl={"title": "Domena", "body": "x"})
    write(support, slug="b", category="domains", pl={"title": "Ćwiczenie", "body": "x"})
    write(support, slug="c", category="email", pl={"title": "Poczta", "body": "x"})
    listed = support.worker.list_articles("pl")
    assert [a["title"] for a in listed["items"]] == ["Ćwiczenie", "Domena", "Poczta"]  # folded order
    assert listed["categories"] == [{"category": "domains", "count": 2}, {"category": "email", "count": 1}]
    assert [a["slug"] for a in support.worker.list_articles("pl", category="email")["items"]] == ["c"]
    with pytest.raises(CommandError) as err:
        support.worker.list_articles("pl", category="weather")
    assert err.value.fields == {"category": "invalid_category"}


def test_search_folds_diacritics_stems_words_and_ranks_title_hits_first(support):
    write(support, slug="transfer", pl={"title": "Przeniesienie domeny", "body": "Kod AuthInfo od rejestratora."})
    write(
        support, slug="dns", pl={"title": "Rekordy DNS", "body": "Po przeniesieniu domeny ustaw DNS. Domena, domena."}
    )
    write(support, slug="poczta", pl={"title": "Skrzynka pocztowa", "body": "Hasło do poczty."})

    def found(query):
        return [a["slug"] for a in support.worker.search_articles(query, "pl")["items"]]

    assert found("przeniesienie domeny") == ["transfer", "dns"]  # both words in the title first
    assert found("PRZENIES DOMEN") == ["transfer", "dns"]  # word beginnings, any case
    assert found("domen") == ["transfer", "dns"]  # one title hit beats three in the body
    assert found("domena") == found("domenę") == ["transfer", "dns"]  # stemmed: "domen"
    assert found("haslo") == found("hasło") == found("hasła") == ["poczta"]  # diacritics folded both ways
    assert found("dns domeny") == ["dns", "transfer"]  # more of the words found first, not every word required
    assert found("pogoda") == [] and found("  ,. ") == [] and found("a") == [] and found("jak to czy") == []
    with pytest.raises(CommandError) as err:
        support.worker.search_articles("x" * 201, "pl")
    assert err.value.fields == {"q": "invalid_query"}


def test_staff_only_commands_and_idempotent_default_seed(support):
    with pytest.raises(CommandError):
        call_as(support.worker, "write_article", customer("acc-1"), "x", "domains", "published",
                {"pl": {"title": "t", "body": "b"}})  # fmt: skip
    system = {"actor": {"type": "system", "id": "seed"}}
    assert call_as(support.worker, "seed_help_articles", system) == {"added": 1}
    assert call_as(support.worker, "seed_help_articles", system) == {"added": 0}
    assert len(support.dispatch.of("kb_article_published")) == 1
    guide = support.worker.get_article(DOMAINS_GUIDE, "pl")
    assert guide["category"] == "domains" and "AuthInfo" in guide["body_html"]
    assert support.worker.get_article(DOMAINS_GUIDE, "en")["title"] == "Registering and transferring a domain"
    assert support.worker.search_articles("transfer domeny", "pl")["items"][0]["slug"] == DOMAINS_GUIDE
