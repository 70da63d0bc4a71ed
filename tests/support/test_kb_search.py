"""The knowledge-base search as a customer uses it: questions typed in Polish or English (with or
without diacritics, any inflected form, stop words around), ranked rather than every word required;
through the support service over a real event store and read model, and through the gateway's
/api/v1/help/search and /help (the new-ticket form's suggestions) with the real service behind it."""

from __future__ import annotations

import time

import pytest

from gateway import rpc
from kernel.errors import CommandError
from services.support import kb_search
from tests.support.helpers import staff

ARTICLES = {
    "transfer": ("domains", "Przeniesienie domeny",
                 "Zdejmij blokadę transferu u obecnego rejestratora i pobierz kod AuthInfo. Wpisz nazwę domeny.",
                 "Transferring a domain",
                 "Remove the transfer lock at your current registrar and get the AuthInfo code."),
    "rejestracja": ("domains", "Rejestracja nowej domeny",
                    "Wpisz nazwę domeny w wyszukiwarce. Domenę możesz później przenieść do innego rejestratora.",
                    "Registering a new domain", "Type the domain name into the search. You can move it later."),
    "dns": ("domains", "Rekordy DNS",
            "Po przeniesieniu domeny ustaw rekordy DNS. Domena działa po kilku godzinach.",
            "DNS records", "After a domain transfer set the DNS records."),
    "haslo": ("account", "Zmiana hasła do panelu",
              "Otwórz Konto, wpisz obecne hasło i nowe hasło dwa razy.",
              "Changing your panel password", "Open Account, type the current password and the new one twice."),
    "poczta": ("email", "Skrzynka pocztowa w telefonie",
               "Dodaj konto IMAP. Hasło do skrzynki ustawisz w panelu.",
               "A mailbox on your phone", "Add an IMAP account. You set the mailbox password in the panel."),
    "faktury": ("billing", "Faktury i płatności",
                "Faktury pobierzesz jako PDF. Zmiana danych do faktury: Konto.",
                "Invoices and payments", "Download invoices as PDF. Changing the invoice details: Account."),
}  # fmt: skip


def write_all(support, articles=ARTICLES):
    for slug, (category, title_pl, body_pl, title_en, body_en) in articles.items():
        versions = {"pl": {"title": title_pl, "body": body_pl}, "en": {"title": title_en, "body": body_en}}
        support.worker.write_article(slug, category, "published", versions, ctx=staff())


def slugs(support, query, language="pl", limit=20):
    return [a["slug"] for a in support.worker.search_articles(query, language, limit)["items"]]


# --- the words: folding, stop words, stems (no database) -------------------------------------------
def test_stems_meet_across_inflected_forms_with_and_without_diacritics():
    def stems(text, language="pl"):
        return kb_search.terms(text, language)[1]

    assert stems("domena domeny domenę domenie domenami domen") == ["domen"]
    assert stems("przenieść przeniesienie PRZENIESC przenieś") == ["przenies"]
    assert stems("hasło hasła hasłem haslo") == ["hasl"]
    assert stems("skrzynka pocztowa poczty") == ["skrzynk", "poczt"]
    assert stems("znaleźć znalezienie") == ["znalez"]
    assert stems("Transferring transfers transferred transfer", "en") == ["transfer"]
    assert stems("invoices invoice", "en") == ["invoic"]
    assert stems("registration", "en") == ["regist"] and "register".startswith(stems("registration", "en")[0])
    assert stems("konfiguracja konfiguracji konfigurować") == ["konfigur"]
    assert stems("rejestracja zarejestrować") == ["rejestr", "zarejestr"]
    assert stems("hosting", "pl") == ["hosting"] and stems("hosting", "en") == ["host"]
    assert stems("dns ssl pl") == ["dns", "ssl", "pl"]  # too short to lose anything
    # every stem begins the word it came from: the article's words are matched by their beginnings
    for word in ("przeniesienie", "domenami", "pocztowej", "rejestracji", "certyfikatu", "znalezienia"):
        assert word.startswith(kb_search.stem(word)), word


