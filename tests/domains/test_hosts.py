"""Child nameservers (glue) of a customer's own domain through the domains service, with the sandbox
registry and with the EPP registrar against the local EPP registry (tools/epp_server.py)."""

from __future__ import annotations

import uuid

import pytest
from nameko.testing.services import worker_factory

from kernel import clock
from kernel.errors import CommandError, NotFound
from kernel.events import Event, new_id
from services.domains.domain import domain_id_for
from services.domains.registrar import RegistrarError, registrar
from services.domains.service import DomainsService
from tests.contract_examples import event_data
from tests.domains.test_registrar_contract import epp_settings
from tests.fakes import RecordingDispatch, recording_events_api
from tools.epp_server import EppServer

INTEGRATION = True  # the EPP registry is a server of its own
CTX = {"actor": {"type": "customer", "id": "a1"}, "ip": "127.0.0.1"}
V4, V4_OTHER, V6 = "185.12.64.1", "185.12.64.2", "2a01:4f8:c0c:1::53"
BUYER = {"name": "Firma Kowalski", "person": "Jan Kowalski", "company": "Firma Kowalski", "nip": "5260250274",
         "street": "Prosta 1", "postcode": "00-001", "city": "Warszawa", "country": "PL", "email": "jan@example.pl"}  # fmt: skip


def buy(domains, account_id: str, name: str) -> str:
    """Billing's invoice for the registration, issued then paid; the domain's id."""
    invoice_id = new_id()
    lines = [{"kind": "domain_registration", "description": name, "params": {"domain": name, "years": 1}, "net": 4900,
              "gross": 6027}]  # fmt: skip
    for event_type, extra in (("invoice_issued", {"buyer": BUYER}), ("invoice_paid", {})):
        data = event_data(event_type, account_id=account_id, invoice_id=invoice_id, lines=lines, **extra)
        message = Event(new_id(), f"customer-{account_id}", 1, event_type, clock.now(), data, {}).to_message()
        getattr(domains, f"on_{event_type}")(message)
    return domain_id_for(invoice_id, 0)


@pytest.fixture(scope="module")
def epp_server(tmp_path_factory):
    server = EppServer(tmp_path_factory.mktemp("epp")).start()
    yield server
    server.stop()


@pytest.fixture(params=["sandbox", "epp"])
def kind(request, monkeypatch) -> str:
    if request.param == "epp":
        settings = epp_settings(request.getfixturevalue("epp_server"))
        env = {"REGISTRAR": "epp", "EPP_HOST": settings.host, "EPP_PORT": str(settings.port),
               "EPP_CLIENT_ID": settings.client_id, "EPP_PASSWORD": settings.password,
               "EPP_CERT_FILE": settings.cert_file, "EPP_KEY_FILE": settings.key_file,
               "EPP_CA_FILE": settings.ca_file}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    return request.param


@pytest.fixture
def published() -> RecordingDispatch:
    return RecordingDispatch()


@pytest.fixture
def domains(kind, mongo_alias, published, clock_file, monkeypatch):
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0")
    mongo_alias("domains")
    return worker_factory(DomainsService, events=recording_events_api(DomainsService, published))


@pytest.fixture
def domain(domains) -> tuple[str, str]:
    name = f"glue-{uuid.uuid4().hex[:10]}.pl"
    domain_id = buy(domains, "a1", name)
    assert domains.get_domain("a1", domain_id)["status"] == "active"
    return domain_id, name


