"""Typed event contracts (kernel.contracts.<service>): every event a service emits has one, the
publisher refuses data that breaks it, consumers get it parsed, private fields stay off the wire.

Unit tier: no broker, and the event store is a list; the dead-letter test alone needs a database
(mongo_alias: mongomock in `make test-unit`, the real server in `make test`).
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import services
from kernel import contracts, settings
from kernel.aggregate import Aggregate
from kernel.contracts import billing, registry
from kernel.contracts.base import ContractError
from kernel.dependencies import EventsApi, public_message
from kernel.events import Event, NewEvent, stamp
from kernel.projections import Projection
from kernel.service import consumes
from tests.contract_examples import example, example_data
from tests.fakes import RecordingDispatch

SERVICES_DIR = Path(services.__file__).parent
ALL = sorted(registry.CONTRACTS)


# --- every emitted event type has a contract --------------------------------------
def _literals(node: ast.AST) -> set[str] | None:
    """The strings an expression can evaluate to: a literal, or either branch of `a if c else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return body | orelse if body is not None and orelse is not None else None
    return None


def _function_of(tree: ast.AST, target: ast.AST) -> ast.FunctionDef | None:
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and any(n is target for n in ast.walk(fn)):
            inner = _function_of(ast.Module(body=fn.body, type_ignores=[]), target)
            return inner or fn
    return None


def _calls_to(trees: list[ast.AST], name: str) -> list[ast.Call]:
    return [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (getattr(n.func, "attr", None) == name or getattr(n.func, "id", None) == name)]  # fmt: skip


def _types_named_by(arg: ast.AST, tree: ast.AST, trees: list[ast.AST]) -> set[str] | None:
    """The event types an argument can be: a literal, a local assigned from literals, or a parameter
    of the enclosing function filled with literals at every call site (accounts' `_record`). None
    when the scan cannot tell."""
    if not isinstance(arg, ast.Name):
        return _literals(arg)
    fn = _function_of(tree, arg)
    if fn is None:
        return None
    assigned = [a.value for a in ast.walk(fn) if isinstance(a, ast.Assign)
                and any(getattr(t, "id", None) == arg.id for t in a.targets)]  # fmt: skip
    if assigned:
        found = [_literals(value) for value in assigned]
        return None if None in found else set().union(*found)
    params = [a.arg for a in fn.args.args]
    if arg.id not in params:
        return None
    index = params.index(arg.id) - (params[0] == "self")
    found: set[str] = set()
    for call in _calls_to(trees, fn.name):
        if index >= len(call.args) or not isinstance(call.args[index], ast.Constant):
            return None
        found.add(call.args[index].value)
    return found


def emitted_types() -> dict[tuple[str, str], str]:
    """(service, event type) -> where, for every NewEvent the services' code builds."""
    found: dict[tuple[str, str], str] = {}
    unresolved = []
    for package in sorted(p for p in SERVICES_DIR.iterdir() if (p / "__init__.py").exists()):
        files = sorted(package.rglob("*.py"))
        trees = [ast.parse(path.read_text()) for path in files]
        for path, tree in zip(files, trees, strict=True):
            for call in _calls_to([tree], "NewEvent"):
                where = f"{path.relative_to(SERVICES_DIR.parent)}:{call.lineno}"
                types = _types_named_by(call.args[0], tree, trees) if call.args else None
                if types is None:
                    unresolved.append(where)
                for event_type in types or ():
                    found.setdefault((package.name, event_type), where)
    assert not unresolved, f"name the event type with a literal (or a local or parameter filled with one): {unresolved}"
    return found


def test_the_scan_finds_the_events_of_every_service_including_those_named_through_a_parameter():
    emitted = emitted_types()
    assert {service for service, _ in emitted} == set(settings.SERVICES)
    assert ("accounts", "login_failed") in emitted  # accounts' _record(account_id, "login_failed", ...)
    assert ("accounts", "mailing_list_unsubscribed") in emitted  # kind = "... subscribed" if ... else "..."
    assert len(emitted) > 70


def test_every_event_type_any_service_emits_has_a_contract():
    missing = {key: where for key, where in emitted_types().items() if key not in registry.CONTRACTS}
    assert not missing, f"declare these in kernel/contracts/<service>.py: {missing}"


def test_every_service_declares_its_contracts():
    assert set(settings.SERVICES) == registry.SOURCES
    for source in registry.SOURCES:
        module = importlib.import_module(f"kernel.contracts.{source}")
        assert source == module.SOURCE and module.EVENTS
        shortcut = importlib.import_module(f"services.{source}.contracts")  # the service's own place to look
        exported = {m.TYPE for m in vars(shortcut).values() if inspect.isclass(m) and getattr(m, "TYPE", "")}
        assert exported == set(module.EVENTS)


# --- handlers name declared types ---------------------------------------------------
def _service_modules() -> list[Any]:
    names = [m.name for m in pkgutil.walk_packages([str(SERVICES_DIR)], "services.")]
    return [importlib.import_module(name) for name in names if not name.endswith("__main__")]


def test_every_aggregate_and_projection_handler_names_a_type_its_service_declares():
    checked = 0
    for module in _service_modules():
        source = module.__name__.split(".")[1]
        for value in vars(module).values():
            if isinstance(value, Projection):
                registry.require(source, value.handlers, f"{module.__name__} projection {value.name}")
                checked += len(value.handlers)
            elif inspect.isclass(value) and issubclass(value, Aggregate) and value.__module__ == module.__name__:
                handlers = [name.removeprefix("on_") for name in dir(value) if name.startswith("on_")]
                registry.require(source, handlers, f"{module.__name__}.{value.__name__}")
                checked += len(handlers)
    assert checked > 100


def test_consuming_a_type_the_source_does_not_declare_fails_at_import():
    with pytest.raises(ContractError, match="billing declares no event type invoice_payed"):
        consumes(contracts.BILLING, "invoice_payed")
    consumes("some_test_source", "anything")  # a source with no contracts (a test's own) is not checked


def test_every_consumer_in_the_services_and_every_live_change_names_a_declared_type():
    _service_modules()  # @consumes checks at import: importing every service module is the test
    from gateway import live

    unknown = [key for key in live.CHANGES if key not in registry.CONTRACTS]
    assert not unknown, unknown


# --- the publisher refuses what breaks a contract -------------------------------------
class ListStore:
    """An event store in a list (append as the real one stamps; nothing else is needed here)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, stream_id: str, expected_version: int, new_events: list[NewEvent], meta: dict) -> list[Event]:
        events = stamp(stream_id, expected_version + 1, new_events, meta)
        self.events.extend(events)
        return events

    def mark_published(self, events: list[Event]) -> None:
        pass


def _events_api(service: str) -> tuple[EventsApi, ListStore, RecordingDispatch]:
    store, dispatch = ListStore(), RecordingDispatch()
    return EventsApi(service, store, [], dispatch), store, dispatch  # type: ignore[arg-type]


TICKET = example_data("support", "ticket_closed")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({**TICKET, "colour": "red"}, "colour\n  Extra inputs are not permitted"),
        ({**TICKET, "number": 7}, "number\n  Input should be a valid string"),
        ({**TICKET, "by": "robot"}, "by\n  Input should be 'customer' or 'staff'"),
        ({k: v for k, v in TICKET.items() if k != "subject"}, "subject\n  Field required"),
        ({**TICKET, "status": "open"}, "status\n  Input should be 'closed'"),
    ],
    ids=["unknown field", "wrong type", "not one of the values", "missing field", "wrong constant"],
)
def test_append_refuses_data_that_breaks_the_contract_and_stores_nothing(data, problem):
    events_api, store, dispatch = _events_api("support")
    with pytest.raises(ContractError, match=problem):
        events_api.append("ticket-t1", 0, [NewEvent("ticket_closed", TICKET), NewEvent("ticket_closed", data)], {})
    assert store.events == [] and dispatch.messages == []


def test_append_refuses_an_event_type_with_no_contract_and_a_strict_number():
    events_api, store, _ = _events_api("accounts")
    with pytest.raises(ContractError, match="accounts declares no event type 'account_deleted'"):
        events_api.append("account-a1", 0, [NewEvent("account_deleted", {})], {})
    with pytest.raises(ContractError, match="step\n  Input should be a valid integer"):
        events_api.append("account-a1", 0, [NewEvent("totp_code_used", {"step": "57"})], {})
    with pytest.raises(ContractError, match="expires_at\n  Value error"):
        bad_date = {**example_data("accounts", "password_reset_requested"), "expires_at": "tomorrow"}
        events_api.append("account-a1", 0, [NewEvent("password_reset_requested", bad_date)], {})
    assert store.events == []


def test_append_stores_the_data_as_given_with_the_contract_version_in_the_meta():
    events_api, store, dispatch = _events_api("billing")
    data = example_data("billing", "invoice_paid")
    [stored] = events_api.append("customer-a1", 0, [NewEvent("invoice_paid", data)], {"actor": {"type": "system"}})
    assert stored.data is data and stored.meta == {"actor": {"type": "system"}, "v": billing.InvoicePaid.VERSION}
    assert store.events == [stored] and dispatch.of("invoice_paid")[0]["meta"]["v"] == 1


def test_a_service_with_no_contracts_publishes_unchecked():
    events_api, store, _ = _events_api("benchproducer")
    events_api.append("item-1", 0, [NewEvent("item_recorded", {"n": 1})], {})
    assert [e.meta for e in store.events] == [{}]


# --- consumers get the payload parsed ----------------------------------------------------
class Consumer:
    """A consumer as a service declares one: `self.events` is the worker's EventsApi."""

    name = "contracttest"

    def __init__(self, events: Any) -> None:
        self.events = events
        self.received: list[Event] = []

    @consumes(contracts.BILLING, "invoice_paid")
    def on_invoice_paid(self, event: Event) -> None:
        self.received.append(event)


class FirstTime:
    service = "contracttest"

    def first_time(self, consumer: str, event_id: str) -> bool:
        return True


def _message(source: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    event = Event("e-1", "stream-1", 1, event_type, dt.datetime(2026, 11, 2, 10), data, {"v": 1})
    return json.loads(json.dumps(public_message(event, contracts.PRIVATE_FIELDS.get(source, {}))))


def test_a_consumer_gets_the_event_with_a_typed_payload_and_the_raw_data():
    consumer = Consumer(FirstTime())
    data = example_data("billing", "invoice_paid")
    consumer.on_invoice_paid(_message("billing", "invoice_paid", data))
    [event] = consumer.received
    assert isinstance(event.payload, billing.InvoicePaid)
    assert event.payload.number == data["number"] and event.payload.lines[0].gross == data["lines"][0]["gross"]
    assert event.data == data


def test_a_message_that_breaks_the_contract_is_set_aside_unhandled(mongo_alias):
    mongo_alias("contracttest")
    from kernel import db

    consumer = Consumer(FirstTime())
    broken = {**example_data("billing", "invoice_paid"), "paid_at": 20261102}
    consumer.on_invoice_paid(_message("billing", "invoice_paid", broken))
    assert consumer.received == []
    [dead] = db.database("contracttest")["dead_letters"].find()
    assert dead["attempts"] == 0 and dead["error"].startswith("ContractError: billing.invoice_paid v1")
    assert "paid_at" in dead["error"] and json.loads(dead["message"])["data"]["paid_at"] == 20261102


# --- private fields ---------------------------------------------------------------------
PRIVATE = [(s, t, f) for s, by_type in contracts.PRIVATE_FIELDS.items() for t, f in by_type.items()]


@pytest.mark.parametrize(("source", "event_type", "fields"), PRIVATE, ids=[f"{s}.{t}" for s, t, _ in PRIVATE])
def test_a_private_field_is_declared_stored_and_never_published(source, event_type, fields):
    model = registry.contract(source, event_type)
    assert set(fields) <= set(model.model_fields), f"{model.__name__} must declare its private fields"
    data = example_data(source, event_type)
    assert set(fields) <= set(data)
    events_api, store, dispatch = _events_api(source)
    events_api.append("stream-1", 0, [NewEvent(event_type, data)], {})
    [message] = dispatch.of(event_type)
    assert not set(fields) & set(message["data"]) and set(fields) <= set(store.events[0].data)
    parsed = registry.parse(source, event_type, message["data"])
    assert set(parsed.model_dump()) == set(model.model_fields) - set(fields)
    with pytest.raises(ContractError, match="Extra inputs are not permitted"):  # a leak is refused, not read
        registry.parse(source, event_type, data)


# --- one example per contract survives the trip ------------------------------------------
@pytest.mark.parametrize(("source", "event_type"), ALL, ids=[f"{s}.{t}" for s, t in ALL])
def test_build_publish_parse_round_trip_is_equal(source, event_type):
    built = example(source, event_type)
    new_event = NewEvent.of(built)
    assert new_event.type == event_type and registry.check(source, event_type, new_event.data) == built
    [event] = stamp("stream-1", 1, [new_event], {})
    wire = json.loads(json.dumps(public_message(event, contracts.PRIVATE_FIELDS.get(source, {}))))
    parsed = registry.parse(source, event_type, Event.from_message(wire).data)
    hidden = set(contracts.PRIVATE_FIELDS.get(source, {}).get(event_type, ()))
    assert parsed.model_dump() == {k: v for k, v in built.model_dump().items() if k not in hidden}
    if not hidden:
        assert parsed == built