def test_stop_words_of_the_page_language_are_left_out():
    assert kb_search.query_words("Jak przenieść domenę?") == ["przeniesc", "domene"]
    assert kb_search.query_words("Czy mogę się zalogować na to konto w telefonie") == [
        "zalogowac",
        "konto",
        "telefonie",
    ]
    assert kb_search.query_words("jak to zrobić, czy się da?") == ["da"]
    assert kb_search.query_words("jak czy w na do się to") == []
    assert kb_search.query_words("How do I transfer my domain to you", "en") == ["transfer", "domain"]
    assert kb_search.query_words("has", "pl") == ["has"] and kb_search.query_words("has", "en") == []
    assert kb_search.query_words("x y z " * 100 + "a b c d e f g h i j k", "pl") == []
    many = " ".join(f"slowo{n:02}" for n in range(20))
    assert len(kb_search.query_words(many)) == kb_search.MAX_QUERY_WORDS


def test_rank_more_words_first_then_title_over_body_then_rare_over_common():
    stems = ["przenies", "domen"]
    holders, total = {"przenies": 2, "domen": 50}, 100

    def key(title, body):
        article = kb_search.index(title, body)
        return kb_search.rank(stems, article, kb_search.found_stems(stems, article), holders, total)

    both_in_title = key("Przeniesienie domeny", "Kod AuthInfo.")
    both_in_body = key("Rekordy DNS", "Po przeniesieniu domeny ustaw DNS.")
    one_in_title = key("Domeny", "Rejestracja domen.")
    rare_in_title = key("Przeniesienie", "Kod AuthInfo.")
    nothing = key("Poczta", "Skrzynka.")
    assert sorted([one_in_title, both_in_body, nothing, rare_in_title, both_in_title]) == [
        both_in_title, both_in_body, rare_in_title, one_in_title, nothing]  # fmt: skip
    assert nothing[0] == 0 and both_in_title[0] == -2
    # the same word found as the title word's own stem beats one it only begins ("konto" vs "kontakt")
    exact = kb_search.rank(["kont"], kb_search.index("Konto", ""), {"kont"}, {"kont": 2}, 10)
    longer = kb_search.rank(["kont"], kb_search.index("Kontakt", ""), {"kont"}, {"kont": 2}, 10)
    assert exact < longer
    assert kb_search.found_stems(["domen", "zzz", "kod"], kb_search.index("Domeny", "Kod")) == {"domen", "kod"}


# --- through the support service (real event store and read model) ---------------------------------
def test_polish_questions_find_the_right_article_first(support):
    write_all(support)
    assert slugs(support, "Jak przenieść domenę")[0] == "transfer"
    assert slugs(support, "jak przeniesc domene?")[0] == "transfer"  # typed without diacritics
    assert slugs(support, "PRZENIESIENIE DOMENY")[0] == "transfer"
    assert slugs(support, "Przeniesienie domeny")[:1] == ["transfer"]  # the browser walks type this
    assert slugs(support, "zmiana hasła")[0] == "haslo"
    assert slugs(support, "Jak zmienić hasło do panelu?")[0] == "haslo"
    assert slugs(support, "faktura")[0] == "faktury"
    assert slugs(support, "skrzynki pocztowej")[0] == "poczta"
    # ranking, not every word required: articles with fewer of the words follow, ones with none do not
    found = slugs(support, "Jak przenieść domenę")
    assert set(found) == {"transfer", "rejestracja", "dns"}, found
    # "haslo" has both words in its title; the other two one word each in the body (equally rare): by title
    assert slugs(support, "zmiana hasła") == ["haslo", "faktury", "poczta"]
    assert slugs(support, "pogoda na jutro") == []
    answer = support.worker.search_articles("Jak przenieść domenę", "pl")
    assert answer["words"] == ["przeniesc", "domene"]
    assert set(answer["items"][0]) == {"slug", "language", "category", "title", "updated_at"}
    assert answer["items"][0]["language"] == "pl" and answer["items"][0]["title"] == "Przeniesienie domeny"


