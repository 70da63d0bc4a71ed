"""Another account's id gives 404 and leaks nothing, on every API endpoint that takes an id.

The endpoints come from the OpenAPI document at test time, so endpoints added
later are covered without editing this test. The owner's ids are gathered from
what the owner's own list endpoints show (any `*_id` field), after the owner has
a cart item, an unpaid invoice, a live service, a ticket and a domain.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import bearer, register_verified, wait_for

PARAM_RE = re.compile(r"{(\w+)}")
HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
METHODS = ("get", "post", "put", "patch", "delete")


def example(schema: dict[str, Any], components: dict[str, Any] | None = None) -> Any:
    """A small value its schema accepts, so validation passes and the id is what is judged:
    required properties, plus optional ones that cannot be invalid (booleans, enums). A $ref is
    looked up in `components` (the document's components/schemas)."""
    if "$ref" in schema:
        return example((components or {})[schema["$ref"].rsplit("/", 1)[1]], components)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        names = [n for n, p in properties.items() if n in schema.get("required", []) or p.get("type") == "boolean"
                 or "enum" in p]  # fmt: skip
        return {name: example(properties[name], components) for name in names}
    if kind == "array":
        return [example(schema.get("items", {}), components) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return "x" * max(1, schema.get("minLength", 1))


def collect_ids(value: Any, into: dict[str, set[str]], key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            collect_ids(v, into, k)
    elif isinstance(value, list):
        for v in value:
            collect_ids(v, into, key)
    elif isinstance(value, str) and key.endswith("_id") and key != "account_id":
        into.setdefault(key, set()).add(value)


def _owner_with_one_of_everything(stack) -> tuple[str, str, str]:
    base, email_token = f"{stack.gateway_url}/api/v1", register_verified(stack.gateway_url, stack.var / "mail")
    email, token = email_token
    owner = requests.Session()
    owner.headers.update(bearer(token))
    account_id = owner.get(f"{base}/profile", timeout=15).json()["account_id"]
    config = {"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}
    with SignedClusterRpcProxy(config, timeout=30) as rpc:
        rpc.billing.add_credit(account_id, 10_000_00, ctx={"actor": {"type": "system"}})
    domain = {"kind": "domain_registration", "params": {"domain": f"wlasna-{uuid.uuid4().hex[:8]}.pl", "years": 1}}
    for item, method in ((HOSTING, "credit"), (domain, "credit"), (HOSTING, "bank_transfer")):
        assert owner.post(f"{base}/cart/items", json=item, timeout=30).status_code == 201
        placed = owner.post(f"{base}/cart/checkout", json={"payment_method": method}, timeout=60,
                            headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert placed.status_code == 200, placed.text
    assert owner.post(f"{base}/cart/items", json=HOSTING, timeout=30).status_code == 201
    opened = owner.post(f"{base}/tickets", timeout=30, json={"department": "technical", "priority": "low",
                        "subject": "Tajny temat właściciela", "message": "Treść tylko dla właściciela."})  # fmt: skip
    assert opened.status_code == 201, opened.text
    wait_for(lambda: owner.get(f"{base}/services", timeout=15).json()["items"], timeout=30, what="the live service")
    wait_for(lambda: owner.get(f"{base}/domains", timeout=15).json().get("items"), timeout=30, what="the domain")
    return email, token, account_id


def _owner_ids(base: str, token: str, document: dict) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        if "get" in operations and not PARAM_RE.search(path):
            response = requests.get(f"{base}{path}", headers=bearer(token), timeout=30)
            if response.ok and response.headers.get("Content-Type", "").startswith("application/json"):
                collect_ids(response.json(), ids)
    return ids


def _state(base: str, token: str) -> dict[str, Any]:
    """What the intruder must not be able to change."""
    get = lambda path: requests.get(f"{base}{path}", headers=bearer(token), timeout=30).json()  # noqa: E731
    return {"cart": get("/cart/items")["items"], "unpaid": get("/invoices?status=unpaid")["items"],
            "tickets": get("/tickets")["items"], "domains": get("/domains"), "services": get("/services")["items"]}  # fmt: skip


def test_every_endpoint_with_an_id_answers_404_to_another_account(stack):
    base = f"{stack.gateway_url}/api/v1"
    email, token, account_id = _owner_with_one_of_everything(stack)
    document = requests.get(f"{base}/openapi.json", timeout=15).json()
    ids = _owner_ids(base, token, document)
    assert {"item_id", "invoice_id", "service_id", "ticket_id", "domain_id"} <= set(ids), ids
    before = _state(base, token)
    _, intruder = register_verified(stack.gateway_url, stack.var / "mail")
    secrets = {email, account_id, "Tajny temat", *{v for values in ids.values() for v in values}}

    tried, with_real_ids = [], set()
    for path, operations in document["paths"].items():
        params = PARAM_RE.findall(path)
        if not params:
            continue
        values = {p: sorted(ids.get(p, {f"missing-{uuid.uuid4().hex}"}))[0] for p in params}
        with_real_ids |= {p for p in params if p in ids}
        url = base + path.format(**values)
        for method in METHODS:
            if method not in operations:
                continue
            schema = (operations[method].get("requestBody") or {}).get("content", {}).get("application/json", {})
            body = example(schema.get("schema", {}), document["components"]["schemas"]) if schema else None
            response = requests.request(method, url, headers=bearer(intruder), json=body, timeout=30)
            tried.append(f"{method.upper()} {path}")
            assert response.status_code == 404, f"{method.upper()} {path}: {response.status_code} {response.text}"
            assert response.json()["error"]["code"] == "not_found", f"{method.upper()} {path}: {response.text}"
            leaked = [s for s in secrets if s in response.text]
            assert not leaked, f"{method.upper()} {path} leaks {leaked}"
    assert len(tried) >= 15 and {"invoice_id", "service_id", "ticket_id", "item_id", "domain_id"} <= with_real_ids
    assert _state(base, token) == before
