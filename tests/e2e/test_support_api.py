"""Support through the JSON API: tickets scoped to their account, news, the tickets tile."""

from __future__ import annotations

import re
import uuid

import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import bearer, csrf, register_verified, wait_for
from tests.e2e.test_support_pages import login_browser

TICKET = {"department": "technical", "priority": "high", "subject": "Strona nie działa", "message": "Błąd 500 od rana."}


def _open(base: str, token: str, **changes) -> requests.Response:
    return requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json={**TICKET, **changes}, timeout=15)


def _get(base: str, token: str, path: str, **kwargs) -> requests.Response:
    return requests.get(f"{base}/api/v1{path}", headers=bearer(token), timeout=15, **kwargs)


def _listed_ids(base: str, token: str) -> list[str]:
    listed = _get(base, token, "/tickets")
    assert listed.status_code == 200, listed.text
    return [t["ticket_id"] for t in listed.json()["items"]]


def test_open_list_get_reply_and_close_a_ticket(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    opened = _open(base, token)
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    ticket_id = ticket["ticket_id"]
    assert ticket["subject"] == TICKET["subject"] and ticket["status"] != "closed"
    wait_for(lambda: ticket_id in _listed_ids(base, token), what="the ticket in the list")

    got = _get(base, token, f"/tickets/{ticket_id}")
    assert got.status_code == 200 and got.json()["number"] == ticket["number"]
    assert [m["text"] for m in got.json()["messages"]] == [TICKET["message"]]

    replied = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(token), timeout=15,
                            json={"message": "Nadal nie działa."})  # fmt: skip
    assert replied.status_code == 201, replied.text
    assert len(replied.json()["messages"]) == 2

    closed = requests.post(f"{base}/api/v1/tickets/{ticket_id}/close", headers=bearer(token), timeout=15)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert _get(base, token, f"/tickets/{ticket_id}").json()["status"] == "closed"


def test_another_accounts_ticket_is_not_found(stack):
    base = stack.gateway_url
    _, owner = register_verified(base, stack.var / "mail")
    _, stranger = register_verified(base, stack.var / "mail")
    ticket_id = _open(base, owner).json()["ticket_id"]
    assert _get(base, stranger, f"/tickets/{ticket_id}").status_code == 404
    reply = requests.post(f"{base}/api/v1/tickets/{ticket_id}/replies", headers=bearer(stranger), timeout=15,
                          json={"message": "Cudzy"})  # fmt: skip
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"
    close = requests.post(f"{base}/api/v1/tickets/{ticket_id}/close", headers=bearer(stranger), timeout=15)
    assert close.status_code == 404
    assert _listed_ids(base, stranger) == []
    assert _get(base, owner, f"/tickets/{ticket_id}").json()["status"] != "closed"


def test_invalid_tickets_are_refused(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    missing = requests.post(f"{base}/api/v1/tickets", headers=bearer(token), json={"subject": "x"}, timeout=15)
    assert missing.status_code == 422 and set(missing.json()["error"]["fields"]) == {
        "department",
        "priority",
        "message",
    }
    wrong = _open(base, token, department="kitchen")
    assert wrong.status_code == 422 and wrong.json()["error"]["fields"]["department"]["code"] == "invalid_department"
    bad_page = _get(base, token, "/tickets", params={"page": "0"})
    assert bad_page.status_code == 422 and "page" in bad_page.json()["error"]["fields"]
    assert _get(base, token, "/news", params={"page": "abc"}).status_code == 422


def _cluster(stack) -> SignedClusterRpcProxy:
    return SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60)


def _active_service(stack, token: str) -> dict:
    """Order a plan through the API, have staff record the bank transfer; the account's active service."""
    base = stack.gateway_url
    plan = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
    assert requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=plan, timeout=15).status_code == 201
    placed = requests.post(f"{base}/api/v1/cart/checkout", headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
                           json={"payment_method": "bank_transfer"}, timeout=30)  # fmt: skip
    assert placed.status_code == 200, placed.text
    invoice_id = placed.json()["invoice_id"]
    wait_for(lambda: _get(base, token, f"/invoices/{invoice_id}").json().get("number"), what="the invoice numbered")
    with _cluster(stack) as cluster:
        cluster.billing.mark_invoice_paid(invoice_id, ctx={"actor": {"type": "staff", "id": "test-staff"}})
    return wait_for(lambda: next((s for s in _get(base, token, "/services").json()["items"]
                                  if s["status"] == "active"), None), what="the active service")  # fmt: skip


