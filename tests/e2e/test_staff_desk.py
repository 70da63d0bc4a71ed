"""The staff desk against the whole stack: a staff member made with the operator's command
answers a ticket, publishes news, sets the offer and records a bank transfer; customers
never reach the desk and never see internal notes."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import uuid

import pymongo
import pytest
import requests

from kernel import settings
from tests.e2e.helpers import bearer, csrf, register_verified, unique_email, wait_for
from tests.e2e.test_support_pages import LOG, PNG, customer, login_browser, open_ticket, ticket_id_of
from tools.devstack import ROOT
from tools.seed import mail_text, seed_staff_account, wait_for_mail

STAFF_PASSWORD = "Biurko-Obslugi-2026"


@pytest.fixture(scope="module")
def staff(stack) -> dict[str, str]:
    """A staff account created the way an operator does it: the command, over RPC to the running stack."""
    email = unique_email("staff")
    argv = [sys.executable, "-m", "services.accounts.staff", "create", "--email", email, "--first-name", "Olga",
            "--last-name", "Obsługa"]  # fmt: skip
    created = subprocess.run(argv, env={**stack.environment(), "STAFF_PASSWORD": STAFF_PASSWORD}, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert created.returncode == 0, created.stderr
    login = requests.post(f"{stack.gateway_url}/api/v1/auth/login", json={"email": email, "password": STAFF_PASSWORD},
                          timeout=15)  # fmt: skip
    assert login.status_code == 200, login.text
    return {"email": email, "account_id": login.json()["account_id"]}


def staff_browser(stack, staff) -> requests.Session:
    return login_browser(stack.gateway_url, staff["email"], STAFF_PASSWORD)


def post_form(browser: requests.Session, page_url: str, action_url: str, data: dict, files=None) -> requests.Response:
    """Open the page (for its CSRF token), then post one of its forms."""
    page = browser.get(page_url, timeout=15)
    assert page.status_code == 200, page.text[:300]
    return browser.post(action_url, data={"csrf_token": csrf(page.text), **data}, files=files or [], timeout=30)


def events_of(stack, service: str, stream_id: str | None = None) -> list[dict]:
    """The service's stored events (of one stream, or all), read from its event store."""
    client = pymongo.MongoClient(stack.env["MONGO_URI"])
    query = {"stream_id": stream_id} if stream_id else {}
    commits = client[f"{stack.db_prefix}{service}"]["event_commits"].find(query).sort("position")
    events = [e for commit in commits for e in commit["events"]]
    return [json.loads(e) if isinstance(e, str) else e for e in events]


def clock_now(stack) -> dt.datetime:
    offset = float(stack.clock_file.read_text().strip() or 0)
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=offset)


