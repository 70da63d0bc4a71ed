"""Contacts, permissions, two-factor login, sessions, history and the mailing list:
decisions without I/O first, then the service as a nameko worker on the real database."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyotp
import pytest
from nameko.testing.services import worker_factory

from gateway.errors import status_of
from kernel.errors import CommandError, NotFound
from kernel.events import Event
from services.accounts import domain
from services.accounts import validation as v
from services.accounts.domain import Account
from services.accounts.service import AccountsService
from tests.fakes import RecordingDispatch, recording_events_api

PASSWORD = "Bardzo-Tajne-2026"
CTX = {"ip": "203.0.113.7", "user_agent": "pytest"}
BILLING_CONTACT = {"first_name": "Ewa", "last_name": "Płatnik", "email": "Ewa@Example.pl", "login": True,
                   "permissions": ["invoices.view", "invoices.pay"], "categories": ["billing"]}  # fmt: skip


def _apply(account: Account, new_events) -> Account:
    for new in new_events:
        version = account.version + 1
        account.apply(Event(f"e{version}", account.stream_id, version, new.type, dt.datetime(2026, 1, 1), new.data, {}))
    return account


def _owner() -> Account:
    account = Account("account-1")
    profile = {"first_name": "Jan", "last_name": "Kowal", "language": "pl"}
    return _apply(account, account.register("jan@example.pl", "hash", profile))


def _contact(**changes) -> dict:
    clean, errors = v.check_contact({**BILLING_CONTACT, **changes}, creating=True)
    assert errors == {}
    return clean


# --- rules --------------------------------------------------------------------
def test_contact_fields_are_checked_and_permissions_come_from_the_fixed_list():
    clean = _contact()
    assert clean["email"] == "ewa@example.pl" and clean["permissions"] == ["invoices.view", "invoices.pay"]
    _, errors = v.check_contact({**BILLING_CONTACT, "permissions": ["invoices.delete"], "email": "x"}, creating=True)
    assert errors == {"permissions": "unknown_permission", "email": "invalid_email"}
    _, errors = v.check_contact({**BILLING_CONTACT, "categories": ["security"]}, creating=True)
    assert errors == {"categories": "unknown_category"}  # security mail is personal, never a contact's


def test_a_contact_with_login_is_invited_and_a_contact_without_gets_no_permissions():
    owner = _owner()
    events = owner.add_contact("c1", _contact(), {"type": "customer", "id": "1"})
    assert [e.type for e in events] == ["contact_added", "contact_invited"]
    assert events[1].data["token"] and events[1].data["owner_name"] == "Jan Kowal"
    mail_only = owner.add_contact("c2", _contact(email="ksiegowa@example.pl", login=False), {"type": "customer"})
    assert [e.type for e in mail_only] == ["contact_added"] and mail_only[0].data["permissions"] == []


def test_invitation_token_works_once_and_the_same_email_twice_is_refused():
    owner = _owner()
    events = owner.add_contact("c1", _contact(), {"type": "customer"})
    owner = _apply(owner, events)
    with pytest.raises(CommandError) as exc:
        owner.add_contact("c2", _contact(), {"type": "customer"})
    assert exc.value.fields == {"email": "email_taken"}
    token = events[1].data["token"]
    [again] = owner.resend_invitation("c1")
    assert again.data["token"] != token
    owner = _apply(owner, owner.accept_invitation("c1", token, "new-hash"))
    assert owner.contacts["c1"]["active"] is True
    with pytest.raises(CommandError) as exc:
        owner.resend_invitation("c1")
    assert exc.value.code == "contact_not_invited"
    with pytest.raises(CommandError) as exc:
        owner.accept_invitation("c1", token, "other-hash")
    assert exc.value.code == "invalid_token"


def test_a_contact_managing_contacts_cannot_hand_out_what_they_do_not_hold():
    owner = _owner()
    owner = _apply(owner, owner.add_contact("c1", _contact(permissions=["contacts.manage", "invoices.view"]), {}))
    as_contact = {"type": "contact", "id": "c1"}
    with pytest.raises(CommandError) as exc:
        owner.add_contact("c2", _contact(email="b@example.pl", permissions=["services.manage"]), as_contact)
    assert exc.value.code == "permission_not_held" and status_of(exc.value) == 403
    allowed = owner.add_contact("c2", _contact(email="b@example.pl", permissions=["invoices.view"]), as_contact)
    assert allowed[0].data["permissions"] == ["invoices.view"]


def test_editing_a_contact_emits_only_what_changed_and_removing_forgets_it():
    owner = _owner()
    owner = _apply(owner, owner.add_contact("c1", _contact(), {}))
    assert owner.update_contact("c1", {"first_name": "Ewa"}, {}) == []
    [changed] = owner.update_contact("c1", {"first_name": "Ewa", "permissions": ["invoices.view"]}, {})
    assert changed.data["changes"] == {"permissions": ["invoices.view"]}
    owner = _apply(owner, owner.remove_contact("c1"))
    with pytest.raises(NotFound):
        owner.update_contact("c1", {"first_name": "X"}, {})


def test_totp_enables_with_a_code_from_the_secret_and_recovery_codes_work_once():
    owner, secret = _owner(), pyotp.random_base32()
    codes = domain.new_recovery_codes()
    with pytest.raises(CommandError):
        owner.enable_two_factor(secret, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111", codes)
    confirming = pyotp.TOTP(secret).now()
    owner = _apply(owner, owner.enable_two_factor(secret, confirming, codes))
    assert owner.two_factor and codes[0] not in json.dumps(owner.recovery_hashes)  # stored hashed
    with pytest.raises(CommandError) as exc:  # the code that turned it on is spent
        owner.second_factor(confirming)
    assert exc.value.fields == {"code": "code_already_used"}
    following = pyotp.TOTP(secret).at(time.time() + 30)  # the next 30 s step, accepted one step ahead
    assert [e.type for e in owner.second_factor(following)] == ["totp_code_used"]
    spent = owner.second_factor(codes[0].upper())
    assert [e.type for e in spent] == ["recovery_code_used"]
    owner = _apply(owner, spent)
    with pytest.raises(CommandError) as exc:
        owner.second_factor(codes[0])
    assert exc.value.fields == {"code": "invalid_code"}
    assert [e.type for e in owner.disable_two_factor(codes[1])] == ["recovery_code_used", "two_factor_disabled"]


def test_a_code_is_accepted_one_step_either_side_and_not_ten_minutes_later():
    secret, moment = pyotp.random_base32(), 1_800_000_000
    code = pyotp.TOTP(secret).at(moment)
    assert domain.totp_matches(secret, code, at=moment) and domain.totp_matches(secret, code, at=moment + 30)
    assert not domain.totp_matches(secret, code, at=moment + 600)
    assert not domain.totp_matches(secret, "12345", at=moment)


# --- the service on the real database -------------------------------------------
@pytest.fixture
def accounts(mongo_alias):
    mongo_alias("accounts")
    dispatch = RecordingDispatch()
    worker = worker_factory(AccountsService, events=recording_events_api(AccountsService, dispatch))
    worker.dispatch = dispatch
    return worker


def _verified_owner(accounts) -> str:
    account_id = accounts.register("owner@example.pl", PASSWORD, "Jan", "Kowal", "pl", ctx=CTX)["account_id"]
    [requested] = accounts.dispatch.of("email_verification_requested")
    accounts.verify_email(requested["data"]["token"], ctx=CTX)
    return account_id


def test_a_contact_logs_in_as_themselves_for_the_owner_until_removed(accounts):
    owner_id = _verified_owner(accounts)
    owner_ctx = {**CTX, "actor": {"type": "customer", "id": owner_id}}
    added = accounts.add_contact(owner_id, BILLING_CONTACT, ctx=owner_ctx)
    # the e-mail now belongs to that contact: no account for it; the address is told by mail instead
    assert accounts.register("ewa@example.pl", PASSWORD, "Ewa", "Inna", "pl", ctx=CTX) == {}
    [attempted] = accounts.dispatch.of("registration_attempted")
    assert attempted["data"] == {"email": "ewa@example.pl", "language": "pl", "contact_id": added["contact_id"]}
    [invited] = accounts.dispatch.of("contact_invited")
    with pytest.raises(CommandError):  # no password yet: no login
        accounts.login("ewa@example.pl", PASSWORD, ctx=CTX)
    accounts.accept_contact_invitation(invited["data"]["token"], PASSWORD, ctx=CTX)
    session = accounts.login("ewa@example.pl", PASSWORD, ctx=CTX)
    assert session["account_id"] == owner_id and session["contact_id"] == added["contact_id"]
    who = accounts.authenticate(session["token"])
    assert who["account_id"] == owner_id and who["role"] == "contact"
    assert who["permissions"] == ["invoices.view", "invoices.pay"] and who["contact"]["first_name"] == "Ewa"
    owner = accounts.authenticate(accounts.login("owner@example.pl", PASSWORD, ctx=CTX)["token"])
    assert owner["contact_id"] is None and set(owner["permissions"]) == set(v.PERMISSIONS)
    assert [c["email"] for c in accounts.list_contacts(owner_id)] == ["ewa@example.pl"]
    target = accounts.get_notification_target(owner_id)
    assert target["contacts"] == [{"contact_id": added["contact_id"], "email": "ewa@example.pl", "first_name": "Ewa",
                                   "language": "pl", "categories": ["billing"]}]  # fmt: skip
    login = next(h for h in accounts.account_history(owner_id)["items"] if h["type"] == "login_succeeded"
                 and h["actor"]["type"] == "contact")  # fmt: skip
    assert login["actor"] == {"type": "contact", "id": added["contact_id"], "name": "Ewa Płatnik"}
    accounts.remove_contact(owner_id, added["contact_id"], ctx=owner_ctx)
    assert accounts.authenticate(session["token"]) is None
    assert accounts.list_contacts(owner_id) == []


def test_a_contact_resets_their_own_password_and_only_their_sessions_end(accounts):
    owner_id = _verified_owner(accounts)
    added = accounts.add_contact(owner_id, BILLING_CONTACT, ctx=CTX)
    [invited] = accounts.dispatch.of("contact_invited")
    accounts.accept_contact_invitation(invited["data"]["token"], PASSWORD, ctx=CTX)
    contact_session = accounts.login("ewa@example.pl", PASSWORD, ctx=CTX)
    owner_session = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    accounts.request_password_reset("EWA@example.pl", ctx=CTX)
    [requested] = accounts.dispatch.of("contact_password_reset_requested")
    assert requested["data"]["email"] == "ewa@example.pl" and requested["stream_id"] == f"account-{owner_id}"
    done = accounts.confirm_password_reset(requested["data"]["token"], "Nowe-Haslo-2026", ctx=CTX)
    assert done == {"account_id": owner_id, "contact_id": added["contact_id"]}
    assert accounts.authenticate(contact_session["token"]) is None and accounts.authenticate(owner_session["token"])
    with pytest.raises(CommandError):
        accounts.login("ewa@example.pl", PASSWORD, ctx=CTX)
    assert accounts.login("ewa@example.pl", "Nowe-Haslo-2026", ctx=CTX)["contact_id"] == added["contact_id"]
    with pytest.raises(CommandError) as exc:
        accounts.confirm_password_reset(requested["data"]["token"], "Inne-Haslo-2026", ctx=CTX)
    assert exc.value.code == "invalid_token"


def test_contacts_of_another_account_are_not_found(accounts):
    owner_id = _verified_owner(accounts)
    added = accounts.add_contact(owner_id, {**BILLING_CONTACT, "login": False}, ctx=CTX)
    with pytest.raises(Exception) as exc:
        accounts.update_contact("someone-else", added["contact_id"], {"first_name": "X"}, ctx=CTX)
    assert type(exc.value).__name__ == "NotFound"


def test_two_factor_login_takes_two_steps_and_wrong_codes_are_throttled(accounts):
    owner_id = _verified_owner(accounts)
    setup = accounts.start_two_factor(owner_id)
    assert setup["qr_svg"].startswith("<svg") and setup["secret"] in setup["uri"]
    codes = accounts.confirm_two_factor(owner_id, pyotp.TOTP(setup["secret"]).now(), ctx=CTX)["recovery_codes"]
    assert len(codes) == 10
    first = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    assert first.get("two_factor_required") and "token" not in first
    code = pyotp.TOTP(setup["secret"]).at(time.time() + 30)  # the next step: the confirming one is spent
    session = accounts.login_second_factor(first["challenge"], code, ctx=CTX)
    assert accounts.authenticate(session["token"])["account_id"] == owner_id
    replay = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)["challenge"]
    with pytest.raises(CommandError) as exc:  # the same code again, still inside its 30 s step
        accounts.login_second_factor(replay, code, ctx=CTX)
    assert exc.value.fields == {"code": "code_already_used"}
    challenge = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)["challenge"]
    for _ in range(4):  # with the replay above, five failures
        with pytest.raises(CommandError) as exc:
            accounts.login_second_factor(challenge, "abc", ctx=CTX)
        assert exc.value.code == "invalid_input"
    with pytest.raises(CommandError) as exc:
        accounts.login_second_factor(challenge, pyotp.TOTP(setup["secret"]).now(), ctx=CTX)
    assert exc.value.code == "too_many_attempts"


def test_history_lists_failed_logins_with_ip_and_never_a_secret(accounts):
    owner_id = _verified_owner(accounts)
    with pytest.raises(CommandError):
        accounts.login("owner@example.pl", "wrong-password-1", ctx=CTX)
    setup = accounts.start_two_factor(owner_id)
    accounts.confirm_two_factor(owner_id, pyotp.TOTP(setup["secret"]).now(), ctx=CTX)
    history = accounts.account_history(owner_id)
    types = [item["type"] for item in history["items"]]
    assert types[:2] == ["totp_code_used", "two_factor_enabled"] and "login_failed" in types
    failed = next(item for item in history["items"] if item["type"] == "login_failed")
    assert failed["ip"] == "203.0.113.7"
    dumped = json.dumps(accounts.export_account(owner_id))
    for secret in (setup["secret"], "password_hash", "token_hash", "recovery_code_hashes"):
        assert secret not in dumped
    assert "owner@example.pl" in dumped


def test_unsubscribe_token_is_signed_and_opting_out_is_an_event(accounts):
    owner_id = _verified_owner(accounts)
    accounts.update_settings(owner_id, {"mailing_list": True}, ctx=CTX)
    [recipient] = accounts.mailing_list_recipients()
    assert recipient["account_id"] == owner_id
    with pytest.raises(CommandError):
        accounts.unsubscribe(owner_id + ".forged", ctx=CTX)
    accounts.unsubscribe(recipient["unsubscribe_token"], ctx=CTX)
    assert accounts.dispatch.types()[-1] == "mailing_list_unsubscribed"
    assert accounts.mailing_list_recipients() == []


def test_sessions_list_and_ending_the_others(accounts):
    owner_id = _verified_owner(accounts)
    first = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    second = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    listed = accounts.list_sessions(owner_id, second["session_id"])
    assert {s["session_id"] for s in listed} == {first["session_id"], second["session_id"]}
    assert accounts.end_other_sessions(owner_id, second["session_id"], ctx=CTX) == {"ended": 1}
    assert accounts.authenticate(first["token"]) is None and accounts.authenticate(second["token"])