def test_a_ticket_concerns_the_accounts_own_service_and_never_anothers(stack):
    base = stack.gateway_url
    _, owner = register_verified(base, stack.var / "mail")
    service = _active_service(stack, owner)
    opened = _open(base, owner, related=f"service:{service['service_id']}")
    assert opened.status_code == 201, opened.text
    expected = {"kind": "service", "id": service["service_id"], "name": service["name"]}
    assert opened.json()["related"] == expected
    assert _get(base, owner, f"/tickets/{opened.json()['ticket_id']}").json()["related"] == expected
    as_form = requests.post(f"{base}/api/v1/tickets", headers=bearer(owner), timeout=15,
                            data={**TICKET, "related": f"service:{service['service_id']}"},
                            files=[("attachments", ("log.txt", b"log", "text/plain"))])  # fmt: skip
    assert as_form.status_code == 201 and as_form.json()["related"] == expected

    _, stranger = register_verified(base, stack.var / "mail")
    for related in (f"service:{service['service_id']}", f"domain:{service['service_id']}", "anything", 7):
        refused = _open(base, stranger, related=related)
        assert refused.status_code == 422, (related, refused.text)
        field = refused.json()["error"]["fields"]["related"]
        assert field["code"] in ("invalid_related_id", "invalid_type") and field["message"], related
    assert _get(base, stranger, "/tickets").json()["total"] == 0

    document = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    schema, models = document["paths"]["/tickets"]["post"], document["components"]["schemas"]
    resolved = lambda s: models[s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s  # noqa: E731
    for content in schema["requestBody"]["content"].values():
        assert "related" in resolved(content["schema"])["properties"]
    assert "related" in resolved(schema["responses"]["201"]["content"]["application/json"]["schema"])["properties"]


def test_a_ticket_only_contact_is_offered_none_of_the_owners_services_to_link(stack):
    from tests.e2e.test_contacts import invited_contact

    base, mail_dir = stack.gateway_url, stack.var / "mail"
    _, owner = register_verified(base, mail_dir)
    service = _active_service(stack, owner)
    token, browser = invited_contact(base, mail_dir, owner, ["tickets.open"])
    form = browser.get(f"{base}/tickets/new")
    assert form.status_code == 200 and service["service_id"] not in form.text and service["name"] not in form.text
    refused = _open(base, token, related=f"service:{service['service_id']}")
    assert refused.status_code == 422 and refused.json()["error"]["fields"]["related"]["code"] == "invalid_related_id"
    assert _open(base, token).status_code == 201  # a ticket without a related service is theirs to open
    on_page = browser.post(f"{base}/tickets/new", data={**TICKET, "csrf_token": csrf(form.text), "related": ""})
    assert on_page.status_code == 200 and on_page.url.rstrip("/") == base  # opened, then home: no ticket to read
    assert browser.get(f"{base}/tickets").status_code == 403
    assert requests.get(f"{base}/api/v1/services", headers=bearer(token), timeout=15).status_code == 403
    # a contact who may see the services is offered them
    token2, browser2 = invited_contact(base, mail_dir, owner, ["services.view", "tickets.open"])
    assert service["service_id"] in browser2.get(f"{base}/tickets/new").text
    assert _open(base, token2, related=f"service:{service['service_id']}").status_code == 201


def test_dashboard_counts_open_tickets(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    ids = [_open(base, token, subject=f"Sprawa {n}").json()["ticket_id"] for n in range(3)]
    closed = requests.post(f"{base}/api/v1/tickets/{ids[0]}/close", headers=bearer(token), timeout=15)
    assert closed.status_code == 200

    def open_count() -> int:
        return sum(t["status"] != "closed" for t in _get(base, token, "/tickets").json()["items"])

    wait_for(lambda: open_count() == 2, what="two open tickets listed")
    tiles = wait_for(lambda: (d := _get(base, token, "/dashboard").json())["tiles"]["tickets"] == 2 and d,
                     what="the tickets tile")["tiles"]  # fmt: skip
    assert tiles["tickets"] == open_count() == 2


def test_news_is_paged(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    news = _get(base, token, "/news", params={"page": "1"})
    assert news.status_code == 200, news.text
    assert news.json()["page"] == 1 and isinstance(news.json()["items"], list)
    assert requests.get(f"{base}/api/v1/news", timeout=10).status_code == 401


def test_the_news_list_has_every_item_marking_those_for_the_customers_plans(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    assert _active_service(stack, token)["plan"] == "hosting-start"
    tag = uuid.uuid4().hex[:8]
    staff_ctx = {"actor": {"type": "staff", "id": "test-staff"}}
    with _cluster(stack) as cluster:
        ids = {name: cluster.support.publish_news(f"{name} {tag}", "Treść", language, plans, ctx=staff_ctx)["news_id"]
               for name, language, plans in (("Ogólna", "pl", None), ("Dla Pro", "pl", ["hosting-pro"]),
                                             ("Dla Start", "pl", ["hosting-start"]), ("English", "en", None))}  # fmt: skip

    def ours() -> list[tuple[str, bool]]:
        items = _get(base, token, "/news", params={"per_page": "100"}).json()["items"]
        return [(n["news_id"], n["relevant"]) for n in items if n["title"].endswith(tag)]

    expected = [(ids["Dla Start"], True), (ids["Dla Pro"], False), (ids["Ogólna"], False)]
    wait_for(lambda: ours() == expected, what="every Polish item listed, the Start one marked relevant")
    first = _get(base, token, "/news", params={"per_page": "1"}).json()
    assert len(first["items"]) == 1 and first["pages"] == first["total"] >= 3

    page = login_browser(base, email).get(f"{base}/news", timeout=15).text
    for name in ("Ogólna", "Dla Pro", "Dla Start"):
        assert f"{name} {tag}" in page, name
    assert f"English {tag}" not in page
    assert re.search(rf'data-news="{ids["Dla Start"]}" data-relevant="true">.*?dotyczy Twoich usług', page)
    for name in ("Ogólna", "Dla Pro"):
        assert re.search(rf'data-news="{ids[name]}">', page), name
    dashboard = login_browser(base, email).get(f"{base}/", timeout=15).text
    assert f'href="/news/{ids["Dla Start"]}"' in dashboard and f'href="/news/{ids["Ogólna"]}"' in dashboard
    assert f'href="/news/{ids["Dla Pro"]}"' not in dashboard


def test_openapi_documents_the_support_paths(stack):
    paths = requests.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=10).json()["paths"]
    for path in ("/tickets", "/tickets/{ticket_id}", "/tickets/{ticket_id}/replies", "/tickets/{ticket_id}/close",
                 "/news"):  # fmt: skip
        assert path in paths, path
    assert set(paths["/tickets"]) == {"get", "post"}