def test_a_ticket_from_opening_to_closing_with_the_desk_answering(stack, staff):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token, person = customer(stack)
    opened = open_ticket(person, base, files=[("attachments", ("zrzut.png", PNG, "image/png"))])
    ticket_id = ticket_id_of(opened)
    number = re.search(r'<span class="muted">(#\d{6})</span>', opened.text).group(1)
    announced = wait_for_mail(mail_dir, settings.SUPPORT_STAFF_EMAIL, f"Nowe zgłoszenie {number}")
    assert f"/staff/tickets/{ticket_id}" in mail_text(announced)

    desk = staff_browser(stack, staff)
    assert desk.landed.url.rstrip("/").endswith("/staff") and "Kolejka zgłoszeń" in desk.landed.text
    assert f'href="/staff/tickets/{ticket_id}"' in desk.landed.text and "Panel obsługi" in desk.landed.text
    page_url = f"{base}/staff/tickets/{ticket_id}"
    page = desk.get(page_url, timeout=15)
    assert email in page.text and "Od rana strona główna nie działa." in page.text
    [link] = re.findall(rf'href="(/staff/tickets/{ticket_id}/attachments/[0-9a-f]{{32}})"', page.text)
    assert desk.get(f"{base}{link}", timeout=15).content == PNG

    note = f"NOTATKA-WEWNETRZNA-{uuid.uuid4().hex[:8]}"
    noted = post_form(desk, page_url, f"{page_url}/notes", {"note": note})
    assert noted.status_code == 200 and note in noted.text
    urgent = post_form(desk, page_url, f"{page_url}/priority", {"priority": "urgent"})
    assert '<option value="urgent" selected>' in urgent.text
    answer = f"Naprawione, proszę sprawdzić {uuid.uuid4().hex[:6]}."
    answered = post_form(desk, page_url, f"{page_url}/reply", {"message": answer},
                         files=[("attachments", ("poprawka.log", LOG, "text/plain"))])  # fmt: skip
    assert answered.status_code == 200 and answer in answered.text and 'data-status="answered"' in answered.text

    mail = mail_text(wait_for_mail(mail_dir, email, f"Odpowiedź w zgłoszeniu {number}"))
    assert answer in mail and "poprawka.log" in mail and note not in mail
    dashboard = wait_for(lambda: (page := person.get(f"{base}/", timeout=15).text) and 'data-status="answered"' in page
                         and page, what="answered on the dashboard")  # fmt: skip
    assert f'href="/tickets/{ticket_id}"' in dashboard and "Odpowiedziano" in dashboard

    seen = person.get(f"{base}/tickets/{ticket_id}", timeout=15)
    assert answer in seen.text and "poprawka.log" in seen.text and note not in seen.text
    api = requests.get(f"{base}/api/v1/tickets/{ticket_id}", headers=bearer(token), timeout=15)
    assert api.status_code == 200 and note not in api.text and "notes" not in api.json()

    replied = post_form(person, f"{base}/tickets/{ticket_id}", f"{base}/tickets/{ticket_id}/reply",
                        {"message": "Działa, dziękuję!"})  # fmt: skip
    assert 'data-status="customer-reply"' in replied.text
    staff_mail = mail_text(wait_for_mail(mail_dir, settings.SUPPORT_STAFF_EMAIL, f"Odpowiedź klienta w {number}"))
    assert "Działa, dziękuję!" in staff_mail
    closed = post_form(person, f"{base}/tickets/{ticket_id}", f"{base}/tickets/{ticket_id}/close", {})
    assert 'data-status="closed"' in closed.text
    assert (
        requests.get(f"{base}/api/v1/tickets/{ticket_id}", headers=bearer(token), timeout=15).json()["status"]
        == "closed"
    )

    by_type = {e["type"]: e for e in events_of(stack, "support", f"ticket-{ticket_id}")}
    me = {"type": "staff", "id": staff["account_id"]}
    for kind in ("ticket_note_added", "ticket_priority_changed"):
        assert by_type[kind]["meta"]["actor"] == me, kind
    staff_reply = next(e for e in events_of(stack, "support", f"ticket-{ticket_id}")
                       if e["type"] == "ticket_replied" and e["data"]["by"] == "staff")  # fmt: skip
    assert staff_reply["meta"]["actor"] == me


