"""The API document is generated from the declared request models (gateway/schemas.py), and the same
models validate what the views receive."""

from __future__ import annotations

import pytest

from gateway import rpc, schemas
from kernel.contracts import CART_ITEM_KINDS

CUSTOMER = {"role": "customer", "account_id": "a1", "contact_id": None, "language": "pl"}


@pytest.fixture
def app(monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "unit-test")
    return create_app()


@pytest.fixture
def document(app) -> dict:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _body_schema(document: dict, path: str, method: str = "post") -> dict:
    return document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def test_every_cart_item_kind_is_a_branch_of_a_discriminated_union(document):
    union = _body_schema(document, "/cart/items")
    assert union["discriminator"]["propertyName"] == "kind"
    assert set(union["discriminator"]["mapping"]) == set(CART_ITEM_KINDS) == set(schemas.CART_ITEMS)
    components = document["components"]["schemas"]
    params = {}
    for kind, ref in union["discriminator"]["mapping"].items():
        item = components[ref.rsplit("/", 1)[1]]
        assert item["properties"]["kind"]["const"] == kind and set(item["required"]) == {"kind", "params"}
        params[kind] = components[item["properties"]["params"]["$ref"].rsplit("/", 1)[1]]
        assert params[kind]["additionalProperties"] is False
    assert set(params["hosting"]["properties"]) == {"plan", "cycle", "domain"}
    assert set(params["hosting_renewal"]["required"]) == {"service_id"}
    assert set(params["domain_registration"]["properties"]) == {"domain", "years"}
    assert set(params["domain_transfer"]["required"]) == {"domain", "epp_code"}
    assert set(params["domain_renewal"]["properties"]) == {"domain_id", "years"}


def test_the_idempotency_key_is_required_where_the_server_requires_it(document):
    checkout = document["components"]["schemas"]["Checkout"]
    assert _body_schema(document, "/cart/checkout") == {"$ref": "#/components/schemas/Checkout"}
    assert set(checkout["required"]) == {"payment_method", "idempotency_key"}


def test_declared_bodies_are_in_the_document(document):
    assert _body_schema(document, "/auth/register") == {"$ref": "#/components/schemas/Register"}
    register = document["components"]["schemas"]["Register"]
    assert register["properties"]["password"]["minLength"] == 10
    assert set(register["required"]) == {"email", "password", "first_name", "last_name"}


@pytest.fixture
def api(app, monkeypatch) -> tuple:
    """A client logged in as CUSTOMER, and the service calls the views made."""
    made: list[tuple] = []
    monkeypatch.setattr("gateway.views.api.load_account", lambda token: CUSTOMER)
    monkeypatch.setattr("gateway.guard.load_account", lambda token: CUSTOMER)

    def call(service, method, *args, **kwargs):
        made.append((service, method, kwargs))
        return {"items": [], "order_id": "o1", "invoice_id": "i1", "payment": {}}

    monkeypatch.setattr(rpc, "call", call)
    return app.test_client(), made


def _post(client, path: str, body: dict, **headers: str):
    return client.post(f"/api/v1{path}", json=body, headers={"Authorization": "Bearer t", **headers})


def test_the_same_models_validate_the_bodies(api):
    client, made = api
    answer = _post(client, "/cart/items", {"kind": "hosting", "params": {"plan": 5, "cycle": "monthly"}})
    assert answer.status_code == 422 and answer.get_json()["error"]["fields"].keys() == {"params.plan"}
    answer = _post(client, "/cart/items", {"kind": "hosting_renewal", "params": {"domain": "a.pl"}})
    assert set(answer.get_json()["error"]["fields"]) == {"params.service_id", "params.domain"}
    answer = _post(client, "/cart/items", {"kind": "mystery", "params": {}})
    assert answer.get_json()["error"]["fields"] == {"kind": {"code": "invalid_kind", "message": answer.get_json()[
        "error"]["fields"]["kind"]["message"]}}  # fmt: skip
    assert _post(client, "/cart/checkout", {"payment_method": "card"}).status_code == 422
    assert made == []
    item = {"kind": "domain_transfer", "params": {"domain": "a.pl", "epp_code": "X-1"}}
    assert _post(client, "/cart/items", item).status_code == 201
    assert _post(client, "/cart/checkout", {"payment_method": "card"}, **{"Idempotency-Key": "k1"}).status_code == 200
    assert made == [
        ("billing", "add_cart_item", {"account_id": "a1", **item}),
        (
            "billing",
            "checkout",
            {"account_id": "a1", "payment_method": "card", "idempotency_key": "k1", "return_url": None},
        ),
    ]
