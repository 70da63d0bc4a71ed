"""The API document is generated from the declared request models (gateway/schemas.py), and the same
models validate what the views receive."""

from __future__ import annotations

import jsonschema
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


REFUSED = [
    # (method, path, body, {field: reason}): unknown keys refused by name, wrong types named, nothing called
    ("PATCH", "/profile", {"first_name": "A", "colour": "red", "billing_address": {"city": 5}},
     {"colour": "unknown_field", "billing_address.city": "invalid_type"}),
    ("POST", "/contacts", {"email": "a@b.pl", "login": "yes", "permissions": ["billing", 5]},
     {"login": "invalid_type", "permissions": "invalid_type"}),
    ("PATCH", "/contacts/c1", {"email": "a@b.pl"}, {"email": "unknown_field"}),
    ("PATCH", "/domains/d1", {"nameservers": [5, 6], "owner": "x"}, {"nameservers": "invalid_type",
                                                                      "owner": "unknown_field"}),
    ("PATCH", "/domains/d1", {}, {"nameservers": "required"}),
    ("POST", "/domains/d1/dns/records", {"name": "@", "ttl": "60", "colour": "red"},
     {"type": "required"}),
    ("PUT", "/domains/d1/dns/records/r1", {"type": "A", "ttl": "60", "colour": "red"},
     {"ttl": "invalid_type", "colour": "unknown_field"}),
    ("POST", "/tickets", {"department": "technical", "priority": "low", "subject": "s"}, {"message": "required"}),
    ("POST", "/tickets/t1/replies", {"message": "m", "attachments": [{"filename": 5, "data_base64": "eA=="}]},
     {"attachments.filename": "invalid_type"}),
    ("POST", "/account/password", {"current_password": "x", "new_password": 5}, {"new_password": "invalid_type"}),
    ("POST", "/account/two-factor/confirm", {"code": 123456}, {"code": "invalid_type"}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "fields"), REFUSED, ids=[f"{r[0]} {r[1]}" for r in REFUSED])
def test_the_remaining_bodies_are_validated_by_their_models(api, method, path, body, fields):
    client, made = api
    answer = client.open(f"/api/v1{path}", method=method, json=body, headers={"Authorization": "Bearer t"})
    assert answer.status_code == 422, answer.get_json()
    assert {k: v["code"] for k, v in answer.get_json()["error"]["fields"].items()} == fields
    assert made == []


def test_the_remaining_bodies_are_described_by_their_models(document):
    refs = {(path, method): _body_schema(document, path, method) for path, method in (
        ("/profile", "patch"), ("/contacts", "post"), ("/contacts/{contact_id}", "patch"),
        ("/domains/{domain_id}", "patch"), ("/domains/{domain_id}/dns/records", "post"),
        ("/account/password", "post"), ("/tickets", "post"))}  # fmt: skip
    assert all(set(ref) == {"$ref"} for ref in refs.values()), refs
    components = document["components"]["schemas"]
    assert components["DnsRecord"]["additionalProperties"] is False and components["DnsRecord"]["required"] == ["type"]
    assert components["ProfileChange"]["additionalProperties"] is False
    assert {"current_password", "code", "billing_address"} <= set(components["ProfileChange"]["properties"])
    form = document["paths"]["/tickets"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["attachments"]["items"]["format"] == "binary"
    assert set(form["required"]) == {"department", "priority", "subject", "message"}


ANSWERS = [
    ("/profile", "get", "200", "Profile"), ("/profile", "patch", "200", "Profile"),
    ("/dashboard", "get", "200", "Dashboard"), ("/contacts", "post", "201", "Contact"),
    ("/contacts/{contact_id}", "get", "200", "Contact"), ("/invoices", "get", "200", "InvoicePage"),
    ("/invoices/{invoice_id}", "get", "200", "Invoice"), ("/services", "get", "200", "ServicePage"),
    ("/services/{service_id}", "get", "200", "Service"), ("/domains", "get", "200", "DomainPage"),
    ("/domains/{domain_id}", "patch", "200", "Domain"), ("/tickets", "post", "201", "Ticket"),
    ("/tickets/{ticket_id}", "get", "200", "Ticket"), ("/cart/items", "get", "200", "Cart"),
    ("/domains/{domain_id}/dns", "get", "200", "Zone"), ("/domains/{domain_id}/dns/records", "post", "201", "Zone"),
]  # fmt: skip


def test_the_main_answers_are_described_by_models(document):
    for path, method, status, model in ANSWERS:
        answer = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{model}"}, (path, method)
    components = document["components"]["schemas"]
    assert components["InvoicePage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/InvoiceSummary"}
    assert components["Dashboard"]["properties"]["profile"] == {"$ref": "#/components/schemas/Profile"}
    assert {"anyOf": [{"type": "string"}, {"type": "null"}]}.items() <= components["InvoiceSummary"]["properties"][
        "paid_at"].items()  # fmt: skip


def _conforms(document: dict, model: str, answer: dict) -> None:
    """`answer` is valid for the document's component `model` (its $refs resolved within the document)."""
    schema = {**document["components"]["schemas"][model], "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(answer)


def test_the_invoice_and_service_models_name_what_billing_answers(document):
    from services.billing.projections import InvoiceView, ServiceView

    invoice = InvoiceView(id="i1", account_id="a1", status="unpaid", lines=[{"net": 1}])
    assert set(invoice.summary()) == set(schemas.InvoiceSummary.model_fields)
    _conforms(document, "Invoice", invoice.detail())  # a new invoice: no number, no dates yet (nulls)
    service = ServiceView(id="s1", account_id="a1").public()
    assert set(schemas.ServiceSummary.model_fields) <= set(service)
    _conforms(document, "Service", {**service, "invoices": [invoice.summary()]})
    with pytest.raises(jsonschema.ValidationError):
        _conforms(document, "Service", {**service, "auto_renew": "no"})
