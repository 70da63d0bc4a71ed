"""Staff accounts: made only by the operator's command, verified at once, role "staff";
finding customers is for staff only. The service runs as a nameko worker on the real database."""

from __future__ import annotations

import pytest
from nameko.exceptions import UnknownService
from nameko.testing.services import worker_factory

from kernel.errors import CommandError
from services.accounts import staff as command
from services.accounts.projections import AccountView
from services.accounts.service import AccountsService
from tests.fakes import RecordingDispatch, call_as, recording_events_api

PASSWORD = "Biurko-Obslugi-2026"
OPERATOR = {"actor": {"type": "operator", "id": "cli:test"}}
STAFF_CTX = {"actor": {"type": "staff", "id": "staff-1"}}


@pytest.fixture
def accounts(mongo_alias):
    mongo_alias("accounts")
    dispatch = RecordingDispatch()
    worker = worker_factory(AccountsService, events=recording_events_api(AccountsService, dispatch))
    worker.dispatch = dispatch
    return worker


def _call_worker(worker):
    return lambda method, *args, **kwargs: getattr(worker, method)(*args, **kwargs)


def test_the_command_creates_a_verified_staff_account_that_logs_in(accounts, capsys):
    code = command.run(["create", "--email", "Ola@Panel.localhost", "--first-name", "Ola", "--last-name", "Nowak"],
                       call=_call_worker(accounts), env={"STAFF_PASSWORD": PASSWORD})  # fmt: skip
    assert code == 0 and "ola@panel.localhost" in capsys.readouterr().out
    assert accounts.dispatch.types() == ["account_registered", "email_verified"]  # no verification mail asked for
    [registered] = accounts.dispatch.of("account_registered")
    assert registered["data"]["role"] == "staff" and registered["meta"]["actor"]["type"] == "operator"
    session = accounts.login("ola@panel.localhost", PASSWORD, ctx={"ip": "127.0.0.1"})
    me = accounts.authenticate(session["token"])
    assert me["role"] == "staff" and me["email_verified"] is True and me["first_name"] == "Ola"


def test_the_password_is_asked_twice_when_not_in_the_environment(accounts, capsys):
    answers = iter([PASSWORD, "something-else-1"])
    code = command.run(["create", "--email", "a@panel.localhost", "--first-name", "A", "--last-name", "B"],
                       call=_call_worker(accounts), env={}, prompt=lambda _: next(answers))  # fmt: skip
    assert code == 1 and "password_mismatch" in capsys.readouterr().err
    assert AccountView.objects(email="a@panel.localhost").count() == 0
    answers = iter([PASSWORD, PASSWORD])
    assert command.run(["create", "--email", "a@panel.localhost", "--first-name", "A", "--last-name", "B"],
                       call=_call_worker(accounts), env={}, prompt=lambda _: next(answers)) == 0  # fmt: skip
    assert AccountView.objects(email="a@panel.localhost").first().role == "staff"


def test_bad_input_and_a_taken_email_are_refused_with_codes(accounts, capsys):
    with pytest.raises(CommandError) as refused:
        accounts.create_staff("not-an-email", "", "Nowak", "short", ctx=OPERATOR)
    assert refused.value.fields == {
        "email": "invalid_email",
        "first_name": "required",
        "password": "password_too_short",
    }
    accounts.register("taken@example.pl", PASSWORD, "Jan", "Kowalski")
    code = command.run(["create", "--email", "taken@example.pl", "--first-name", "X", "--last-name", "Y"],
                       call=_call_worker(accounts), env={"STAFF_PASSWORD": PASSWORD})  # fmt: skip
    assert code == 1 and "email_taken" in capsys.readouterr().err
    assert AccountView.objects(email="taken@example.pl").first().role == "customer"


@pytest.mark.parametrize("ctx", [None, {"actor": {"type": "customer", "id": "x"}}, STAFF_CTX,
                                 {"actor": {"type": "anonymous", "id": None}}])  # fmt: skip
def test_only_the_operator_command_may_create_staff(accounts, ctx):
    with pytest.raises(CommandError) as refused:
        call_as(accounts, "create_staff", ctx, "eve@example.pl", "Eve", "Evil", PASSWORD)
    assert refused.value.code == "caller_not_allowed"
    assert AccountView.objects(email="eve@example.pl").count() == 0


def test_public_registration_always_makes_a_customer(accounts):
    with pytest.raises(TypeError):
        accounts.register("x@example.pl", PASSWORD, "X", "Y", "pl", role="staff")
    accounts.register("y@example.pl", PASSWORD, "Y", "Z", "pl", ctx={"actor": {"type": "staff", "id": "s"}})
    assert AccountView.objects(email="y@example.pl").first().role == "customer"


def _customer(accounts, email: str, first: str, last: str, nip: str = "") -> str:
    account_id = accounts.register(email, PASSWORD, first, last)["account_id"]
    if nip:
        address = {
            "street": "Długa 1",
            "postcode": "00-950",
            "city": "Warszawa",
            "nip": nip,
            "company": "Żuraw sp. z o.o.",
        }
        accounts.update_settings(account_id, {"billing_address": address})
    return account_id


def test_staff_find_customers_by_email_name_and_nip(accounts):
    zofia = _customer(accounts, "zofia@firma.pl", "Zofia", "Wąsik", nip="526-000-12-46")
    jan = _customer(accounts, "jan@example.pl", "Jan", "Kowalski")
    accounts.create_staff("obsluga@panel.localhost", "Zofia", "Obsługa", PASSWORD, ctx=OPERATOR)

    def ids(query: str) -> list[str]:
        return [c["account_id"] for c in accounts.find_customers(query, ctx=STAFF_CTX)["items"]]

    assert ids("ZOFIA@firma") == [zofia]
    assert ids("zofia") == [zofia]  # the staff member named Zofia is not a customer
    assert ids("Jan Kowalski") == [jan]
    assert ids("5260001246") == [zofia] and ids("526-000-12-46") == [zofia]
    assert ids("żuraw") == [zofia]
    assert ids("nikt-taki") == []
    assert ids(".*") == []  # the query is text, never a pattern


def test_find_customers_is_for_staff_only(accounts):
    _customer(accounts, "jan@example.pl", "Jan", "Kowalski")
    for ctx in (None, {"actor": {"type": "customer", "id": "x"}}, OPERATOR):
        with pytest.raises(CommandError) as refused:
            call_as(accounts, "find_customers", ctx, "jan")
        assert refused.value.code == "caller_not_allowed"
    with pytest.raises(CommandError) as short:
        accounts.find_customers(" j ", ctx=STAFF_CTX)
    assert short.value.fields == {"query": "query_too_short"}


def test_a_stack_that_does_not_answer_is_reported(capsys):
    def down(*_args, **_kwargs):
        raise UnknownService("accounts")

    code = command.run(["create", "--email", "a@panel.localhost", "--first-name", "A", "--last-name", "B"],
                       call=down, env={"STAFF_PASSWORD": PASSWORD})  # fmt: skip
    assert code == 2 and "did not answer" in capsys.readouterr().err