def test_staff_publish_edit_and_withdraw_news_and_set_the_offer(stack, staff):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token, person = customer(stack)
    subscribed = requests.patch(
        f"{base}/api/v1/profile", headers=bearer(token), json={"mailing_list": True}, timeout=15
    )
    assert subscribed.status_code == 200
    desk = staff_browser(stack, staff)
    title = f"Prace serwisowe {uuid.uuid4().hex[:6]}"
    body = "**Ważne**: w nocy przerwa.<script>alert(1)</script>"
    published = post_form(desk, f"{base}/staff/news", f"{base}/staff/news",
                          {"title": title, "body": body, "language": "pl", "concerns_plans": "", "published_at": ""})  # fmt: skip
    assert published.status_code == 200 and title in published.text
    news_id = re.search(r'data-news="([0-9a-f-]{36})"><td class="breakable">' + re.escape(title), published.text).group(
        1
    )

    news_mail = mail_text(wait_for_mail(mail_dir, email, title))
    assert "w nocy przerwa" in news_mail and "/unsubscribe/" in news_mail
    # the dashboard is the gateway's view, fed by events: a change made elsewhere shows within a second or so
    wait_for(lambda: f'href="/news/{news_id}"' in person.get(f"{base}/", timeout=15).text, timeout=10,
             what="the news on the dashboard")  # fmt: skip
    assert title in person.get(f"{base}/", timeout=15).text
    item = person.get(f"{base}/news/{news_id}", timeout=15)
    assert "<strong>Ważne</strong>" in item.text and "<script>alert" not in item.text
    assert title in person.get(f"{base}/news", timeout=15).text

    refused = post_form(desk, f"{base}/staff/news/{news_id}", f"{base}/staff/news/{news_id}",
                        {"title": "", "body": "Nowa treść", "language": "pl", "concerns_plans": "", "published_at": ""})  # fmt: skip
    assert (
        refused.status_code == 422
        and "To pole jest wymagane." in refused.text
        and "Nowa treść</textarea>" in refused.text
    )
    edited = post_form(desk, f"{base}/staff/news/{news_id}", f"{base}/staff/news/{news_id}",
                       {"title": f"{title} (zmiana)", "body": body, "language": "pl", "concerns_plans": "",
                        "published_at": ""})  # fmt: skip
    assert edited.status_code == 200 and f"{title} (zmiana)" in person.get(f"{base}/news/{news_id}", timeout=15).text

    now = clock_now(stack)
    offer = {"title": f"Promocja {uuid.uuid4().hex[:6]}", "text": "Hosting taniej o 20%", "link": "/order",
             "starts_at": (now + dt.timedelta(days=2)).isoformat(timespec="minutes"),
             "ends_at": (now + dt.timedelta(days=1)).isoformat(timespec="minutes"), "discount_code": "",
             "discount_percent": ""}  # fmt: skip
    wrong = post_form(desk, f"{base}/staff/offer", f"{base}/staff/offer", offer)
    assert wrong.status_code == 422 and "Koniec musi być po początku." in wrong.text and offer["title"] in wrong.text
    offer["starts_at"] = (now - dt.timedelta(hours=1)).isoformat(timespec="minutes")
    offer["ends_at"] = (now + dt.timedelta(days=30)).isoformat(timespec="minutes")
    saved = post_form(desk, f"{base}/staff/offer", f"{base}/staff/offer", offer)
    assert saved.status_code == 200 and "Oferta ustawiona." in saved.text
    dashboard = wait_for(lambda: offer["title"] in (text := person.get(f"{base}/", timeout=15).text) and text,
                         timeout=10, what="the offer on the dashboard")  # fmt: skip
    assert "Hosting taniej o 20%" in dashboard and f'href="/news/{news_id}"' in dashboard
    [offer_event] = [e for e in events_of(stack, "billing", "offer") if e["data"]["title"] == offer["title"]]
    assert offer_event["meta"]["actor"] == {"type": "staff", "id": staff["account_id"]}

    withdrawn = post_form(desk, f"{base}/staff/news", f"{base}/staff/news/{news_id}/withdraw", {})
    assert "Wiadomość wycofana." in withdrawn.text
    assert person.get(f"{base}/news/{news_id}", timeout=15).status_code == 404
    wait_for(lambda: f'href="/news/{news_id}"' not in person.get(f"{base}/", timeout=15).text, timeout=10,
             what="the withdrawn news gone from the dashboard")  # fmt: skip