def test_a_child_nameserver_is_created_changed_and_deleted_at_the_registry(domains, domain, published):
    domain_id, name = domain
    listed = domains.create_host("a1", domain_id, "ns1", [V4, V6], ctx=CTX)
    assert listed["hosts"] == [{"host": f"ns1.{name}", "unicode_host": f"ns1.{name}", "addresses": [V4, V6]}]
    assert registrar().host_info(f"ns1.{name}")["addresses"] == [V4, V6]
    domains.update_host("a1", domain_id, f"ns1.{name}", f"{V4_OTHER}\n{V6}", ctx=CTX)
    assert sorted(registrar().host_info(f"ns1.{name}")["addresses"]) == sorted([V4_OTHER, V6])
    assert domains.list_hosts("a1", domain_id)["hosts"][0]["addresses"] == [V4_OTHER, V6]
    domains.delete_host("a1", domain_id, "ns1", ctx=CTX)
    assert domains.list_hosts("a1", domain_id)["hosts"] == []
    with pytest.raises(RegistrarError) as gone:
        registrar().host_info(f"ns1.{name}")
    assert gone.value.code == "domains_host_not_registered"
    kinds = [m["type"] for _, m in published.messages if m["type"].startswith("domain_host")]
    assert kinds == ["domain_host_created", "domain_host_changed", "domain_host_deleted"]


def test_the_domain_delegated_to_its_own_hosts_keeps_them(domains, domain):
    domain_id, name = domain
    for label, address in (("ns1", V4), ("ns2", V4_OTHER)):
        domains.create_host("a1", domain_id, label, [address], ctx=CTX)
    own = [f"ns1.{name}", f"ns2.{name}"]
    domains.update_domain("a1", domain_id, {"nameservers": own}, ctx=CTX)
    assert sorted(registrar().info(name)["nameservers"]) == own
    with pytest.raises(CommandError) as in_use:
        domains.delete_host("a1", domain_id, "ns1", ctx=CTX)
    assert in_use.value.code == "domains_host_in_use"
    assert registrar().host_info(f"ns1.{name}")["addresses"] == [V4]


@pytest.mark.parametrize(
    ("host", "addresses", "fields"),
    [
        ("ns1.inna-domena.pl", [V4], {"host": "domains_host_not_under_domain"}),
        ("ns_1", [V4], {"host": "domains_invalid_host"}),
        ("", [V4], {"host": "required"}),
        ("ns1", ["10.0.0.1"], {"addresses": "domains_ip_not_public"}),
        ("ns1", ["300.1.1.1"], {"addresses": "domains_invalid_ip"}),
        ("ns1", " ", {"addresses": "domains_addresses_required"}),
        ("ns1", [f"185.12.64.{i}" for i in range(1, 10)], {"addresses": "domains_too_many_addresses"}),
    ],
)
def test_bad_input_names_the_field(domains, domain, host, addresses, fields):
    with pytest.raises(CommandError) as refused:
        domains.create_host("a1", domain[0], host, addresses, ctx=CTX)
    assert refused.value.fields == fields


def test_only_the_owner_and_only_once(domains, domain):
    domain_id, name = domain
    with pytest.raises(NotFound):
        domains.create_host("a2", domain_id, "ns1", [V4], ctx=CTX)
    domains.create_host("a1", domain_id, "ns1", [V4], ctx=CTX)
    with pytest.raises(CommandError) as twice:
        domains.create_host("a1", domain_id, f"NS1.{name.upper()}.", [V4], ctx=CTX)
    assert twice.value.code == "domains_host_exists"
    with pytest.raises(NotFound):
        domains.update_host("a1", domain_id, "ns9", [V4], ctx=CTX)


@pytest.mark.parametrize("kind", ["epp"], indirect=True)  # the sandbox keeps no contacts
def test_the_registrant_contact_comes_from_the_invoice_buyer(kind, domains, domain, request):
    server: EppServer = request.getfixturevalue("epp_server")
    registrant = server.registry.domains[domain[1]].registrant
    contact = server.registry.contacts[registrant]
    assert (contact.email, contact.postal[0]["name"], contact.postal[0]["org"]) == (BUYER["email"], "Jan Kowalski",
                                                                                   "Firma Kowalski")  # fmt: skip
    assert (contact.postal[0]["city"], contact.postal[0]["cc"], contact.postal[0]["pc"]) == ("Warszawa", "PL", "00-001")
