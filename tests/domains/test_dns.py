"""DNS zones against a real PowerDNS: the domains service (worker_factory, real database) changes records,
then PowerDNS itself is asked over DNS (dnspython) what it answers. PowerDNS stopped: changes stay
pending and the timer's method applies them once it is back."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from kernel.errors import CommandError, NotFound
from services.domains import dns as zones
from tests.conftest import free_port
from tests.domains.test_service import buy, domains, published  # noqa: F401 (fixtures)
from tools.devstack import port_open, wait_until
from tools.pdns import PowerDns, installed

INTEGRATION = True  # a PowerDNS server of its own
pytestmark = pytest.mark.skipif(not installed(), reason="PowerDNS missing: make deps (pdns-server)")


class PdnsProcess:
    def __init__(self, directory: Path):
        self.config = PowerDns(directory, dns_port=free_port(), api_port=free_port(), api_key="test-key")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.config.prepare()
        log = open(self.config.directory / "pdns.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(self.config.argv(), stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: port_open("127.0.0.1", self.config.api_port), 20, "PowerDNS API")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)

    def ask(self, name: str, kind: str) -> list[str]:
        query = dns.message.make_query(name, kind)
        answer = dns.query.udp(query, "127.0.0.1", port=self.config.dns_port, timeout=3)
        wanted = dns.rdatatype.from_text(kind)
        return sorted(r.to_text() for rrset in answer.answer if rrset.rdtype == wanted for r in rrset)


@pytest.fixture
def pdns(tmp_path, monkeypatch):
    server = PdnsProcess(tmp_path / "pdns")
    server.start()
    monkeypatch.setenv("PDNS_API_URL", server.config.api_url)
    monkeypatch.setenv("PDNS_API_KEY", server.config.api_key)
    monkeypatch.setenv("PDNS_TIMEOUT", "2")
    yield server
    server.stop()


def registered(domains, published, name: str) -> str:  # noqa: F811
    return buy(domains, "a1", "domain_registration", domain=name, years=1)


def test_a_registered_domain_gets_a_default_zone_served_by_powerdns(domains, published, pdns):  # noqa: F811
    domain_id = registered(domains, published, "strona-dns.pl")
    zone = domains.get_zone("a1", domain_id)
    assert zone["status"] == "applied" and zone["nameservers"] == ["ns1.panel.localhost", "ns2.panel.localhost"]
    assert pdns.ask("strona-dns.pl", "A") == [zones.HOSTING_IPV4]
    assert pdns.ask("strona-dns.pl", "AAAA") == [zones.HOSTING_IPV6]
    assert pdns.ask("strona-dns.pl", "MX") == ["10 mail.strona-dns.pl."]
    assert pdns.ask("strona-dns.pl", "NS") == ["ns1.panel.localhost.", "ns2.panel.localhost."]
    assert pdns.ask("www.strona-dns.pl", "CNAME") == ["strona-dns.pl."]
    assert pdns.ask("strona-dns.pl", "SOA")[0].startswith("ns1.panel.localhost. hostmaster.panel.localhost.")
    assert published.types().count("dns_zone_created") == 1
    domains.run_cycle()
    assert domains.get_zone("a1", domain_id)["version"] == zone["version"]


def test_customer_records_are_answered_by_powerdns(domains, published, pdns):  # noqa: F811
    domain_id = registered(domains, published, "zażółć-dns.pl")
    domains.add_dns_record("a1", domain_id, {"name": "sklep", "type": "A", "ttl": 300, "value": "192.0.2.10"})
    domains.add_dns_record("a1", domain_id, {"name": "@", "type": "MX", "value": "mx.example.com", "priority": 20})
    domains.add_dns_record("a1", domain_id, {"name": "żółw", "type": "AAAA", "value": "2001:db8::1"})
    domains.add_dns_record("a1", domain_id, {"name": "_sip._tcp", "type": "SRV", "value": "sip.example.com.",
                                             "priority": 10, "weight": 5, "port": 5060})  # fmt: skip
    domains.add_dns_record("a1", domain_id, {"name": "@", "type": "CAA", "flags": 0, "tag": "issue",
                                             "value": "letsencrypt.org"})  # fmt: skip
    domains.add_dns_record("a1", domain_id, {"name": "_dmarc", "type": "TXT", "value": 'v=DMARC1; p=none; x="y"'})
    zone = domains.get_zone("a1", domain_id)
    apex = zone["name"]
    assert zone["status"] == "applied" and zone["unicode_name"] == "zażółć-dns.pl"
    assert pdns.ask(f"sklep.{apex}", "A") == ["192.0.2.10"]
    assert pdns.ask(apex, "MX") == [f"10 mail.{apex}.", "20 mx.example.com."]
    assert pdns.ask(f"xn--w-uga1v8h.{apex}", "AAAA") == ["2001:db8::1"]
    assert pdns.ask(f"_sip._tcp.{apex}", "SRV") == ["10 5 5060 sip.example.com."]
    assert pdns.ask(apex, "CAA") == ['0 issue "letsencrypt.org"']
    assert pdns.ask(f"_dmarc.{apex}", "TXT") == ['"v=DMARC1; p=none; x=\\"y\\""']
    shown = {(r["unicode_name"], r["type"]) for r in zone["records"]}
    assert ("żółw", "AAAA") in shown and ("sklep", "A") in shown

    sklep = next(r for r in zone["records"] if r["name"] == "sklep")
    domains.update_dns_record("a1", domain_id, sklep["id"], {"name": "sklep", "type": "A", "value": "192.0.2.11"})
    assert pdns.ask(f"sklep.{apex}", "A") == ["192.0.2.11"]
    domains.delete_dns_record("a1", domain_id, sklep["id"])
    assert pdns.ask(f"sklep.{apex}", "A") == []
    with pytest.raises(NotFound):
        domains.delete_dns_record("a1", domain_id, sklep["id"])
    with pytest.raises(NotFound):
        domains.get_zone("a2", domain_id)  # another account's domain

    exported = domains.export_zone("a1", domain_id)["text"]
    assert f"$ORIGIN {apex}." in exported and "_sip._tcp\t3600\tIN\tSRV\t10 5 5060 sip.example.com." in exported
    domains.reset_zone("a1", domain_id)
    assert pdns.ask(f"_sip._tcp.{apex}", "SRV") == [] and pdns.ask(apex, "MX") == [f"10 mail.{apex}."]


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        ({"name": "www", "type": "A", "value": "1.2.3.4"}, {"name": "dns_cname_exclusive"}),  # www is a CNAME
        ({"name": "@", "type": "CNAME", "value": "example.com."}, {"name": "dns_cname_at_apex"}),
        ({"name": "mail", "type": "CNAME", "value": "example.com."}, {"name": "dns_cname_exclusive"}),
        ({"name": "x", "type": "A", "value": "1.2.3.400"}, {"value": "dns_invalid_a"}),
        ({"name": "x", "type": "AAAA", "value": "1.2.3.4"}, {"value": "dns_invalid_aaaa"}),
        ({"name": "x", "type": "A", "value": "1.2.3.4", "ttl": 5}, {"ttl": "dns_invalid_ttl"}),
        ({"name": "x", "type": "A", "value": "1.2.3.4", "ttl": "1e3"}, {"ttl": "dns_invalid_ttl"}),
        ({"name": "a..b", "type": "A", "value": "1.2.3.4"}, {"name": "dns_invalid_name"}),
        ({"name": "x.*", "type": "A", "value": "1.2.3.4"}, {"name": "dns_invalid_name"}),
        ({"name": "@", "type": "MX", "value": "mail"}, {"priority": "dns_invalid_priority"}),
        ({"name": "@", "type": "MX", "value": "mail", "priority": 70000}, {"priority": "dns_invalid_priority"}),
        (
            {"name": "sip", "type": "SRV", "value": "a.b.", "priority": 1, "weight": 1, "port": 1},
            {"name": "dns_srv_name"},
        ),
        ({"name": "@", "type": "CAA", "flags": 0, "tag": "owner", "value": "x"}, {"tag": "dns_invalid_caa_tag"}),
        ({"name": "@", "type": "TXT", "value": "a\x00b"}, {"value": "dns_invalid_text"}),
        ({"name": "@", "type": "NS", "value": "ns.example.com."}, {"type": "dns_invalid_type"}),
        ({"name": "@", "type": "A", "value": "1.2.3.4", "colour": "red"}, {"colour": "unknown_field"}),
        ({"name": "@", "type": "A", "value": zones.HOSTING_IPV4}, {"value": "dns_duplicate_record"}),
    ],
)
def test_bad_records_are_refused_naming_the_field(domains, published, pdns, record, fields):  # noqa: F811
    domain_id = registered(domains, published, "walidacja-dns.pl")
    before = domains.get_zone("a1", domain_id)
    with pytest.raises(CommandError) as refused:
        domains.add_dns_record("a1", domain_id, record)
    assert refused.value.fields == fields
    assert domains.get_zone("a1", domain_id)["version"] == before["version"]


def test_changes_wait_while_powerdns_is_down_and_apply_when_it_is_back(domains, published, pdns):  # noqa: F811
    domain_id = registered(domains, published, "przerwa-dns.pl")
    pdns.stop()
    changed = domains.add_dns_record("a1", domain_id, {"name": "api", "type": "A", "value": "192.0.2.20"})
    assert changed["status"] == "pending" and changed["applied_version"] < changed["version"]
    assert domains.apply_pending_zones() == {"pending": 1, "applied": 0}
    pdns.start()
    assert domains.apply_pending_zones() == {"pending": 1, "applied": 1}
    assert domains.get_zone("a1", domain_id)["status"] == "applied"
    assert pdns.ask("api.przerwa-dns.pl", "A") == ["192.0.2.20"]
    assert domains.apply_pending_zones() == {"pending": 0, "applied": 0}


def test_zone_file_and_rrsets_from_the_records():
    records = [{"id": "1", "name": "@", "type": "TXT", "ttl": 600, "value": "x" * 300},
               {"id": "2", "name": "www", "type": "A", "ttl": 300, "value": "192.0.2.1"},
               {"id": "3", "name": "www", "type": "A", "ttl": 60, "value": "192.0.2.2"}]  # fmt: skip
    sets = {(r["name"], r["type"]): r for r in zones.rrsets("a.pl", ["ns1.x.pl"], records, 7)}
    assert sets[("www.a.pl.", "A")] == {"name": "www.a.pl.", "type": "A", "ttl": 60,
                                        "records": ["192.0.2.1", "192.0.2.2"]}  # fmt: skip
    assert sets[("a.pl.", "TXT")]["records"] == [f'"{"x" * 255}" "{"x" * 45}"']
    assert sets[("a.pl.", "SOA")]["records"] == ["ns1.x.pl. hostmaster.panel.localhost. 7 10800 3600 604800 3600"]
    text = zones.zone_file("a.pl", ["ns1.x.pl"], records, 7)
    assert text.startswith("$ORIGIN a.pl.\n$TTL 3600\n@\t3600\tIN\tSOA\t") and "www\t60\tIN\tA\t192.0.2.2" in text
