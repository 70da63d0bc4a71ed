"""Account rules with no I/O: field checks and the aggregate's decisions."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel.errors import CommandError
from kernel.events import Event
from services.accounts import validation as v
from services.accounts.domain import Account


@pytest.mark.parametrize("nip", ["5260001246", "526-000-12-46", "PL 526 000 12 46", "7010006597"])
def test_valid_nips(nip):
    assert v.is_valid_nip(nip)


@pytest.mark.parametrize("nip", ["5260001247", "123456789", "12345678901", "abcdefghij", "1234567890"])
def test_invalid_nips(nip):
    assert not v.is_valid_nip(nip)


def test_billing_address_rules():
    clean, errors = v.check_billing_address(
        {"street": "Długa 1", "postcode": "00-950", "city": "Łódź", "nip": "526-000-12-46"}
    )
    assert errors == {} and clean["nip"] == "5260001246" and clean["country"] == "PL"
    _, errors = v.check_billing_address({"street": "", "postcode": "0095", "city": "Łódź", "nip": "1111111112"})
    assert errors == {"billing_address.street": "required", "billing_address.postcode": "invalid_postcode",
                      "billing_address.nip": "nip_checksum"}  # fmt: skip
    _, errors = v.check_billing_address({"street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "de",
                                         "nip": "DE123456789"})  # fmt: skip
    assert errors == {}


def test_security_mail_cannot_be_switched_off():
    clean, errors = v.check_preferences({"security": False, "domains": False})
    assert errors == {} and clean["security"] is True and clean["domains"] is False
    assert v.check_preferences({"spam": True})[1] == {"notification_preferences.spam": "unknown_category"}


def _replay(decide_events) -> Account:
    account = Account("account-1")
    for i, new in enumerate(decide_events, start=1):
        account.apply(Event(f"e{i}", "account-1", i, new.type, dt.datetime(2026, 1, 1), new.data, {}))
    return account


def _registered() -> Account:
    fresh = Account("account-1")
    return _replay(fresh.register("jan@example.pl", "hash", {"first_name": "Jan", "last_name": "K", "language": "pl"}))


def test_registration_asks_for_verification_and_the_token_works_once():
    account = _registered()
    request = [e for e in account.open_tokens.values()]
    assert request and request[0][0] == "verify"
    fresh = Account("account-1")
    events = fresh.register("jan@example.pl", "hash", {"first_name": "Jan", "last_name": "K", "language": "pl"})
    token = events[1].data["token"]
    account = _replay(events)
    verified = account.verify_email(token)
    account = _replay([*events, *verified])
    assert account.email_verified
    with pytest.raises(CommandError) as exc:
        account.verify_email(token)
    assert exc.value.code == "invalid_token"


def test_expired_reset_token_is_refused(monkeypatch):
    account = _registered()
    events = account.request_password_reset()
    token = events[0].data["token"]
    account.apply(
        Event("r", "account-1", account.version + 1, events[0].type, dt.datetime(2026, 1, 1), events[0].data, {})
    )
    from services.accounts import domain

    monkeypatch.setattr(domain.clock, "now", lambda: dt.datetime.now() + dt.timedelta(hours=2))
    with pytest.raises(CommandError) as exc:
        account.complete_password_reset(token, "new-hash")
    assert exc.value.code == "expired_token"


def test_settings_only_emit_what_changed_and_email_change_reverifies():
    account = _registered()
    assert account.update_settings({"first_name": "Jan", "mailing_list": False}) == []
    changes = {"first_name": "Janusz", "email": "nowy@example.pl", "mailing_list": True}
    with pytest.raises(CommandError) as refused:  # a new address needs the current password
        account.update_settings(changes, password_ok=lambda stored: False)
    assert refused.value.fields == {"current_password": "wrong_password"}
    events = account.update_settings(changes, password_ok=lambda stored: stored == "hash")
    assert [e.type for e in events] == [
        "profile_updated",
        "email_changed",
        "email_verification_requested",
        "mailing_list_subscribed",
    ]
    assert events[2].data["email"] == "nowy@example.pl"
