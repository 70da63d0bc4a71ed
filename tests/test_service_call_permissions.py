"""The service-call table (gateway/permissions.py SERVICE_CALLS), without servers.

Every service call the gateway's code makes is found with `ast` (every use of a typed client's
method, `clients.<service>.<method>`, called or passed on to a wrapper; direct `rpc.call`/`rpc.start`
with literal names, and calls through small wrappers that pass the method on) and must be in
the table, so no call can be added without deciding who may make it. Then the check itself:
a contact's call outside their permissions raises Forbidden before anything is sent, and
the gateway answers it with 403.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from flask import Flask, g

from gateway import clients, dashboard, export, rpc
from gateway.permissions import OWNER, SERVICE_CALLS, Forbidden, allows, call_allowed, check_call, required_permission
from tools.devstack import SERVICES

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
# functions whose service calls are dynamic in a way the scan cannot follow, and where
# their names come from (checked below): review any new one and add its calls to the table
DYNAMIC = {
    "app.py:healthz": "every service's health",
    "readmodel/__main__.py:check_services": "every service's health (the gateway's view process)",
}

BILLING_CONTACT = {"role": "contact", "account_id": "a1", "contact_id": "c1",
                   "permissions": ["invoices.view", "invoices.pay"]}  # fmt: skip
SERVICES_CONTACT = {"role": "contact", "account_id": "a1", "contact_id": "c2", "permissions": ["services.view"]}
OWNER_ACCOUNT = {"role": "customer", "account_id": "a1", "contact_id": None}
A1 = {"account_id": "a1"}  # a call's arguments, by parameter name


def _contact_change(contact_id: str, changes: dict) -> dict:
    return {"account_id": "a1", "contact_id": contact_id, "changes": changes}


def _cart_item(kind: str) -> dict:
    return {"account_id": "a1", "kind": kind, "params": {}}


def _client_method(node: ast.AST) -> tuple[str, str] | None:
    """(service, method) of `clients.<service>.<method>`, or None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
        owner = node.value
        if isinstance(owner.value, ast.Name) and owner.value.id == "clients" and owner.attr in SERVICES:
            return owner.attr, node.attr
    return None


def _dynamic_client(node: ast.AST) -> bool:
    """`clients.BY_SERVICE[...]`: a client the scan cannot name."""
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "BY_SERVICE")  # fmt: skip


def _is_rpc(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("call", "start")
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "rpc")  # fmt: skip


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _enclosing(tree: ast.AST) -> dict[ast.AST, str]:
    """Each rpc call -> the name of the innermost function around it."""
    owner: dict[ast.AST, str] = {}
    for function in _functions(tree):  # outer functions first, inner ones overwrite
        for node in ast.walk(function):
            if _is_rpc(node):
                owner[node] = function.name
    return owner


