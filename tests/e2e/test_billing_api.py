"""Billing through the JSON API: catalogue, cart, idempotent checkout, invoices and their PDF."""

from __future__ import annotations

import re
import uuid

import requests

from tests.e2e.helpers import bearer, register_verified, wait_for

NUMBER_RE = re.compile(r"^FV/\d{4}/\d{2}/\d{4,}$")
HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}


def _get(base: str, token: str, path: str, **kwargs) -> requests.Response:
    return requests.get(f"{base}/api/v1{path}", headers=bearer(token), timeout=15, **kwargs)


def _checkout(base: str, token: str, key: str) -> requests.Response:
    headers = {**bearer(token), "Idempotency-Key": key}
    return requests.post(f"{base}/api/v1/cart/checkout", headers=headers, json={"payment_method": "bank_transfer"},
                         timeout=30)  # fmt: skip


def _unpaid_invoice(base: str, token: str, invoice_id: str):
    listed = _get(base, token, "/invoices", params={"status": "unpaid"})
    assert listed.status_code == 200, listed.text
    return next((i for i in listed.json()["items"] if i["invoice_id"] == invoice_id and i["number"]), None)


def test_catalog_lists_plans(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    catalog = _get(base, token, "/catalog")
    assert catalog.status_code == 200, catalog.text
    plan_ids = {plan["code"] for plan in catalog.json()["plans"]}
    assert {"hosting-start", "hosting-biznes", "hosting-pro"} <= plan_ids
    assert requests.get(f"{base}/api/v1/catalog", timeout=10).status_code == 401


def test_cart_add_list_and_remove(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=15)
    assert added.status_code == 201, added.text
    items = _get(base, token, "/cart/items").json()["items"]
    assert [i["kind"] for i in items] == ["hosting"] and items[0]["gross"] == 1845
    item_id = items[0]["item_id"]
    removed = requests.delete(f"{base}/api/v1/cart/items/{item_id}", headers=bearer(token), timeout=15)
    assert removed.status_code == 200 and removed.json()["items"] == []
    again = requests.delete(f"{base}/api/v1/cart/items/{item_id}", headers=bearer(token), timeout=15)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    bad = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), timeout=15,
                        json={"kind": "hosting", "params": {"plan": "nope", "cycle": "monthly"}})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["plan"]["code"] == "unknown_plan"


def test_checkout_is_idempotent_and_issues_an_unpaid_invoice_with_a_pdf(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    assert (
        requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=15).status_code == 201
    )
    key = f"test-{uuid.uuid4().hex}"
    first = _checkout(base, token, key)
    assert first.status_code == 200, first.text
    second = _checkout(base, token, key)
    assert second.status_code == 200, second.text
    placed, repeated = first.json(), second.json()
    assert placed["invoice_id"] and placed["order_id"]
    assert (repeated["order_id"], repeated["invoice_id"]) == (placed["order_id"], placed["invoice_id"])
    assert placed["payment"]["method"] == "bank_transfer" and placed["payment"]["status"] == "pending"
    invoice_id = placed["invoice_id"]

    summary = wait_for(lambda: _unpaid_invoice(base, token, invoice_id), what="the unpaid invoice listed")
    assert NUMBER_RE.match(summary["number"]), summary["number"]
    everything = _get(base, token, "/invoices").json()
    assert [i["invoice_id"] for i in everything["items"]] == [invoice_id]  # the repeat issued nothing more
    detail = _get(base, token, f"/invoices/{invoice_id}")
    assert detail.status_code == 200 and detail.json()["number"] == summary["number"]

    pdf = _get(base, token, f"/invoices/{invoice_id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")

    tiles = wait_for(lambda: (d := _get(base, token, "/dashboard").json())["tiles"]["unpaid_invoices"] == 1 and d,
                     what="the unpaid invoice on the dashboard")["tiles"]  # fmt: skip
    assert tiles["unpaid_invoices"] == 1

    # another account sees none of it
    _, other = register_verified(base, stack.var / "mail")
    for path in (f"/invoices/{invoice_id}", f"/invoices/{invoice_id}/pdf"):
        response = _get(base, other, path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    pay = requests.post(f"{base}/api/v1/invoices/{invoice_id}/pay", headers=bearer(other),
                        json={"payment_method": "bank_transfer"}, timeout=15)  # fmt: skip
    assert pay.status_code == 404
    assert _get(base, other, "/invoices").json()["items"] == []


def test_checkout_needs_an_idempotency_key_and_a_full_cart(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    missing = requests.post(f"{base}/api/v1/cart/checkout", headers=bearer(token),
                            json={"payment_method": "bank_transfer"}, timeout=15)  # fmt: skip
    assert missing.status_code == 422 and missing.json()["error"]["fields"]["idempotency_key"]["code"] == "required"
    empty = requests.post(f"{base}/api/v1/cart/checkout", headers=bearer(token), timeout=15,
                          json={"payment_method": "bank_transfer", "idempotency_key": uuid.uuid4().hex})  # fmt: skip
    assert empty.status_code >= 400 and empty.json()["error"]["code"] == "cart_empty"


def test_bad_query_parameters_give_422(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    for params, field in (({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"per_page": "-3"}, "per_page"),
                          ({"status": "weird"}, "status")):  # fmt: skip
        response = _get(base, token, "/invoices", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_input" and field in response.json()["error"]["fields"]
    ok = _get(base, token, "/invoices", params={"page": "2", "per_page": "5"})
    assert ok.status_code == 200 and (ok.json()["page"], ok.json()["per_page"]) == (2, 5)


def test_services_and_renewals_are_scoped_to_the_account(stack):
    base = stack.gateway_url
    _, token = register_verified(base, stack.var / "mail")
    services = _get(base, token, "/services")
    assert services.status_code == 200 and services.json()["items"] == []
    renewals = _get(base, token, "/renewals")
    assert renewals.status_code == 200 and renewals.json()["items"] == []
    missing = _get(base, token, f"/services/{uuid.uuid4().hex}")
    assert missing.status_code == 404
    paged = _get(base, token, "/services", params={"status": "active", "page": "2", "per_page": "5"}).json()
    assert (paged["items"], paged["total"], paged["page"], paged["per_page"]) == ([], 0, 2, 5)
    refused = _get(base, token, "/services", params={"status": "deleted"})
    assert refused.status_code == 422 and "status" in refused.json()["error"]["fields"]


def test_openapi_documents_the_billing_paths(stack):
    paths = requests.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=10).json()["paths"]
    for path in ("/catalog", "/cart/items", "/cart/items/{item_id}", "/cart/checkout", "/invoices",
                 "/invoices/{invoice_id}", "/invoices/{invoice_id}/pdf", "/invoices/{invoice_id}/pay", "/services",
                 "/services/{service_id}", "/renewals"):  # fmt: skip
        assert path in paths, path
