"""gateway/clients.py mirrors the services: every client method has the @rpc method's parameters (names,
order, defaults, type hints; the caller context left out), and calls go out with keyword arguments
only, so the permission checks on arguments and the services' admission read them by name."""

from __future__ import annotations

import importlib
import inspect

import pytest
from flask import g

from gateway import clients, rpc
from gateway.permissions import Forbidden

SERVICE_CLASSES = {
    "accounts": "services.accounts.service:AccountsService",
    "billing": "services.billing.service:BillingService",
    "domains": "services.domains.service:DomainsService",
    "support": "services.support.service:SupportService",
    "notifications": "services.notifications.service:NotificationsService",
    "hosting": "services.hosting.service:HostingService",
}


def _service_class(service: str) -> type:
    module, _, name = SERVICE_CLASSES[service].partition(":")
    return getattr(importlib.import_module(module), name)


def _methods(client: clients.Client) -> list[str]:
    return [name for name, value in vars(type(client)).items() if not name.startswith("_") and callable(value)]


def _parameters(function) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)
    return [(p.name, p.default, p.annotation) for p in signature.parameters.values() if p.name not in ("self", "ctx")]


@pytest.mark.parametrize("service", sorted(clients.BY_SERVICE))
def test_every_client_method_has_the_services_signature(service):
    client, cls = clients.BY_SERVICE[service], _service_class(service)
    for name in _methods(client):
        remote = getattr(cls, name, None)
        assert remote is not None and hasattr(remote, "nameko_entrypoints"), f"{service}.{name} is no @rpc method"
        assert _parameters(getattr(client, name)) == _parameters(remote), f"{service}.{name}"
        assert inspect.signature(getattr(client, name)).return_annotation == inspect.signature(remote).return_annotation


def test_client_methods_take_keyword_arguments_only():
    for client in clients.BY_SERVICE.values():
        for name in _methods(client):
            kinds = {p.kind for p in inspect.signature(getattr(client, name)).parameters.values()}
            assert kinds <= {inspect.Parameter.KEYWORD_ONLY}, f"{client.service}.{name}"
    with pytest.raises(TypeError):
        clients.billing.get_cart("a1")


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    """What would go out to the broker: (service, method, args, kwargs), the permission check included."""
    calls: list[tuple] = []

    def start(service: str, method: str, *args, **kwargs) -> rpc.PendingCall:
        rpc.check_call(service, method, kwargs)
        calls.append((service, method, args, kwargs))
        return rpc.PendingCall(service, method, reply=None, failure=None)

    monkeypatch.setattr(rpc, "start", start)
    monkeypatch.setattr(rpc, "call", lambda *a, **k: start(*a, **k) and {"ok": True})
    return calls


def test_calls_go_out_by_name_with_the_defaults_filled_in(sent):
    assert clients.billing.list_invoices(account_id="a1", status="unpaid") == {"ok": True}
    pending = clients.start(clients.billing.list_invoices, account_id="a1")
    assert isinstance(pending, rpc.PendingCall)
    assert sent == [
        ("billing", "list_invoices", (), {"account_id": "a1", "status": "unpaid", "page": 1, "per_page": 20}),
        ("billing", "list_invoices", (), {"account_id": "a1", "status": None, "page": 1, "per_page": 20}),
    ]
    with pytest.raises(TypeError):  # not a client's method
        clients.start(rpc.call, "billing", "get_cart")
    with pytest.raises(TypeError):  # an argument the method does not take
        clients.start(clients.billing.get_cart, account="a1")


def test_a_contacts_check_on_arguments_sees_them_by_name(sent, monkeypatch):
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "unit-test")
    contact = {"role": "contact", "account_id": "a1", "contact_id": "c1", "permissions": ["domains.manage"]}
    with create_app().test_request_context("/domains/d1/renew", method="POST"):
        g.account = contact
        clients.billing.add_cart_item(account_id="a1", kind="domain_renewal", params={"domain_id": "d1"})
        clients.accounts.update_contact(account_id="a1", contact_id="c1", changes={"language": "en"})
        with pytest.raises(Forbidden):
            clients.billing.add_cart_item(account_id="a1", kind="hosting", params={})
    assert [method for _, method, _, _ in sent] == ["add_cart_item", "update_contact"]
