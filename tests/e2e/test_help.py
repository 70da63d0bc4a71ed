"""The knowledge base through the whole stack (issue #18): the default guide seeded once, /help and
/help/<slug> for everybody in both languages, the search (pages and /api/v1/help/search), staff writing
through the desk and the API, the new-ticket form's suggestions and section 10's link to the guide."""

from __future__ import annotations

import pytest
import requests

from kernel.caller import rpc_proxy
from tests.e2e.helpers import bearer, csrf, unique_email
from tests.e2e.test_staff_desk import STAFF_PASSWORD
from tests.e2e.test_staff_desk import staff as staff  # noqa: F401 (a fixture)
from tests.e2e.test_support_pages import customer, login_browser

GUIDE = "rejestracja-i-transfer-domen"


@pytest.fixture(scope="module")
def seeded(stack) -> list[dict]:
    """The default articles, seeded twice the way `make up` does it: written once."""
    with rpc_proxy(stack.environment()["AMQP_URI"], {"type": "system", "id": "seed"}, timeout=30) as cluster:
        return [cluster.support.seed_help_articles(), cluster.support.seed_help_articles()]


def test_the_guide_is_seeded_once_and_read_by_anybody_in_both_languages(stack, seeded):
    assert seeded[1] == {"added": 0} and seeded[0]["added"] in (0, 1)
    base = stack.gateway_url
    listed = requests.get(f"{base}/help", timeout=15)  # nobody logged in
    assert listed.status_code == 200 and f'href="/help/{GUIDE}"' in listed.text
    assert "Rejestracja i przeniesienie domeny" in listed.text and "Domeny" in listed.text
    page = requests.get(f"{base}/help/{GUIDE}", timeout=15)
    assert page.status_code == 200 and "<strong>kod AuthInfo</strong>" in page.text
    english = requests.get(f"{base}/help/{GUIDE}", cookies={"lang": "en"}, timeout=15)
    assert "Registering and transferring a domain" in english.text and "Rejestracja i" not in english.text
    assert requests.get(f"{base}/help/no-such-article", timeout=15).status_code == 404


def test_search_on_the_page_and_through_the_api(stack, seeded):
    base = stack.gateway_url
    page = requests.get(f"{base}/help", params={"q": "PRZENIESIENIE domen"}, timeout=15)
    assert page.status_code == 200 and "data-kb-results" in page.text and f'data-kb="{GUIDE}"' in page.text
    nothing = requests.get(f"{base}/help", params={"q": "pogoda jutro"}, timeout=15)
    assert "data-kb-results" in nothing.text and 'href="/tickets/new"' in nothing.text
    found = requests.get(f"{base}/api/v1/help/search", params={"q": "zółw transfer", "language": "pl"}, timeout=15)
    assert found.status_code == 200, found.text
    assert found.json()["words"] == ["zolw", "transfer"] and found.json()["items"][0]["slug"] == GUIDE
    english = requests.get(f"{base}/api/v1/help/search", params={"q": "transferring", "language": "en"}, timeout=15)
    assert english.json()["items"][0]["title"] == "Registering and transferring a domain"
    too_long = requests.get(f"{base}/api/v1/help/search", params={"q": "x" * 201}, timeout=15)
    assert too_long.status_code == 422 and "q" in too_long.json()["error"]["fields"]
    wrong = requests.get(f"{base}/api/v1/help", params={"category": "weather"}, timeout=15)
    assert wrong.status_code == 422 and "category" in wrong.json()["error"]["fields"]
    listed = requests.get(f"{base}/api/v1/help", params={"category": "domains", "language": "pl"}, timeout=15).json()
    assert (
        GUIDE in [a["slug"] for a in listed["items"]]
        and {"category": "domains"}.items() <= listed["categories"][0].items()
    )
    document = requests.get(f"{base}/api/v1/openapi.json", timeout=15).json()
    assert document["paths"]["/help/search"]["get"]["security"] == []
    assert "KbArticle" in document["components"]["schemas"]