def scan() -> tuple[dict[str, list[str]], set[str]]:
    """("service.method" -> where it is called, functions with calls the scan cannot name)."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in sorted(GATEWAY.rglob("*.py"))}
    found: dict[str, list[str]] = {}
    unresolved: set[str] = set()
    # wrapper name -> (service: literal or parameter index, method: parameter index or "tuple" of *args)
    wrappers: dict[str, tuple[str | int, int | str, list[str]]] = {}

    def add(service: str, method: str, where: str) -> None:
        found.setdefault(f"{service}.{method}", []).append(where)

    for path, tree in trees.items():
        rel = path.relative_to(GATEWAY).as_posix()
        dynamic: dict[ast.AST, str] = {}
        for function in _functions(tree):  # outer functions first, inner ones overwrite
            dynamic.update({node: function.name for node in ast.walk(function) if _dynamic_client(node)})
        unresolved.update(f"{rel}:{name}" for name in dynamic.values())
        for node in ast.walk(tree):
            named = _client_method(node)
            if named:
                add(*named, f"{rel}:{node.lineno}")
        if rel in ("rpc.py", "clients.py"):  # the transport itself
            continue
        owner = _enclosing(tree)
        params_of = {f.name: f for f in _functions(tree)}
        for call, name in owner.items():
            service_node, method_node = (call.args + [None, None])[:2]
            service, method = _literal(service_node), _literal(method_node)
            if service and method:
                add(service, method, f"{rel}:{call.lineno}")
                continue
            function = params_of[name]
            params = [a.arg for a in function.args.posonlyargs + function.args.args]
            service_spec = service or (params.index(service_node.id) if isinstance(service_node, ast.Name)
                                       and service_node.id in params else None)  # fmt: skip
            if isinstance(method_node, ast.Name) and method_node.id in params:
                method_spec: int | str | None = params.index(method_node.id)
            elif isinstance(method_node, ast.Name) and function.args.vararg:  # for method, *args in calls
                method_spec = "tuple"
            else:
                method_spec = None
            if service_spec is None or method_spec is None:
                unresolved.add(f"{rel}:{name}")
            else:
                wrappers[name] = (service_spec, method_spec, params)

    for path, tree in trees.items():
        rel = path.relative_to(GATEWAY).as_posix()
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in wrappers):
                continue
            service_spec, method_spec, params = wrappers[call.func.id]
            keywords = {k.arg: k.value for k in call.keywords}

            def argument(index: int, params=params, call=call, keywords=keywords) -> ast.AST | None:
                return call.args[index] if index < len(call.args) else keywords.get(params[index])

            where = f"{rel}:{call.lineno}"
            service = service_spec if isinstance(service_spec, str) else _literal(argument(service_spec))
            if method_spec == "tuple":
                methods = [_literal(a.elts[0]) if isinstance(a, ast.Tuple) and a.elts else None for a in call.args]
            else:
                methods = [_literal(argument(method_spec))]
            if service is None or None in methods:
                unresolved.add(f"{rel}:{call.func.id} called at {call.lineno}")
                continue
            for method in methods:
                add(service, method, where)
    return found, unresolved


def test_the_scan_finds_the_gateways_calls_direct_and_through_wrappers():
    found, _ = scan()
    assert "billing.list_invoices" in found and "accounts.authenticate" in found  # direct
    assert "billing.get_payment" in found  # billing_pages._read(clients.billing.get_payment, ...)
    assert "billing.get_cart" in found  # billing_pages._parallel(clients.start(clients.billing.get_cart, ...), ...)
    assert "accounts.accept_contact_invitation" in found  # pages.set_password_page, from account_pages
    assert "domains.retry_registration" in found  # domains_pages._command
    assert "support.get_news" in found  # support_pages.found_or_404
    assert "notifications.list_mails" in found  # export.PAGED


def test_every_service_call_the_gateway_makes_has_a_decided_permission():
    found, unresolved = scan()
    missing = {name: where for name, where in found.items() if name not in SERVICE_CALLS}
    assert not missing, f"add these to gateway/permissions.py SERVICE_CALLS: {missing}"
    assert unresolved == set(DYNAMIC), "a service call the scan cannot name: add it to the table and to DYNAMIC"
    dynamic = {f"{service}.health" for service in SERVICES}
    dynamic |= {f"{method.__self__.service}.{method.__name__}" for method in export.PAGED.values()}
    assert dynamic <= set(SERVICE_CALLS), dynamic - set(SERVICE_CALLS)


def test_every_client_method_has_a_decided_permission():
    made = {f"{client.service}.{name}" for client in clients.BY_SERVICE.values() for name in dir(type(client))
            if not name.startswith("_") and callable(getattr(client, name))}  # fmt: skip
    assert made - set(SERVICE_CALLS) == set()


def test_the_table_names_only_known_permissions():
    from services.accounts.validation import PERMISSIONS

    for name, needed in SERVICE_CALLS.items():
        for option in needed if isinstance(needed, tuple) else (needed,):
            assert option is None or callable(option) or option == OWNER or option in PERMISSIONS, (name, option)


def test_a_contact_may_make_only_the_calls_their_permissions_cover():
    assert call_allowed(BILLING_CONTACT, "billing", "list_invoices", {"account_id": "a1", "status": None})
    assert call_allowed(BILLING_CONTACT, "billing", "pay_invoice", {"account_id": "a1", "invoice_id": "i1"})
    assert call_allowed(BILLING_CONTACT, "accounts", "authenticate", {"token": "token"})
    assert call_allowed(BILLING_CONTACT, "billing", "dashboard_summary", A1)  # the unpaid invoices tile
    assert call_allowed(BILLING_CONTACT, "billing", "get_current_offer", {})  # the offer is for everyone
    assert not call_allowed(BILLING_CONTACT, "billing", "list_services", A1)
    assert not call_allowed(BILLING_CONTACT, "support", "list_tickets", A1)
    assert not call_allowed(BILLING_CONTACT, "domains", "dashboard_summary", A1)
    assert not call_allowed(BILLING_CONTACT, "accounts", "update_settings", {"account_id": "a1", "changes": {}})
    assert not call_allowed(BILLING_CONTACT, "accounts", "export_account", A1)  # owner only
    for method in ("list_invoices", "get_invoice", "invoice_pdf", "pay_invoice"):
        assert not call_allowed(SERVICES_CONTACT, "billing", method, {"account_id": "a1", "invoice_id": "i1"})
    assert call_allowed(SERVICES_CONTACT, "billing", "list_services", A1)


def test_a_call_missing_from_the_table_is_refused_to_contacts_only():
    assert "billing.drop_everything" not in SERVICE_CALLS
    assert not call_allowed(BILLING_CONTACT, "billing", "drop_everything", {})
    assert call_allowed(OWNER_ACCOUNT, "billing", "drop_everything", {})
    assert call_allowed(None, "billing", "drop_everything", {})  # not serving anyone (e.g. a background thread)


def test_checks_on_the_arguments():
    # the language switch: a contact sets their own language, nothing else, nobody else's
    assert call_allowed(BILLING_CONTACT, "accounts", "update_contact", _contact_change("c1", {"language": "en"}))
    assert not call_allowed(BILLING_CONTACT, "accounts", "update_contact", _contact_change("c1", {"permissions": []}))
    assert not call_allowed(BILLING_CONTACT, "accounts", "update_contact", _contact_change("c9", {"language": "en"}))
    # the cart: ordering adds anything; renewing needs the service's or domain's manage right
    orders = {**BILLING_CONTACT, "permissions": ["orders.place"]}
    domains = {**BILLING_CONTACT, "permissions": ["domains.manage"]}
    assert call_allowed(orders, "billing", "add_cart_item", _cart_item("domain_registration"))
    assert call_allowed(domains, "billing", "add_cart_item", _cart_item("domain_renewal"))
    assert not call_allowed(domains, "billing", "add_cart_item", _cart_item("domain_registration"))
    assert not call_allowed(domains, "billing", "add_cart_item", _cart_item("hosting_renewal"))


@pytest.fixture
def app(monkeypatch) -> Flask:
    from gateway.app import create_app

    monkeypatch.setenv("SECRET_KEY", "unit-test")
    return create_app()  # nothing connects until a call is made


def test_check_call_raises_forbidden_only_while_serving_a_contact(app, caplog):
    check_call("billing", "list_services", A1)  # no request: nothing to check
    with app.test_request_context("/api/v1/services"):
        check_call("billing", "list_services", A1)  # nobody logged in yet
        g.account = OWNER_ACCOUNT
        check_call("billing", "list_services", A1)
        g.account = BILLING_CONTACT
        check_call("billing", "list_invoices", A1)
        with pytest.raises(Forbidden):
            check_call("billing", "list_services", A1)
        with caplog.at_level(logging.ERROR, logger="gateway.permissions"), pytest.raises(Forbidden):
            check_call("billing", "drop_everything", {})
        assert "billing.drop_everything is not in permissions.SERVICE_CALLS" in caplog.text


def test_rpc_start_refuses_before_sending(app, monkeypatch):
    def no_broker():
        raise AssertionError("a refused call must not reach the broker")

    monkeypatch.setattr(rpc, "_runner", no_broker)
    with app.test_request_context("/api/v1/services"):
        g.account = BILLING_CONTACT
        with pytest.raises(Forbidden):
            rpc.start("billing", "list_services", "a1")
        with pytest.raises(Forbidden):
            rpc.call("support", "get_ticket", "a1", "t1")
        with pytest.raises(Forbidden):  # the typed clients, waiting or not
            clients.support.get_ticket(account_id="a1", ticket_id="t1")
        with pytest.raises(Forbidden):
            clients.start(clients.billing.list_services, account_id="a1")


def test_a_refused_service_call_is_a_403_for_the_api_and_for_pages(app, monkeypatch):
    monkeypatch.setattr("gateway.guard.load_account", lambda token: None)  # enforce lets it through

    @app.get("/api/v1/leaky")
    def leaky_api():
        g.account = SERVICES_CONTACT
        return rpc.call("billing", "list_invoices", "a1")

    @app.get("/leaky")
    def leaky_page():
        g.account = SERVICES_CONTACT
        return rpc.call("billing", "list_invoices", "a1")

    client = app.test_client()
    answer = client.get("/api/v1/leaky")
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "permission_denied"
    assert client.get("/leaky").status_code == 403


def test_the_dashboard_asks_a_contact_only_for_what_they_may_see(app, monkeypatch):
    asked = []

    def fake_start(service, method, *args, **kwargs):
        check_call(service, method, kwargs)
        asked.append(f"{service}.{method}")
        return rpc.PendingCall(service, method, failure=rpc.ServiceUnavailable(service))

    monkeypatch.setattr(rpc, "start", fake_start)
    monkeypatch.setattr(rpc, "gather", lambda calls: ({}, {key: "unavailable" for key in calls}))
    with app.test_request_context("/api/v1/dashboard"):
        g.account = BILLING_CONTACT
        d = dashboard.build(BILLING_CONTACT)
        assert sorted(asked) == ["billing.dashboard_summary", "billing.get_current_offer", "support.dashboard_news",
                                 "support.dashboard_summary"]  # fmt: skip
        assert "tiles.domains" in d["hidden"] and "contacts" in d["hidden"]
        # should the table refuse a source the dashboard asks for, its sections are hidden, not an error
        monkeypatch.setitem(SERVICE_CALLS, "support.dashboard_summary", "tickets.view")
        d = dashboard.build(BILLING_CONTACT)
        assert {"news", "recent_tickets", "tiles.tickets"} <= set(d["hidden"]) and d["news"] == []


def test_domain_search_cart_and_the_dashboards_quick_domain_form_agree():
    assert required_permission("POST", "/domains/cart") == "orders.place"
    assert required_permission("POST", "/domains/transfer") == "orders.place"
    searching = required_permission("GET", "/domains/search")
    assert searching == required_permission("GET", "/api/v1/domains/check") == ("orders.place", "domains.view")
    assert required_permission("GET", "/domains/transfer") == searching
    assert dashboard.SECTION_PERMISSIONS["quick_domain"] == searching
    assert required_permission("GET", "/api/v1/domains/d1/epp-code") == "domains.manage"
    assert required_permission("GET", "/domains/d1") == "domains.view"
    for permissions, shown in ((["orders.place"], True), (["domains.view"], True), (["invoices.view"], False)):
        contact = {**BILLING_CONTACT, "permissions": permissions}
        assert ("quick_domain" not in dashboard.hidden_sections(contact)) is shown
        assert allows(contact, searching) is shown


def test_renewals_show_each_kind_only_to_a_contact_who_may_see_it():
    from gateway.permissions import visible_renewals

    items = [{"kind": "hosting_renewal", "service_id": "s-1"}, {"kind": "domain_renewal", "domain_id": "d-1"},
             {"kind": "something_new"}]  # fmt: skip

    def contact(*granted: str) -> dict:
        return {"role": "contact", "permissions": list(granted)}

    assert visible_renewals({"role": "customer"}, items) == items  # the owner sees everything
    assert visible_renewals(contact("services.view"), items) == items[:1]
    assert visible_renewals(contact("domains.view"), items) == items[1:2]
    assert visible_renewals(contact("invoices.view"), items) == []
    # the page and the API let either kind of contact in; adding a domain's renewal is the domain's right
    assert allows(contact("domains.view"), required_permission("GET", "/renewals"))
    assert allows(contact("services.view"), required_permission("GET", "/api/v1/renewals"))
    assert not allows(contact("invoices.view"), required_permission("GET", "/renewals"))
    assert required_permission("POST", "/renewals/domains/d-1/add") == "domains.manage"
    assert required_permission("POST", "/renewals/s-1/add") == "services.manage"
