"""Issue #13, accounts: mail follows permissions, neutral registration and reset with mail limits,
a TOTP code accepted once, the password and the e-mail changed only with the current password,
and no control character or invalid Unicode in names, addresses and e-mail addresses. The service
as a nameko worker on the real database (events recorded instead of published)."""

from __future__ import annotations

import time

import pyotp
import pytest
from nameko.testing.services import worker_factory

from gateway.errors import status_of
from kernel.errors import CommandError
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.projections import AccountView, ContactView
from services.accounts.service import AccountsService
from tests.fakes import RecordingDispatch, recording_events_api

PASSWORD = "Bardzo-Tajne-2026"
NEW_PASSWORD = "Zupelnie-Nowe-2027"
CTX = {"ip": "203.0.113.9", "user_agent": "pytest"}
MANAGER = {"first_name": "Marek", "last_name": "Kontakty", "email": "marek@example.pl", "login": True,
           "permissions": ["contacts.manage"], "categories": []}  # fmt: skip


@pytest.fixture
def accounts(mongo_alias, monkeypatch):
    mongo_alias("accounts")
    monkeypatch.setattr("services.accounts.app.guards.NEUTRAL_ANSWER_SECONDS", 0)  # timing is measured end to end
    dispatch = RecordingDispatch()
    worker = worker_factory(AccountsService, events=recording_events_api(AccountsService, dispatch))
    worker.dispatch = dispatch
    return worker


def _owner(accounts, email: str = "owner@example.pl", ctx: dict = CTX) -> tuple[str, dict]:
    account_id = accounts.register(email, PASSWORD, "Jan", "Kowal", "pl", ctx=ctx)["account_id"]
    token = next(m for m in accounts.dispatch.of("email_verification_requested") if m["data"]["email"] == email)
    accounts.verify_email(token["data"]["token"], ctx=ctx)
    return account_id, {**CTX, "actor": {"type": "customer", "id": account_id}}


def _contact_ctx(accounts, owner_id: str, owner_ctx: dict, contact: dict) -> tuple[str, dict]:
    added = accounts.add_contact(owner_id, contact, ctx=owner_ctx)
    return added["contact_id"], {**CTX, "actor": {"type": "contact", "id": added["contact_id"],
                                                  "account_id": owner_id}}  # fmt: skip


# --- 1. mail follows permissions ----------------------------------------------------
def test_a_contact_chooses_only_the_mail_its_view_permissions_cover(accounts):
    owner_id, owner_ctx = _owner(accounts)
    manager_id, manager_ctx = _contact_ctx(accounts, owner_id, owner_ctx, MANAGER)
    # the contacts.manage contact sets its own categories to billing and support: refused, nothing stored
    with pytest.raises(CommandError) as refused:
        accounts.update_contact(owner_id, manager_id, {"categories": ["billing", "support"]}, ctx=manager_ctx)
    assert status_of(refused.value) == 422 and refused.value.fields == {"categories": "category_not_permitted"}
    assert ContactView.objects(id=manager_id).first().categories == []
    # ... nor the owner for them, nor a new mail-only contact of its own making
    with pytest.raises(CommandError) as refused:
        accounts.update_contact(owner_id, manager_id, {"categories": ["billing"]}, ctx=owner_ctx)
    assert refused.value.fields == {"categories": "category_not_permitted"}
    own_address = {"first_name": "Marek", "last_name": "Prywatny", "email": "marek.prywatny@example.pl",
                   "login": False, "categories": ["billing"]}  # fmt: skip
    with pytest.raises(CommandError) as refused:
        accounts.add_contact(owner_id, own_address, ctx=manager_ctx)
    assert refused.value.fields == {"categories": "category_not_permitted"}
    assert [c["contact_id"] for c in accounts.get_notification_target(owner_id)["contacts"]] == []
    # the owner may still send invoices to a bookkeeper who never logs in
    bookkeeper = accounts.add_contact(owner_id, {**own_address, "email": "biuro@example.pl"}, ctx=owner_ctx)
    assert bookkeeper["categories"] == ["billing"]
    # a contact with the view permission may choose it
    payer = {**MANAGER, "email": "ewa@example.pl", "permissions": ["invoices.view"], "categories": ["billing"]}
    payer_id, _ = _contact_ctx(accounts, owner_id, owner_ctx, payer)
    assert ContactView.objects(id=payer_id).first().categories == ["billing"]


