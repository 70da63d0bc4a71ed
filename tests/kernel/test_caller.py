"""The signed caller context's rules, without I/O: tokens, key rotation, and what `admit` lets through."""

from __future__ import annotations

import pytest
from nameko.exceptions import IncorrectSignature

from gateway.errors import status_of
from kernel import caller
from kernel.caller import STAFF, admit, rpc
from kernel.errors import CommandError

CUSTOMER = {"actor": {"type": "customer", "id": "acc-1"}}
CONTACT = {"actor": {"type": "contact", "id": "con-1", "account_id": "acc-1"}}
STAFF_CTX = {"actor": {"type": "staff", "id": "s-1"}}
SYSTEM_CTX = {"actor": {"type": "system", "id": "billing"}}
ANONYMOUS = {"actor": {"type": "anonymous", "id": None}}


class Service:
    name = "example"

    @rpc
    def read(self, account_id: str, status: str | None = None, page: int = 1, ctx: dict | None = None) -> dict:
        return {"account_id": account_id, "ctx": ctx}

    @rpc(actors=STAFF)
    def refund(self, invoice_id: str, options: dict | None = None) -> str:
        return invoice_id

    @rpc
    def login(self, email: str, password: str) -> str:
        return email


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("RPC_SIGNING_KEYS", "new-key,old-key")


def test_a_token_names_one_method_and_ends_at_its_deadline():
    token = caller.sign(STAFF_CTX, "billing.refund", timeout=30)
    assert caller.verify(token, "billing.refund") == STAFF_CTX
    for target, code in (("billing.add_credit", "caller_wrong_target"),):
        with pytest.raises(CommandError) as refused:
            caller.verify(token, target)
        assert refused.value.code == code
    with pytest.raises(CommandError) as expired:
        caller.verify(caller.sign(STAFF_CTX, "billing.refund", timeout=-0.01), "billing.refund")
    assert expired.value.code == "caller_expired"
    for missing in (None, "", 42, {"ctx": STAFF_CTX}):
        with pytest.raises(CommandError) as unsigned:
            caller.verify(missing, "billing.refund")
        assert unsigned.value.code == "caller_unsigned"
    with pytest.raises(CommandError) as forged:
        caller.verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "billing.refund")
    assert forged.value.code == "caller_forged"


def test_keys_rotate_without_downtime(monkeypatch):
    monkeypatch.setenv("RPC_SIGNING_KEYS", "old-key")
    from_old_process = caller.sign(STAFF_CTX, "billing.refund", timeout=30)
    monkeypatch.setenv("RPC_SIGNING_KEYS", "new-key,old-key")  # rotation: both verify, the new one signs
    from_new_process = caller.sign(STAFF_CTX, "billing.refund", timeout=30)
    assert caller.verify(from_old_process, "billing.refund") == STAFF_CTX
    assert caller.verify(from_new_process, "billing.refund") == STAFF_CTX
    monkeypatch.setenv("RPC_SIGNING_KEYS", "new-key")  # the old key retired
    assert caller.verify(from_new_process, "billing.refund") == STAFF_CTX
    with pytest.raises(CommandError) as retired:
        caller.verify(from_old_process, "billing.refund")
    assert retired.value.code == "caller_forged"
    monkeypatch.setenv("RPC_SIGNING_KEYS", " , ")
    with pytest.raises(RuntimeError):
        caller.sign(STAFF_CTX, "billing.refund", timeout=30)


def test_staff_only_methods_admit_only_staff():
    assert admit(Service, "refund", STAFF_CTX, ["inv-1"], {}) == {"invoice_id": "inv-1"}
    for ctx in (CUSTOMER, CONTACT, SYSTEM_CTX, ANONYMOUS, {}, {"actor": "staff"}):
        with pytest.raises(CommandError) as refused:
            admit(Service, "refund", ctx, ["inv-1"], {})
        assert refused.value.code == "caller_not_allowed" and status_of(refused.value) == 403


def test_a_customer_or_contact_acts_only_on_its_own_account():
    assert admit(Service, "read", CUSTOMER, ["acc-1"], {})["account_id"] == "acc-1"
    assert admit(Service, "read", CONTACT, ["acc-1"], {})["account_id"] == "acc-1"
    assert admit(Service, "read", STAFF_CTX, ["acc-2"], {})["account_id"] == "acc-2"
    for ctx, account in ((CUSTOMER, "acc-2"), (CONTACT, "acc-2"), (CONTACT, "con-1"), (ANONYMOUS, "acc-1"),
                         ({"actor": {"type": "customer"}}, None)):  # fmt: skip
        with pytest.raises(CommandError) as refused:
            admit(Service, "read", ctx, [account], {})
        assert refused.value.code == "caller_not_allowed"
    assert admit(Service, "login", ANONYMOUS, ["a@b.pl", "x"], {}) == {"email": "a@b.pl", "password": "x"}


def test_the_ctx_a_method_receives_is_the_verified_one_never_the_callers_argument():
    claimed = {"actor": {"type": "staff", "id": "me, really"}}
    arguments = admit(Service, "read", CUSTOMER, ["acc-1"], {"ctx": claimed})
    assert arguments["ctx"] == CUSTOMER
    assert "ctx" not in admit(Service, "refund", STAFF_CTX, ["inv-1"], {"ctx": claimed})


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "reason"),
    [
        (["acc-1"], {"page": "2"}, "page", "invalid_type"),
        (["acc-1"], {"page": True}, "page", "invalid_type"),
        (["acc-1"], {"page": 2**64}, "page", "out_of_range"),
        (["acc-1"], {"status": 7}, "status", "invalid_type"),
        (["acc-1"], {"status": "\ud800"}, "status", "invalid_unicode"),
        ([["acc-1"]], {}, "account_id", "invalid_type"),
    ],
)
def test_arguments_are_checked_against_the_methods_types(args, kwargs, field, reason):
    ctx = STAFF_CTX
    with pytest.raises(CommandError) as refused:
        admit(Service, "read", ctx, args, kwargs)
    assert refused.value.code == "invalid_input" and refused.value.fields == {field: reason}
    assert status_of(refused.value) == 422


def test_nested_values_are_checked_too_and_unknown_arguments_are_a_wrong_signature():
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    for options, reason in (({"a": [1, 2**63]}, "out_of_range"), ({"k\udfff": 1}, "invalid_unicode"),
                            (deep, "too_deep")):  # fmt: skip
        with pytest.raises(CommandError) as refused:
            admit(Service, "refund", STAFF_CTX, ["inv-1"], {"options": options})
        assert refused.value.fields == {"options": reason}
    with pytest.raises(IncorrectSignature):
        admit(Service, "refund", STAFF_CTX, ["inv-1"], {"staff": True})