def test_staff_set_the_offer_in_both_languages_and_each_customer_sees_their_own(stack, staff):
    base = stack.gateway_url
    _, _, polish = customer(stack, "pl")
    _, _, english = customer(stack, "en")
    desk = staff_browser(stack, staff)
    now, tag = clock_now(stack), uuid.uuid4().hex[:6]
    offer = {"title": f"Promocja {tag}", "text": "Hosting taniej o 20%", "title_en": "",
             "text_en": "Hosting 20% cheaper", "link": "/order",
             "starts_at": (now - dt.timedelta(hours=1)).isoformat(timespec="minutes"),
             "ends_at": (now + dt.timedelta(days=30)).isoformat(timespec="minutes"), "discount_code": "",
             "discount_percent": ""}  # fmt: skip
    form = desk.get(f"{base}/staff/offer", timeout=15).text
    for name in ("title_en", "text_en"):  # two labelled fields
        assert re.search(rf'<label for="f-{name}">[^<]+</label>\s*<input id="f-{name}" name="{name}"', form), name
    wrong = post_form(desk, f"{base}/staff/offer", f"{base}/staff/offer", offer)  # English text, no English title
    assert wrong.status_code == 422
    assert '<p class="error" id="e-title_en">Podaj tytuł po angielsku, skoro jest tekst po angielsku.</p>' in wrong.text
    assert 'value="Hosting 20% cheaper"' in wrong.text and f'value="{offer["title"]}"' in wrong.text  # kept

    offer["title_en"] = f"Sale {tag}"
    saved = post_form(desk, f"{base}/staff/offer", f"{base}/staff/offer", offer)
    assert saved.status_code == 200 and "Oferta ustawiona." in saved.text and f"Sale {tag}" in saved.text
    [event] = [e for e in events_of(stack, "billing", "offer") if e["data"]["title"] == offer["title"]]
    assert (event["data"]["title_en"], event["data"]["text_en"]) == (f"Sale {tag}", "Hosting 20% cheaper")

    seen = {}
    for who, browser, expected in (("pl", polish, offer["title"]), ("en", english, f"Sale {tag}")):
        page = wait_for(lambda b=browser, e=expected: e in (text := b.get(f"{base}/", timeout=15).text) and text,
                        what=f"the offer for {who}")  # fmt: skip
        [seen[who]] = re.findall(r"<section[^>]*data-section=\"offer\"[^>]*>.*?</section>", page, re.S)
    assert offer["title"] in seen["pl"] and "Hosting taniej o 20%" in seen["pl"] and f"Sale {tag}" not in seen["pl"]
    assert f"Sale {tag}" in seen["en"] and "Hosting 20% cheaper" in seen["en"] and offer["title"] not in seen["en"]
    assert re.search(r'<a class="[^"]*offer-link[^"]*" href="/order">Sprawdź ofertę</a>', seen["pl"])
    assert re.search(r'<a class="[^"]*offer-link[^"]*" href="/order">See the offer</a>', seen["en"])
    assert ">/order<" not in seen["pl"] + seen["en"]