def test_staff_write_through_the_api_customers_cannot(stack, staff):
    base, slug = stack.gateway_url, unique_email("kb").split("@")[0].replace(".", "-").replace("_", "-").lower()
    body = {"slug": slug, "category": "email", "status": "draft",
            "versions": {"pl": {"title": "Skrzynka pocztowa w Thunderbirdzie", "body": "Ustaw **IMAP**."}}}  # fmt: skip
    _, token, _ = customer(stack)
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": staff["email"], "password": STAFF_PASSWORD},
                          timeout=15)  # fmt: skip
    staff = {**staff, "token": login.json()["token"]}
    assert requests.post(f"{base}/api/v1/help", json=body, headers=bearer(token), timeout=15).status_code == 404
    bad = requests.post(f"{base}/api/v1/help", json={**body, "slug": 7, "category": None}, headers=bearer(staff["token"]),
                        timeout=15)  # fmt: skip
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) >= {"category"}
    made = requests.post(f"{base}/api/v1/help", json=body, headers=bearer(staff["token"]), timeout=15)
    assert made.status_code == 201, made.text
    assert requests.get(f"{base}/api/v1/help/{slug}", timeout=15).status_code == 404  # a draft
    published = requests.patch(f"{base}/api/v1/help/{slug}", json={"status": "published"}, headers=bearer(staff["token"]),
                               timeout=15)  # fmt: skip
    assert published.status_code == 200 and published.json()["status"] == "published"
    found = requests.get(f"{base}/api/v1/help/search", params={"q": "thunderbird", "language": "pl"}, timeout=15).json()
    assert [a["slug"] for a in found["items"]] == [slug]
    taken = requests.post(f"{base}/api/v1/help", json=body, headers=bearer(staff["token"]), timeout=15)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "kb_slug_taken"
    gone = requests.post(f"{base}/api/v1/help/{slug}/withdraw", headers=bearer(staff["token"]), timeout=15)
    assert gone.status_code == 200 and requests.get(f"{base}/api/v1/help/{slug}", timeout=15).status_code == 404


def test_staff_desk_shows_every_error_at_once_then_publishes(stack, staff):
    base = stack.gateway_url
    desk = login_browser(base, staff["email"], STAFF_PASSWORD)
    page = desk.get(f"{base}/staff/help", timeout=15)
    assert page.status_code == 200
    form = {"csrf_token": csrf(page.text), "slug": "Zła nazwa", "category": "domains", "status": "published",
            "title_pl": "", "body_pl": "", "title_en": "Only English title", "body_en": ""}  # fmt: skip
    refused = desk.post(f"{base}/staff/help", data=form, timeout=15)
    assert refused.status_code == 422
    for field in ("slug",):
        assert f'id="e-{field}"' in refused.text
    assert 'value="Only English title"' in refused.text  # what was typed is kept
    slug = unique_email("desk").split("@")[0].replace(".", "-").replace("_", "-").lower()
    form.update(slug=slug)
    refused = desk.post(f"{base}/staff/help", data=form, timeout=15)
    assert refused.status_code == 422
    assert all(f'id="e-{field}"' in refused.text for field in ("title_pl", "body_pl", "body_en"))
    form.update(title_pl="Poczta na telefonie", body_pl="Dodaj konto **IMAP**.", body_en="Add an IMAP account.")
    saved = desk.post(f"{base}/staff/help", data=form, timeout=15)
    assert saved.status_code == 200 and f'data-kb="{slug}"' in saved.text
    public = requests.get(f"{base}/help/{slug}", timeout=15)
    assert public.status_code == 200 and "<strong>IMAP</strong>" in public.text
    edit = desk.get(f"{base}/staff/help/{slug}", timeout=15)
    changed = desk.post(f"{base}/staff/help/{slug}", data={**form, "csrf_token": csrf(edit.text), "status": "draft"},
                        timeout=15)  # fmt: skip
    assert changed.status_code == 200 and requests.get(f"{base}/help/{slug}", timeout=15).status_code == 404
    _, _, browser = customer(stack)
    assert browser.get(f"{base}/staff/help", timeout=15).status_code == 404


def test_new_ticket_form_suggests_articles_and_section_10_links_the_guide(stack, seeded):
    base = stack.gateway_url
    _, _, browser = customer(stack)
    form = browser.get(f"{base}/tickets/new", timeout=15)
    assert "data-kb-suggest" in form.text and 'data-url="/api/v1/help/search"' in form.text
    assert 'href="/help"' in form.text  # the way without JavaScript
    script = browser.get(f"{base}/static/help-suggest.js", timeout=15)
    assert script.status_code == 200 and "/help/" in script.text
    dashboard = browser.get(f"{base}/", timeout=15)
    assert f'href="/help/{GUIDE}"' in dashboard.text
