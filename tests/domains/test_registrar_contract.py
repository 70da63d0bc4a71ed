"""One contract for every registrar: the sandbox registry and the EPP registrar (services/domains/epp.py)
against the local EPP registry (tools/epp_server.py: TLS with client certificates, RFC 5734 frames, every
frame checked against the RFC schemas). Each test runs once per registrar."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kernel import clock
from services.domains.epp import EppRegistrar, EppSettings
from services.domains.registrar import Registrar, RegistrarError, SandboxRegistrar, sandbox_epp_code
from tests.e2e.helpers import wait_for
from tools.epp_server import EppServer

INTEGRATION = True  # the EPP registry is a server of its own
HOLDER = {"name": "Jan Kowalski", "person": "Jan Kowalski", "company": "", "street": "Prosta 1", "postcode": "00-001",
          "city": "Warszawa", "country": "PL", "email": "jan@example.pl"}  # fmt: skip
NS = ["ns1.panel.localhost", "ns2.panel.localhost"]
YEAR = dt.timedelta(days=365)


@dataclass
class Harness:
    registrar: Registrar
    now: Callable[[], dt.datetime]
    foreign: Callable[[str], str]  # a name held at another registrar -> the EPP code its holder has
    complete_transfers: Callable[[str], None]  # the losing side lets the pending transfer go
    created: Callable[[str], int]  # how many times the registry registered this name
    server: EppServer | None = None
    names: list[str] = field(default_factory=list)

    def name(self, label: str = "kontrakt") -> str:
        return f"{label}-{uuid.uuid4().hex[:10]}.pl"


@pytest.fixture(scope="module")
def epp_server(tmp_path_factory):
    server = EppServer(tmp_path_factory.mktemp("epp"), transfer_seconds=3600).start()
    yield server
    server.stop()


def epp_settings(server: EppServer, **changes) -> EppSettings:
    files = server.files
    settings = dict(host="127.0.0.1", port=server.port, client_id="panel-test", password="secret-pw1",
                    cert_file=files["client_cert"], key_file=files["client_key"], ca_file=files["ca"], timeout=5.0)  # fmt: skip
    return EppSettings(**{**settings, **changes})


def _sandbox(request) -> Harness:
    request.getfixturevalue("mongo_alias")("domains")
    request.getfixturevalue("clock_file")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0")
    monkeypatch.setenv("SANDBOX_TRANSFER_SECONDS", "3600")
    from services.domains.registrar import RegistryDomain

    return Harness(SandboxRegistrar(), clock.now, sandbox_epp_code, lambda _name: clock.advance(3601),
                   lambda name: RegistryDomain.objects(id=name).count())  # fmt: skip


def _epp(request) -> Harness:
    server: EppServer = request.getfixturevalue("epp_server")

    def created(name: str) -> int:
        return sum(1 for c in server.commands("domain:create") if c["code"] == 1000 and c["name"] == name)

    now = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)  # noqa: E731  (the test registry keeps real time)
    return Harness(EppRegistrar(epp_settings(server)), now, server.seed_domain, server.approve_transfers, created,
                   server)  # fmt: skip


@pytest.fixture(params=["sandbox", "epp"])
def registry(request) -> Harness:
    return _sandbox(request) if request.param == "sandbox" else _epp(request)


def close(a: dt.datetime, b: dt.datetime) -> bool:
    return abs(a - b) < dt.timedelta(seconds=2)


# --- the contract ---------------------------------------------------------------------------------
def test_available_then_taken_once_registered(registry):
    name = registry.name()
    assert registry.registrar.check(name).available
    registry.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    assert not registry.registrar.check(name).available
    held_elsewhere = registry.name("cudza-taken")
    registry.foreign(held_elsewhere)
    assert not registry.registrar.check(held_elsewhere).available
    with pytest.raises(RegistrarError) as taken:
        registry.registrar.register(held_elsewhere, 1, NS, ref="order-2", holder=HOLDER)
    assert taken.value.code == "domains_taken" and not taken.value.temporary


def test_create_then_info(registry):
    name = registry.name()
    expires = registry.registrar.register(name, 2, NS, ref=f"order-{name}", holder=HOLDER)
    assert dt.timedelta(days=2 * 365 - 1) < expires - registry.now() <= dt.timedelta(days=2 * 366)
    info = registry.registrar.info(name)
    assert info["name"] == name and close(info["expires_at"], expires)
    assert sorted(info["nameservers"]) == NS and info["locked"] in (True, False)
    assert registry.registrar.still_ours(name) and registry.registrar.get_epp_code(name)


def test_renew_from_the_current_expiry_date(registry):
    name = registry.name()
    first = registry.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    renewed = registry.registrar.renew(name, 2, ref=f"renew-{name}")
    assert close(renewed, first.replace(year=first.year + 2))
    assert close(registry.registrar.info(name)["expires_at"], renewed)
    with pytest.raises(RegistrarError) as not_ours:
        registry.registrar.renew(registry.name(), 1, ref="renew-x")
    assert not_ours.value.code == "domains_not_registered"


def test_transfer_pending_then_completed(registry):
    name = registry.name("przenoszona-taken")
    code = registry.foreign(name)
    registry.registrar.transfer(name, code, ref=f"t-{name}")
    registry.registrar.transfer(name, code, ref=f"t-{name}")  # asked again (a retry): still the one transfer
    assert registry.registrar.transfer_status(name, f"t-{name}")["status"] == "pending"
    registry.complete_transfers(name)
    done = registry.registrar.transfer_status(name, f"t-{name}")
    assert done["status"] == "completed" and done["expires_at"] - registry.now() > YEAR
    assert registry.registrar.still_ours(name)
    assert registry.registrar.get_epp_code(name) not in ("", code)


def test_a_wrong_auth_code_is_refused(registry):
    name = registry.name("cudza-taken")
    registry.foreign(name)
    with pytest.raises(RegistrarError) as wrong:
        registry.registrar.transfer(name, "WRONG-CODE-1", ref=f"t-{name}")
    assert wrong.value.code == "domains_invalid_epp_code" and not wrong.value.temporary
    assert registry.registrar.transfer_status(name, f"t-{name}")["status"] == "unknown"


def test_nameservers_and_the_transfer_lock(registry):
    name = registry.name()
    registry.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    registry.registrar.set_nameservers(name, ["ns1.example.com", "ns2.panel.localhost"])
    assert sorted(registry.registrar.info(name)["nameservers"]) == ["ns1.example.com", "ns2.panel.localhost"]
    registry.registrar.set_lock(name, True)
    assert registry.registrar.info(name)["locked"]
    registry.registrar.set_lock(name, False)
    registry.registrar.set_lock(name, False)  # twice: nothing left to change
    assert not registry.registrar.info(name)["locked"]


def test_a_lost_connection_mid_create_registers_once(registry):
    """The registry applies the create, then the link breaks before the answer: the registrar finds out
    with info that the name is ours and answers the expiry; the order's retry gets the same answer."""
    name = registry.name()
    if registry.server:
        registry.server.fail_next("domain:create", "drop_after")
    expires = registry.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    again = registry.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    assert close(again, expires) and registry.created(name) == 1
    assert close(registry.registrar.info(name)["expires_at"], expires)


