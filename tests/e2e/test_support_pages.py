"""Support pages as a person uses them (session cookie + CSRF): tickets with attachments, news.

Attachments are served only to their owner, always as downloads; a refused file
keeps what the person typed.
"""

from __future__ import annotations

import re

import requests

from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, wait_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
LOG = b"2026-05-01 12:00:01 ERROR 500 /index.php\n"
TICKET_LINK = re.compile(r'href="/tickets/([0-9a-f-]{36})"')


def login_browser(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A browser-like session logged in through the login page; the final response is kept as `.landed`."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=15)
    landed = browser.post(f"{base}/login", data={"csrf_token": csrf(page.text), "email": email, "password": password},
                          timeout=15)  # fmt: skip
    assert landed.status_code == 200, landed.text[:500]
    browser.landed = landed
    return browser


def customer(stack, language: str = "pl") -> tuple[str, str, requests.Session]:
    """A verified customer: (email, API token, logged-in browser)."""
    email, token = register_verified(stack.gateway_url, stack.var / "mail", language=language)
    return email, token, login_browser(stack.gateway_url, email)


def open_ticket(browser: requests.Session, base: str, files: list | None = None, **fields) -> requests.Response:
    form = browser.get(f"{base}/tickets/new", timeout=15)
    assert form.status_code == 200, form.text[:500]
    data = {"csrf_token": csrf(form.text), "department": "technical", "priority": "high",
            "subject": "Strona zwraca błąd 500", "message": "Od rana strona główna nie działa.", "related": "", **fields}  # fmt: skip
    return browser.post(f"{base}/tickets/new", data=data, files=files or [], timeout=30)


def ticket_id_of(response: requests.Response) -> str:
    match = re.search(r"/tickets/([0-9a-f-]{36})$", response.url)
    assert match, f"not on a ticket page: {response.url}"
    return match.group(1)


def test_a_customer_opens_a_ticket_with_two_attachments_and_downloads_them(stack):
    base = stack.gateway_url
    _, token, browser = customer(stack)
    files = [("attachments", ("zrzut ekranu.png", PNG, "image/png")), ("attachments", ("błąd.log", LOG, "text/plain"))]
    opened = open_ticket(browser, base, files=files)
    assert opened.status_code == 200, opened.text[:500]
    ticket_id = ticket_id_of(opened)
    assert "Strona zwraca błąd 500" in opened.text and "Od rana strona główna nie działa." in opened.text
    assert 'data-status="open"' in opened.text
    links = re.findall(rf'href="(/tickets/{ticket_id}/attachments/[0-9a-f]{{32}})"', opened.text)
    assert len(links) == 2 and "zrzut ekranu.png" in opened.text and "błąd.log" in opened.text

    downloads = [browser.get(f"{base}{link}", timeout=15) for link in links]
    assert sorted(d.content for d in downloads) == sorted([PNG, LOG])
    for download in downloads:
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in download.headers["Content-Security-Policy"]
    png = next(d for d in downloads if d.content == PNG)
    assert png.headers["Content-Type"] == "image/png" and "zrzut%20ekranu.png" in png.headers["Content-Disposition"]

    # the same ticket through the API: the attachments are there and downloadable with the token
    api_ticket = requests.get(f"{base}/api/v1/tickets/{ticket_id}", headers=bearer(token), timeout=15).json()
    [first] = api_ticket["messages"]
    assert sorted(a["filename"] for a in first["attachments"]) == ["błąd.log", "zrzut ekranu.png"]
    attachment_id = next(a["attachment_id"] for a in first["attachments"] if a["filename"] == "błąd.log")
    via_api = requests.get(f"{base}/api/v1/tickets/{ticket_id}/attachments/{attachment_id}", headers=bearer(token),
                           timeout=15)  # fmt: skip
    assert via_api.status_code == 200 and via_api.content == LOG


def test_reply_close_and_reopen_by_replying(stack):
    base = stack.gateway_url
    _, _, browser = customer(stack)
    ticket_id = ticket_id_of(open_ticket(browser, base))
    page = browser.get(f"{base}/tickets/{ticket_id}", timeout=15)
    replied = browser.post(f"{base}/tickets/{ticket_id}/reply", data={"csrf_token": csrf(page.text),
                           "message": "Dodaję log z serwera."}, files=[("attachments", ("serwer.log", LOG, "text/plain"))],
                           timeout=15)  # fmt: skip
    assert replied.status_code == 200 and "Dodaję log z serwera." in replied.text and "serwer.log" in replied.text
    closed = browser.post(f"{base}/tickets/{ticket_id}/close", data={"csrf_token": csrf(replied.text)}, timeout=15)
    assert 'data-status="closed"' in closed.text and "Odpowiedź otworzy je ponownie" in closed.text
    reopened = browser.post(f"{base}/tickets/{ticket_id}/reply", timeout=15,
                            data={"csrf_token": csrf(closed.text), "message": "Jednak nadal nie działa."})  # fmt: skip
    assert reopened.status_code == 200 and 'data-status="customer-reply"' in reopened.text
    no_csrf = browser.post(f"{base}/tickets/{ticket_id}/close", data={}, timeout=15)
    assert no_csrf.status_code == 400


def test_a_forbidden_or_too_large_attachment_is_refused_and_the_typed_text_kept(stack):
    base = stack.gateway_url
    _, token, browser = customer(stack)
    typed = {"subject": "Faktura z błędem", "message": "Proszę o korektę faktury — treść zostaje."}
    exe = open_ticket(browser, base, files=[("attachments", ("program.exe", b"MZ\x90\x00" + bytes(60), "application/x-msdownload"))], **typed)  # fmt: skip
    assert exe.status_code == 422
    assert "program.exe: Niedozwolony typ pliku" in exe.text and "dołącz pliki ponownie" in exe.text
    assert 'value="Faktura z błędem"' in exe.text and "Proszę o korektę faktury — treść zostaje.</textarea>" in exe.text
    big = open_ticket(browser, base, files=[("attachments", ("duzy.txt", b"a" * (5 * 1024 * 1024 + 1), "text/plain"))],
                      **typed)  # fmt: skip
    assert big.status_code == 422 and "duzy.txt: Plik jest za duży" in big.text
    assert "Proszę o korektę faktury — treść zostaje.</textarea>" in big.text
    fake = open_ticket(browser, base, files=[("attachments", ("obraz.png", b"<html><script>", "image/png"))], **typed)
    assert fake.status_code == 422 and "nie zgadza się z jego rozszerzeniem" in fake.text
    listed = requests.get(f"{base}/api/v1/tickets", headers=bearer(token), timeout=15).json()
    assert listed["total"] == 0  # nothing half-written

    ticket_id = ticket_id_of(open_ticket(browser, base))
    page = browser.get(f"{base}/tickets/{ticket_id}", timeout=15)
    refused = browser.post(f"{base}/tickets/{ticket_id}/reply", timeout=15, files=[("attachments", ("x.html", b"<b>", "text/html"))],
                           data={"csrf_token": csrf(page.text), "message": "Odpowiedź do zachowania"})  # fmt: skip
    assert refused.status_code == 422 and "Odpowiedź do zachowania</textarea>" in refused.text
    assert "x.html: Niedozwolony typ pliku" in refused.text


def test_another_accounts_ticket_and_attachment_are_not_found(stack):
    base = stack.gateway_url
    _, _, owner = customer(stack)
    _, stranger_token, stranger = customer(stack)
    opened = open_ticket(owner, base, files=[("attachments", ("tajne.png", PNG, "image/png"))])
    ticket_id = ticket_id_of(opened)
    [link] = re.findall(rf'href="(/tickets/{ticket_id}/attachments/[0-9a-f]{{32}})"', opened.text)
    assert owner.get(f"{base}{link}", timeout=15).content == PNG
    page = stranger.get(f"{base}/tickets", timeout=15)
    assert stranger.get(f"{base}/tickets/{ticket_id}", timeout=15).status_code == 404
    assert stranger.get(f"{base}{link}", timeout=15).status_code == 404
    assert requests.get(f"{base}/api/v1{link}", headers=bearer(stranger_token), timeout=15).status_code == 404
    for action, data in (("reply", {"message": "cudze"}), ("close", {})):
        response = stranger.post(f"{base}/tickets/{ticket_id}/{action}", data={"csrf_token": csrf(page.text), **data},
                                 timeout=15)  # fmt: skip
        assert response.status_code == 404, action
    assert ticket_id not in stranger.get(f"{base}/tickets", timeout=15).text
    assert 'data-status="open"' in owner.get(f"{base}/tickets/{ticket_id}", timeout=15).text
    anonymous = requests.get(f"{base}{link}", allow_redirects=False, timeout=15)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_list_filters_by_status_and_department_and_pages(stack):
    base = stack.gateway_url
    _, token, browser = customer(stack)

    def api_open(department: str, subject: str) -> str:
        body = {"department": department, "priority": "low", "subject": subject, "message": "Treść"}
        return requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json=body, timeout=15).json()["ticket_id"]

    billing_id = api_open("billing", "Pytanie o fakturę")
    sales_id = api_open("sales", "Pytanie o ofertę")
    requests.post(f"{base}/api/v1/tickets/{sales_id}/close", headers=bearer(token), timeout=15)
    technical = [api_open("technical", f"Sprawa techniczna {n}") for n in range(20)]

    def listed(**params) -> set[str]:
        return set(TICKET_LINK.findall(browser.get(f"{base}/tickets", params=params, timeout=15).text))

    assert listed(department="billing") == {billing_id}
    assert listed(status="closed") == {sales_id}
    assert listed(status="active", department="sales") == set()
    assert listed(status="active", department="billing") == {billing_id}
    assert "Razem: 21" in browser.get(f"{base}/tickets", params={"status": "active"}, timeout=15).text
    first, second = listed(), listed(page="2")
    assert len(first) == 20 and len(second) == 2 and not first & second
    assert first | second == {billing_id, sales_id, *technical}
    assert "Strona 1 z 2" in browser.get(f"{base}/tickets", timeout=15).text
    dashboard = browser.get(f"{base}/", timeout=15).text
    assert 'href="/tickets?status=active"' in dashboard