def test_taking_a_permission_away_trims_the_categories_by_an_event(accounts):
    owner_id, owner_ctx = _owner(accounts)
    payer = {**MANAGER, "permissions": ["invoices.view", "tickets.view"], "categories": ["billing", "support"]}
    payer_id, _ = _contact_ctx(accounts, owner_id, owner_ctx, payer)
    accounts.update_contact(owner_id, payer_id, {"permissions": ["tickets.view"]}, ctx=owner_ctx)
    updated = accounts.dispatch.of("contact_updated")[-1]["data"]
    assert updated["changes"] == {"permissions": ["tickets.view"], "categories": ["support"]}
    target = accounts.get_notification_target(owner_id)
    assert [(c["contact_id"], c["categories"]) for c in target["contacts"]] == [(payer_id, ["support"])]


def test_categories_stored_before_the_rule_are_not_mailed_beyond_the_permissions(accounts):
    owner_id, owner_ctx = _owner(accounts)
    manager_id, _ = _contact_ctx(accounts, owner_id, owner_ctx, MANAGER)
    ContactView.objects(id=manager_id).update_one(set__categories=["billing", "support"])  # as an old event left it
    assert accounts.get_notification_target(owner_id)["contacts"] == []


# --- 2 and 5. neutral registration and reset, mail limits ----------------------------
def test_a_known_address_registering_again_is_told_by_mail_within_the_per_address_limit(accounts):
    _owner(accounts)
    for _ in range(4):
        assert accounts.register("Owner@Example.pl", "Inne-Haslo-2026", "Ktoś", "Inny", "en", ctx=CTX) == {}
    assert AccountView.objects(email="owner@example.pl").count() == 1
    attempted = accounts.dispatch.of("registration_attempted")
    # the verification mail of the registration counts: 1 + 2 = 3 mails to that address this hour
    assert [m["data"] for m in attempted] == [{"email": "owner@example.pl", "language": "en"}] * 2
    for _ in range(2):
        accounts.request_password_reset("owner@example.pl", ctx=CTX)
    assert accounts.dispatch.of("password_reset_requested") == []  # the limit holds for resets too


def test_resets_and_resends_are_limited_per_address(accounts, monkeypatch):
    monkeypatch.setenv("MAIL_LIMIT_PER_ADDRESS", "3")
    account_id = accounts.register("nowy@example.pl", PASSWORD, "Jan", "Nowy", "pl", ctx=CTX)["account_id"]
    for _ in range(4):
        assert accounts.resend_verification("nowy@example.pl", ctx=CTX) == {}
    mails = accounts.dispatch.of("email_verification_requested")
    assert len(mails) == 3 and {m["stream_id"] for m in mails} == {f"account-{account_id}"}


def test_requests_from_one_client_address_are_limited_per_hour(accounts, monkeypatch):
    monkeypatch.setenv("MAIL_LIMIT_PER_IP", "3")
    noisy, quiet = {**CTX, "ip": "198.51.100.1"}, {**CTX, "ip": "198.51.100.2"}
    for n in range(3):
        _owner(accounts, f"osoba{n}@example.pl", ctx=quiet)
    before = len(accounts.dispatch.of("password_reset_requested"))
    for n in range(3):
        accounts.request_password_reset(f"osoba{n}@example.pl", ctx=noisy)
    accounts.request_password_reset("nieznany@example.pl", ctx=noisy)  # unknown addresses count too
    assert len(accounts.dispatch.of("password_reset_requested")) - before == 3
    accounts.request_password_reset("osoba0@example.pl", ctx=noisy)  # the fourth and fifth: nothing sent
    assert accounts.register("nowa@example.pl", PASSWORD, "A", "B", "pl", ctx=noisy) == {}
    assert AccountView.objects(email="nowa@example.pl").count() == 0
    assert len(accounts.dispatch.of("password_reset_requested")) - before == 3
    accounts.request_password_reset("osoba1@example.pl", ctx={**CTX, "ip": "198.51.100.3"})  # another client
    assert len(accounts.dispatch.of("password_reset_requested")) - before == 4