# --- EPP only: the faults a network and a registry add ----------------------------------------------
@pytest.fixture
def epp(request) -> Harness:
    return _epp(request)


def test_epp_a_create_lost_before_it_was_applied_is_sent_again(epp):
    name = epp.name()
    epp.server.fail_next("domain:create", "drop_before")
    expires = epp.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    assert epp.created(name) == 1 and close(epp.registrar.info(name)["expires_at"], expires)
    sent = [c["cltrid"] for c in epp.server.commands("domain:create") if c["name"] == name]
    assert sent == [f"panel-create-order-{name}"] * 2  # the operation's ref is the clTRID, both times


def test_epp_a_renew_lost_after_it_was_applied_is_not_repeated(epp):
    name = epp.name()
    first = epp.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    epp.server.fail_next("domain:renew", "drop_after")
    renewed = epp.registrar.renew(name, 1, ref="invoice-1")
    assert close(renewed, first.replace(year=first.year + 1))
    assert close(epp.registrar.info(name)["expires_at"], renewed)


def test_epp_command_failed_and_down_are_temporary(epp):
    name = epp.name()
    epp.server.fail_next("domain:create", "2400")
    with pytest.raises(RegistrarError) as failed:
        epp.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    assert failed.value.temporary and epp.created(name) == 0
    epp.server.down()
    try:
        with pytest.raises(RegistrarError) as down:
            epp.registrar.check(name)
        assert down.value.temporary and down.value.code == "domains_registry_unavailable"
    finally:
        epp.server.up()
    epp.registrar.register(name, 1, NS, ref=f"order-{name}", holder=HOLDER)
    assert epp.created(name) == 1