def test_a_related_service_must_be_the_customers_own(stack):
    base = stack.gateway_url
    _, token, browser = customer(stack)
    refused = open_ticket(browser, base, related="service:someone-elses-service")
    assert refused.status_code == 422 and "Wybierz jedną ze swoich usług lub domen." in refused.text
    assert requests.get(f"{base}/api/v1/tickets", headers=bearer(token), timeout=15).json()["total"] == 0


def test_the_api_takes_reply_attachments_as_multipart_and_documents_it(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    body = {"department": "technical", "priority": "low", "subject": "API", "message": "Pierwsza"}
    opened = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), data=body, timeout=15,
                           files=[("attachments", ("ekran.png", PNG, "image/png"))])  # fmt: skip
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    assert [a["filename"] for a in opened.json()["messages"][0]["attachments"]] == ["ekran.png"]
    by_department = requests.get(f"{base}/api/v1/tickets", headers=bearer(token), params={"department": "sales"},
                                 timeout=15)  # fmt: skip
    assert by_department.status_code == 200 and by_department.json()["total"] == 0
    replied = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(token), timeout=15,
                            data={"message": "Z plikiem"}, files=[("attachments", ("log.txt", LOG, "text/plain"))])  # fmt: skip
    assert replied.status_code == 201, replied.text
    last = replied.json()["messages"][-1]
    assert last["text"] == "Z plikiem" and [a["filename"] for a in last["attachments"]] == ["log.txt"]
    refused = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(token), timeout=15,
                            data={"message": "Zły"}, files=[("attachments", ("a.exe", b"MZ", "application/x-msdownload"))])  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"]["attachments.0"]["code"] == "attachment_type_not_allowed"
    missing = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(token), timeout=15,
                            files=[("attachments", ("log.txt", LOG, "text/plain"))])  # fmt: skip
    assert missing.status_code == 422 and missing.json()["error"]["fields"]["message"]["code"] == "required"
    plain = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(token), timeout=15,
                          json={"message": "Bez pliku"})  # fmt: skip
    assert plain.status_code == 201 and len(plain.json()["messages"]) == 3

    paths = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()["paths"]
    for path in ("/tickets", "/tickets/{ticket_id}/replies"):
        content = paths[path]["post"]["requestBody"]["content"]
        assert {"application/json", "multipart/form-data"} <= set(content), path
        assert content["multipart/form-data"]["schema"]["properties"]["attachments"]["items"]["format"] == "binary"


def test_news_pages_need_a_login(stack):
    base = stack.gateway_url
    for path in ("/news", "/news/anything", "/tickets", "/tickets/new"):
        response = requests.get(f"{base}{path}", allow_redirects=False, timeout=15)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    _, _, browser = customer(stack)
    assert browser.get(f"{base}/news", timeout=15).status_code == 200
    assert browser.get(f"{base}/news/not-a-news-id", timeout=15).status_code == 404
    wait_for(lambda: browser.get(f"{base}/tickets/new", timeout=15).status_code == 200, what="the new ticket form")