# --- 4. a TOTP code is accepted once ------------------------------------------------
def test_the_code_that_turned_two_factor_on_is_refused_at_the_next_login(accounts):
    owner_id, owner_ctx = _owner(accounts)
    secret = accounts.start_two_factor(owner_id)["secret"]
    confirming = pyotp.TOTP(secret).now()
    accounts.confirm_two_factor(owner_id, confirming, ctx=owner_ctx)
    challenge = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)["challenge"]
    with pytest.raises(CommandError) as refused:
        accounts.login_second_factor(challenge, confirming, ctx=CTX)
    assert refused.value.fields == {"code": "code_already_used"}
    older = pyotp.TOTP(secret).at(time.time() - 30)  # a step before the used one: refused as well
    with pytest.raises(CommandError):
        accounts.login_second_factor(challenge, older, ctx=CTX)
    used = accounts.dispatch.of("totp_code_used")
    assert len(used) == 1 and used[0]["data"]["step"] in (int(time.time() // 30), int(time.time() // 30) - 1)


# --- 6. password and e-mail changed only with the current password -----------------------
def test_changing_the_password_needs_the_current_one_and_ends_the_other_sessions(accounts):
    owner_id, owner_ctx = _owner(accounts)
    here = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    there = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    with pytest.raises(CommandError) as refused:
        accounts.change_password(owner_id, "nie-to-haslo-123", NEW_PASSWORD, None, here["session_id"], ctx=owner_ctx)
    assert status_of(refused.value) == 422 and refused.value.fields == {"current_password": "wrong_password"}
    with pytest.raises(CommandError) as refused:
        accounts.change_password(owner_id, PASSWORD, "krotkie", None, here["session_id"], ctx=owner_ctx)
    assert refused.value.fields == {"new_password": "password_too_short"}
    assert accounts.authenticate(there["token"])  # nothing changed yet
    done = accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, None, here["session_id"], ctx=owner_ctx)
    assert done == {"sessions_ended": 1}
    assert accounts.authenticate(there["token"]) is None and accounts.authenticate(here["token"])
    with pytest.raises(CommandError):
        accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    assert accounts.login("owner@example.pl", NEW_PASSWORD, ctx=CTX)["token"]
    assert "password_hash" not in str(accounts.account_history(owner_id))


def test_with_two_factor_on_a_password_change_also_needs_a_fresh_code(accounts):
    owner_id, owner_ctx = _owner(accounts)
    secret = accounts.start_two_factor(owner_id)["secret"]
    confirming = pyotp.TOTP(secret).now()
    accounts.confirm_two_factor(owner_id, confirming, ctx=owner_ctx)
    for code, field in ((None, "required"), (confirming, "code_already_used"), ("000000", "invalid_code")):
        with pytest.raises(CommandError) as refused:
            accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, code, None, ctx=owner_ctx)
        assert refused.value.fields == {"code": field}
    following = pyotp.TOTP(secret).at(time.time() + 30)
    assert accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, following, None, ctx=owner_ctx)


def test_a_contact_cannot_change_the_owners_password(accounts):
    owner_id, owner_ctx = _owner(accounts)
    _, manager_ctx = _contact_ctx(accounts, owner_id, owner_ctx, MANAGER)
    with pytest.raises(CommandError) as refused:
        accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, None, None, ctx=manager_ctx)
    assert status_of(refused.value) == 403


def test_wrong_current_passwords_count_as_failed_logins(accounts):
    owner_id, owner_ctx = _owner(accounts)
    for n in range(5):
        with pytest.raises(CommandError):
            accounts.change_password(owner_id, f"zgadywane-{n}-haslo", NEW_PASSWORD, None, None, ctx=owner_ctx)
    with pytest.raises(CommandError) as refused:
        accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, None, None, ctx=owner_ctx)
    assert refused.value.code == "too_many_attempts"


def test_a_new_email_address_needs_the_current_password_and_ends_the_other_sessions(accounts):
    owner_id, owner_ctx = _owner(accounts)
    here = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    there = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    moving = {"email": "nowy.adres@example.pl", "first_name": "Janusz"}
    for password, field in ((None, "required"), ("nie-to-haslo-123", "wrong_password")):
        with pytest.raises(CommandError) as refused:
            accounts.update_settings(owner_id, moving, ctx=owner_ctx, current_password=password,
                                     keep_session_id=here["session_id"])  # fmt: skip
        assert status_of(refused.value) == 422 and refused.value.fields == {"current_password": field}
    view = AccountView.objects(id=owner_id).first()
    assert view.email == "owner@example.pl" and view.first_name == "Jan"  # all or nothing
    assert sessions.EmailClaim.objects(id="nowy.adres@example.pl").count() == 0  # the claim was given back
    assert accounts.authenticate(there["token"])
    accounts.update_settings(owner_id, moving, ctx=owner_ctx, current_password=PASSWORD,
                             keep_session_id=here["session_id"])  # fmt: skip
    assert AccountView.objects(id=owner_id).first().email == "nowy.adres@example.pl"
    assert accounts.authenticate(there["token"]) is None and accounts.authenticate(here["token"])
    # other settings need no password
    assert accounts.update_settings(owner_id, {"first_name": "Jan"}, ctx=owner_ctx)["first_name"] == "Jan"