def test_epp_contacts_come_from_the_holder_and_are_made_once(epp):
    first, second = epp.name(), epp.name()
    holder = {**HOLDER, "email": f"{first}@example.pl"}  # the registry is shared by this module's tests
    epp.registrar.register(first, 1, NS, ref=f"order-{first}", holder=holder)
    epp.registrar.register(second, 1, NS, ref=f"order-{second}", holder=holder)
    contacts = epp.server.registry.contacts
    handle = epp.server.registry.domains[first].registrant
    assert epp.server.registry.domains[second].registrant == handle
    assert contacts[handle].email == holder["email"] and contacts[handle].postal[0]["city"] == "Warszawa"
    assert [c["code"] for c in epp.server.commands("contact:create") if c["name"] == handle] == [1000, 2302]


def test_epp_needs_the_client_certificate_and_the_password(epp):
    without_certificate = EppRegistrar(epp_settings(epp.server, cert_file=None, key_file=None))
    with pytest.raises(RegistrarError) as refused:
        without_certificate.check(epp.name())
    assert refused.value.temporary  # the handshake fails: nothing was asked
    wrong_password = EppRegistrar(epp_settings(epp.server, password="wrong-pw1"))
    with pytest.raises(RegistrarError) as login:
        wrong_password.check(epp.name())
    assert login.value.code == "domains_registry_refused" and not login.value.temporary


def test_epp_every_frame_is_checked_against_the_rfc_schemas(epp):
    from epptools import Client

    client = Client(epp_settings(epp.server).config())
    client.connect()
    client.login()
    client.throw_on_failure(False)
    bad = ('<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><info>'
           '<domain:info xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:nam>x.pl</domain:nam></domain:info>'
           "</info><clTRID>bad-frame-1</clTRID></command></epp>")  # fmt: skip
    answer = client.request(bad)
    assert answer.code() == 2001 and "domain:nam" not in answer.error_reasons()[0]
    assert "Expected is ( {urn:ietf:params:xml:ns:domain-1.0}name )" in answer.error_reasons()[0]
    client.logout()
    client.disconnect()


def test_epp_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("REGISTRAR", "epp")
    for key, value in {"EPP_HOST": "epp.example.pl", "EPP_PORT": "7000", "EPP_CLIENT_ID": "panel", "EPP_PASSWORD": "pw-123456",
                       "EPP_CERT_FILE": "/c.pem", "EPP_KEY_FILE": "/k.pem", "EPP_CA_FILE": "/ca.pem"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    from services.domains import registrar

    chosen = registrar.registrar()
    assert isinstance(chosen, EppRegistrar)
    assert chosen.settings == EppSettings("epp.example.pl", 7000, "panel", "pw-123456", "/c.pem", "/k.pem", "/ca.pem")


def test_epp_an_order_without_a_holder_gets_the_seller_as_registrant(epp, monkeypatch):
    monkeypatch.setenv("SELLER_NAME", "Panel Hosting sp. z o.o.")
    monkeypatch.setenv("EPP_CONTACT_EMAIL", "domeny@panel.example.com")
    name = epp.name()
    epp.registrar.register(name, 1, NS, ref=f"order-{name}")
    contact = epp.server.registry.contacts[epp.server.registry.domains[name].registrant]
    assert (contact.postal[0]["name"], contact.email) == ("Panel Hosting sp. z o.o.", "domeny@panel.example.com")


def test_epp_the_registry_approves_a_transfer_nobody_answered_in_time(tmp_path):
    # long enough that the first status is asked before the registry approves, even on a loaded machine
    server = EppServer(tmp_path / "epp", transfer_seconds=3).start()
    try:
        registrar = EppRegistrar(epp_settings(server))
        name = f"czeka-{uuid.uuid4().hex[:10]}.pl"
        code = server.seed_domain(name)
        registrar.transfer(name, code, ref="t-1")
        assert registrar.transfer_status(name, "t-1")["status"] == "pending"
        done = wait_for(lambda: (s := registrar.transfer_status(name, "t-1"))["status"] == "completed" and s,
                        timeout=30, what="the registry's own approval")  # fmt: skip
        assert registrar.still_ours(name) and done["expires_at"] > dt.datetime.now(dt.UTC).replace(tzinfo=None) + YEAR
        assert server.registry.transfers[name].status == "serverApproved"
    finally:
        server.stop()