def test_english_questions_and_the_language_follows_the_page(support):
    write_all(support)
    assert slugs(support, "How do I transfer my domain?", "en")[0] == "transfer"
    assert slugs(support, "change password", "en")[0] == "haslo"
    assert slugs(support, "invoice", "en")[0] == "faktury"
    english = support.worker.search_articles("mailbox password", "en")["items"]
    assert english[0]["slug"] == "poczta" and english[0]["title"] == "A mailbox on your phone"
    assert all(a["language"] == "en" for a in english)
    assert slugs(support, "przeniesienie domeny", "en") == []  # Polish words, English articles
    assert slugs(support, "transferu", "pl") == slugs(support, "transfer", "pl") == ["transfer"]


def test_only_stop_words_or_nothing_meaningful_finds_nothing(support):
    write_all(support)
    for query in ("jak czy w na do się", "Jak to?", "  ,.?! ", "a", ""):
        assert support.worker.search_articles(query, "pl") == {"items": [], "words": []}, query
    assert support.worker.search_articles("how to the", "en") == {"items": [], "words": []}
    assert support.worker.search_articles("how to the", "pl")["words"] == ["how", "the"]  # not Polish stop words


def test_drafts_and_withdrawn_articles_are_not_found_and_limit_applies(support):
    write_all(support)
    support.worker.update_article("dns", status="draft", ctx=staff())
    support.worker.withdraw_article("rejestracja", ctx=staff())
    assert slugs(support, "Jak przenieść domenę") == ["transfer"]
    assert len(slugs(support, "konto hasło faktury domena", limit=2)) == 2


def test_an_edited_article_is_searched_as_edited(support):
    """The words read from each article are kept in the process: an edit must be seen at once."""
    write_all(support)
    assert slugs(support, "zmiana hasła")[0] == "haslo"
    assert slugs(support, "uwierzytelnianie") == []
    versions = {"pl": {"title": "Logowanie dwuetapowe", "body": "Uwierzytelnianie dwuskładnikowe w aplikacji."}}
    support.worker.update_article("haslo", versions=versions, ctx=staff())
    assert slugs(support, "uwierzytelnianie") == ["haslo"]
    assert "haslo" not in slugs(support, "zmiana hasła")[:1]
    assert slugs(support, "Jak włączyć logowanie dwuetapowe?")[0] == "haslo"


def test_bad_arguments_at_the_service_name_the_field(support):
    write_all(support)
    for query in (5, None, ["domena"], {"q": "domena"}, "x" * 201):
        with pytest.raises(CommandError) as err:
            support.worker.search_articles(query, "pl")
        assert err.value.fields == {"q": "invalid_query"}, query
    assert slugs(support, "domena", language="de")[0] == "transfer"  # an unknown language reads Polish
    assert slugs(support, "hasło", language=["pl"])[0] == "haslo"
    assert slugs(support, "hasło", limit="many")[0] == "haslo"  # limit falls back to the default
    assert support.worker.search_articles("\udcff hasło \x00", "pl")["words"] == ["haslo"]  # no crash on odd text