def test_a_bank_transfer_marked_paid_by_staff_activates_the_service(stack, staff):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=15,
                          json={"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}})  # fmt: skip
    assert added.status_code == 201, added.text
    placed = requests.post(f"{base}/api/v1/cart/checkout", json={"payment_method": "bank_transfer"}, timeout=30,
                           headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    assert placed.status_code == 200, placed.text
    invoice_id = placed.json()["invoice_id"]

    def unpaid() -> dict | None:
        items = requests.get(f"{base}/api/v1/invoices", headers=bearer(token), params={"status": "unpaid"},
                             timeout=15).json()["items"]  # fmt: skip
        return next((i for i in items if i["invoice_id"] == invoice_id and i["number"]), None)

    number = wait_for(unpaid, what="the unpaid invoice")["number"]
    desk = staff_browser(stack, staff)
    found = desk.get(f"{base}/staff/customers", params={"q": email.upper()}, timeout=15)
    account_id = re.search(r'data-account="([^"]+)"', found.text).group(1)
    page_url = f"{base}/staff/customers/{account_id}"
    assert number in desk.get(page_url, timeout=15).text
    paid = post_form(desk, page_url, f"{page_url}/invoices/{invoice_id}/paid", {"reference": "PRZELEW 123"})
    assert paid.status_code == 200 and f"Faktura {number} oznaczona jako opłacona." in paid.text

    def active() -> list:
        services = requests.get(f"{base}/api/v1/services", headers=bearer(token), timeout=15).json()["items"]
        return [s for s in services if s["status"] == "active"]

    [service] = wait_for(active, what="the service activated")
    detail = requests.get(f"{base}/api/v1/invoices/{invoice_id}", headers=bearer(token), timeout=15).json()
    assert detail["status"] == "paid"
    [payment] = [e for e in events_of(stack, "billing", f"customer-{account_id}") if e["type"] == "payment_received"]
    assert payment["meta"]["actor"] == {"type": "staff", "id": staff["account_id"]}
    again = post_form(desk, page_url, f"{page_url}/invoices/{invoice_id}/paid", {})
    assert again.status_code == 404  # no longer an unpaid invoice of this customer

    # the customer can now say which service a ticket is about (only their own are offered)
    person = login_browser(base, email)
    form = person.get(f"{base}/tickets/new", timeout=15)
    assert f'value="service:{service["service_id"]}"' in form.text
    opened = open_ticket(person, base, related=f"service:{service['service_id']}")
    assert f"Usługa: {service['name']}" in opened.text


def test_customers_never_reach_the_desk(stack, staff):
    base = stack.gateway_url
    _, _, person = customer(stack)
    dashboard = person.get(f"{base}/", timeout=15)
    assert "Panel obsługi" not in dashboard.text
    token = csrf(dashboard.text)
    for path in ("/staff/", "/staff/news", "/staff/offer", "/staff/customers?q=a", f"/staff/customers/{staff['account_id']}",
                 "/staff/tickets/anything"):  # fmt: skip
        response = person.get(f"{base}{path}", timeout=15)
        assert response.status_code == 404 and "Kolejka zgłoszeń" not in response.text, path
    for path, data in (("/staff/offer", {"title": "Hack", "starts_at": "2026-01-01T00:00", "ends_at": "2030-01-01T00:00"}),
                       ("/staff/news", {"title": "Hack", "body": "x", "language": "pl"})):  # fmt: skip
        assert person.post(f"{base}{path}", data={"csrf_token": token, **data}, timeout=15).status_code == 404, path
    anonymous = requests.get(f"{base}/staff/", allow_redirects=False, timeout=15)
    assert anonymous.status_code == 302 and "/login?next=/staff/" in anonymous.headers["Location"]
    desk = staff_browser(stack, staff)
    short = desk.get(f"{base}/staff/customers", params={"q": "a"}, timeout=15)
    assert "Wpisz co najmniej 2 znaki." in short.text


def test_an_english_customer_gets_english_pages_and_mail_and_the_queue_filters(stack, staff):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, _, person = customer(stack, language="en")
    form = person.get(f"{base}/tickets/new", timeout=15)
    assert "New ticket" in form.text and "Department" in form.text
    data = {"csrf_token": csrf(form.text), "department": "sales", "priority": "low", "subject": "Offer question",
            "message": "Do you have a discount?", "related": ""}  # fmt: skip
    ticket_id = ticket_id_of(person.post(f"{base}/tickets/new", data=data, timeout=15))

    desk = staff_browser(stack, staff)
    listed = f'href="/staff/tickets/{ticket_id}"'
    assert listed in desk.get(f"{base}/staff/", params={"department": "sales"}, timeout=15).text
    assert listed not in desk.get(f"{base}/staff/", params={"department": "billing"}, timeout=15).text
    assert listed not in desk.get(f"{base}/staff/", params={"status": "closed"}, timeout=15).text
    page_url = f"{base}/staff/tickets/{ticket_id}"
    post_form(desk, page_url, f"{page_url}/status", {"status": "in_progress"})
    assert listed in desk.get(f"{base}/staff/", params={"status": "in_progress"}, timeout=15).text
    empty = post_form(desk, page_url, f"{page_url}/reply", {"message": "  "})
    assert empty.status_code == 422 and "To pole jest wymagane." in empty.text  # the desk speaks the staff's language
    post_form(desk, page_url, f"{page_url}/reply", {"message": "Yes: 20% off this month."})
    mail = wait_for_mail(mail_dir, email, "Reply to ticket")
    assert "Yes: 20% off this month." in mail_text(mail)
    assert 'data-status="answered"' in person.get(f"{base}/tickets/{ticket_id}", timeout=15).text


def test_make_up_seeds_a_staff_login_once(stack):
    base, email = stack.gateway_url, unique_email("seeded-staff")
    for _ in range(2):  # a second `make up` finds the login working and creates nothing
        seed_staff_account(base, email, STAFF_PASSWORD, stack.environment(), ROOT)
    browser = login_browser(base, email, STAFF_PASSWORD)
    assert browser.landed.url.rstrip("/").endswith("/staff")
    registered = [e for e in events_of(stack, "accounts") if e["type"] == "account_registered"
                  and e["data"]["email"] == email]  # fmt: skip
    assert len(registered) == 1 and registered[0]["data"]["role"] == "staff"