# --- 8. control characters and invalid Unicode ----------------------------------------------
BAD_TEXT = ["Jan\x00", "Jan\nKowal", "Jan\r", "Jan\x1b[31m", "Jan\x7f", "Jan\x85", "Jan\u2028", "Jan\u2029", "Jan\ud800"]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_names_addresses_phones_and_emails_refuse_control_characters_and_invalid_unicode(accounts, bad):
    owner_id, owner_ctx = _owner(accounts)
    with pytest.raises(CommandError) as refused:
        accounts.register(f"{bad}@example.pl", PASSWORD, bad, bad, "pl", ctx=CTX)
    assert status_of(refused.value) == 422
    assert refused.value.fields == {"email": "invalid_characters", "first_name": "invalid_characters",
                                    "last_name": "invalid_characters"}  # fmt: skip
    address = {"company": bad, "street": bad, "postcode": "00-950", "city": bad, "country": "PL"}
    with pytest.raises(CommandError) as refused:
        accounts.update_settings(owner_id, {"first_name": bad, "phone": f"+48 600{bad}", "billing_address": address},
                                 ctx=owner_ctx)  # fmt: skip
    assert refused.value.fields == {
        "first_name": "invalid_characters", "phone": "invalid_characters",
        "billing_address.company": "invalid_characters", "billing_address.street": "invalid_characters",
        "billing_address.city": "invalid_characters",
    }  # fmt: skip
    with pytest.raises(CommandError) as refused:
        accounts.add_contact(owner_id, {**MANAGER, "email": f"x{bad}@example.pl", "last_name": bad}, ctx=owner_ctx)
    assert refused.value.fields == {"email": "invalid_characters", "last_name": "invalid_characters"}
    assert AccountView.objects(id=owner_id).first().first_name == "Jan"
    assert ContactView.objects(account_id=owner_id).count() == 0
    # looking somebody up with such text answers like for an unknown address, never an error
    assert accounts.request_password_reset(f"owner@example.pl{bad}", ctx=CTX) == {}
    with pytest.raises(CommandError) as refused:
        accounts.login(f"owner@example.pl{bad}", PASSWORD, ctx=CTX)
    assert refused.value.code == "invalid_credentials"


def test_wrong_types_and_huge_values_are_refused_with_the_field_named(accounts):
    owner_id, owner_ctx = _owner(accounts)
    changes = {"first_name": 5, "last_name": "x" * 10_000, "phone": ["+48"], "mailing_list": "yes",
               "notification_preferences": {"billing": "no"},
               "billing_address": {"street": 7, "postcode": "00-950", "city": "Łódź"}}  # fmt: skip
    with pytest.raises(CommandError) as refused:
        accounts.update_settings(owner_id, changes, ctx=owner_ctx)
    assert status_of(refused.value) == 422 and refused.value.fields == {
        "first_name": "invalid_type", "last_name": "too_long", "phone": "invalid_type", "mailing_list": "invalid_type",
        "notification_preferences.billing": "invalid_type", "billing_address.street": "invalid_type",
    }  # fmt: skip
    address = {"street": "Polna 1", "postcode": "00-950", "city": "Łódź", "country": "P" * 5000, "nip": "1" * 5000}
    with pytest.raises(CommandError) as refused:
        accounts.update_settings(owner_id, {"billing_address": address}, ctx=owner_ctx)
    assert refused.value.fields == {"billing_address.country": "too_long", "billing_address.nip": "too_long"}
    with pytest.raises(CommandError) as refused:
        accounts.add_contact(owner_id, {**MANAGER, "email": 12, "categories": "billing"}, ctx=owner_ctx)
    assert refused.value.fields == {"email": "invalid_type", "categories": "invalid_type"}
    with pytest.raises(CommandError) as refused:
        accounts.change_password(owner_id, PASSWORD, "x" * 10_000, None, None, ctx=owner_ctx)
    assert refused.value.fields == {"new_password": "password_too_long"}


def test_another_accounts_session_id_keeps_nothing_of_theirs_or_ours(accounts):
    owner_id, owner_ctx = _owner(accounts)
    other = _owner(accounts, "inny@example.pl")[0]
    theirs = accounts.login("inny@example.pl", PASSWORD, ctx=CTX)
    ours = accounts.login("owner@example.pl", PASSWORD, ctx=CTX)
    done = accounts.change_password(owner_id, PASSWORD, NEW_PASSWORD, None, theirs["session_id"], ctx=owner_ctx)
    assert done == {"sessions_ended": 1}
    assert accounts.authenticate(ours["token"]) is None
    assert accounts.authenticate(theirs["token"])["account_id"] == other


def test_the_checks_name_what_is_wrong():
    assert v.has_bad_characters("a\u2028b") and v.has_bad_characters("\ud800") and not v.has_bad_characters("Łódź")
    assert v.allowed_categories(["contacts.manage"]) == []
    assert v.allowed_categories(["invoices.view", "tickets.view"]) == ["billing", "support"]
    assert v.lookup_email(["a@b.pl"]) is None and v.lookup_email(" A@B.pl ") == "a@b.pl"