def test_a_few_hundred_articles_stay_fast(support):
    """No timing assertion (the machine is shared); prints how many articles and queries, and the time."""
    topics = ["domeny", "hosting", "poczta", "faktury", "konto", "dns", "ssl", "kopie", "bazy danych", "ftp"]
    verbs = ["Konfiguracja", "Zmiana", "Usuwanie", "Przeniesienie", "Odnowienie", "Rejestracja"]
    count, started = 0, time.perf_counter()
    for n in range(300):
        title = f"{verbs[n % len(verbs)]} {topics[n % len(topics)]} {n}"
        body = " ".join(f"Krok {k}: ustaw {topics[(n + k) % len(topics)]} w panelu klienta." for k in range(25))
        support.worker.write_article(f"art-{n}", "hosting", "published", {"pl": {"title": title, "body": body}},
                                     ctx=staff())  # fmt: skip
        count += 1
    write_all(support)
    count += len(ARTICLES)
    written = time.perf_counter() - started
    queries = ["Jak przenieść domenę", "zmiana hasła", "konfiguracja poczty w telefonie", "faktura", "ssl",
               "kopia zapasowa bazy danych", "jak usunąć konto", "odnowienie domeny", "rekordy dns", "ftp hasło"]  # fmt: skip
    took = []
    for _ in range(3):  # the first round reads each article's words once; the others find them kept
        started = time.perf_counter()
        results = [support.worker.search_articles(q, "pl", 20) for q in queries]
        took.append(time.perf_counter() - started)
    print(f"\nkb search: {count} articles (written in {written:.1f} s); {len(queries)} queries a round, "
          f"round 1 {took[0]:.3f} s, rounds 2-3 {took[1]:.3f} s and {took[2]:.3f} s "
          f"({1000 * took[2] / len(queries):.1f} ms a query)")  # fmt: skip
    assert results[0]["items"][0]["slug"] == "transfer" and results[1]["items"][0]["slug"] == "haslo"
    assert all(len(r["items"]) <= 20 for r in results) and len(results[2]["items"]) == 20


# --- through the gateway (the suggestions' endpoint and /help), the real service behind it ------------
@pytest.fixture
def gateway(support, monkeypatch):
    """The gateway app whose RPC calls to support go to the test's real support worker."""
    monkeypatch.setenv("SECRET_KEY", "test")
    from gateway.app import create_app

    def call(service, method, *args, **kwargs):
        assert service == "support", (service, method)
        return getattr(support.worker, method)(*args, **kwargs)

    monkeypatch.setattr(rpc, "call", call)
    write_all(support)
    return create_app().test_client()


def test_suggestions_endpoint_answers_a_natural_question(gateway):
    answer = gateway.get("/api/v1/help/search", query_string={"q": "Jak przenieść domenę", "language": "pl",
                                                                 "limit": "5"})  # fmt: skip
    assert answer.status_code == 200, answer.get_data(as_text=True)
    found = answer.get_json()
    assert found["items"][0]["slug"] == "transfer" and found["words"] == ["przeniesc", "domene"]
    assert len(found["items"]) <= 5
    english = gateway.get("/api/v1/help/search", query_string={"q": "How to change my password?", "language": "en"})
    assert english.get_json()["items"][0] == {**english.get_json()["items"][0], "slug": "haslo", "language": "en"}
    nothing = gateway.get("/api/v1/help/search", query_string={"q": "jak czy się", "language": "pl"})
    assert nothing.status_code == 200 and nothing.get_json() == {"items": [], "words": []}
    page = gateway.get("/help", query_string={"q": "Jak przenieść domenę"})
    assert page.status_code == 200 and 'data-kb="transfer"' in page.get_data(as_text=True)


@pytest.mark.parametrize(("query_string", "field"), [
    ("q=%FF%FEdomena&language=pl", "q"),  # not UTF-8
    ("q=domena%00&language=pl", "q"),  # a control character
    ("q=" + "x" * 201, "q"),  # too long
    ("q=domena&limit=many", "limit"),  # not a number
    ("q=domena&limit=500", "limit"),  # out of range
    ("q=domena&language=de", "language"),  # not a language
])  # fmt: skip
def test_bad_query_at_the_endpoint_is_4xx_naming_the_field(gateway, query_string, field):
    answer = gateway.get(f"/api/v1/help/search?{query_string}")
    assert 400 <= answer.status_code < 500, answer.status_code
    assert field in answer.get_json()["error"]["fields"], answer.get_json()
