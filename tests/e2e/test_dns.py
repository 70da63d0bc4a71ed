"""DNS through the front door (issue #19): a customer registers a domain, opens its DNS zone, adds an A and
an MX record through the API and the DNS page, and the stack's own PowerDNS answers them over DNS."""

from __future__ import annotations

import uuid

import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests.e2e.helpers import csrf, register_verified, wait_for
from tests.e2e.test_domains import _api, _browser, _buy, _domain, services  # noqa: F401 (fixture)
from tools.pdns import installed

pytestmark = pytest.mark.skipif(not installed(), reason="PowerDNS missing: make deps (pdns-server)")


def ask(stack, name: str, kind: str) -> list[str]:
    answer = dns.query.udp(dns.message.make_query(name, kind), "127.0.0.1", port=stack.pdns_dns_port, timeout=3)
    wanted = dns.rdatatype.from_text(kind)
    return sorted(r.to_text() for rrset in answer.answer if rrset.rdtype == wanted for r in rrset)


def applied(base: str, token: str, path: str) -> dict:
    return wait_for(lambda: (z := _api(base, token, "GET", path).json())["status"] == "applied" and z, what="applied")


def test_register_then_records_answered_by_powerdns(stack, services):  # noqa: F811
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    name = f"dns-{uuid.uuid4().hex[:8]}.pl"
    domain = _buy(base, token, services, "domain_registration", {"domain": name, "years": 1})
    wait_for(lambda: _domain(base, token, domain["domain_id"])["status"] == "active", what="active domain")
    path = f"/domains/{domain['domain_id']}/dns"

    zone = _api(base, token, "GET", path)
    assert zone.status_code == 200, zone.text
    applied(base, token, path)  # PowerDNS took the new zone (pending while the registration's push runs)
    assert ask(stack, name, "MX") == [f"10 mail.{name}."]
    added = _api(base, token, "POST", f"{path}/records", json={"name": "sklep", "type": "A", "value": "192.0.2.7"})
    assert added.status_code == 201, added.text
    mx = {"name": "@", "type": "MX", "value": "mx1.example.net", "priority": 5, "ttl": 600}
    assert _api(base, token, "POST", f"{path}/records", json=mx).status_code == 201
    applied(base, token, path)
    assert ask(stack, f"sklep.{name}", "A") == ["192.0.2.7"]
    assert ask(stack, name, "MX") == [f"10 mail.{name}.", "5 mx1.example.net."]

    bad = _api(base, token, "POST", f"{path}/records", json={"name": "x", "type": "A", "value": "1.2.3", "ttl": 1})
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert fields["value"]["code"] == "dns_invalid_a" and fields["ttl"]["code"] == "dns_invalid_ttl"
    clash = _api(base, token, "POST", f"{path}/records", json={"name": "www", "type": "TXT", "value": "x"})
    assert clash.status_code == 409 and clash.json()["error"]["fields"]["name"]["code"] == "dns_cname_exclusive"
    exported = _api(base, token, "GET", f"{path}/export").json()["text"]
    assert "sklep\t3600\tIN\tA\t192.0.2.7" in exported

    _, other = register_verified(base, stack.var / "mail")
    assert _api(base, other, "GET", path).status_code == 404  # another account's zone

    browser = _browser(base, email)
    page = browser.get(f"{base}{path}", timeout=15)
    assert page.status_code == 200 and "sklep" in page.text and "192.0.2.7" in page.text
    form = {"csrf_token": csrf(page.text), "name": "blog", "type": "AAAA", "value": "2001:db8::9", "ttl": "300"}
    saved = browser.post(f"{base}{path}/records", data=form, timeout=15)
    assert saved.status_code == 200 and "2001:db8::9" in saved.text
    applied(base, token, path)
    assert ask(stack, f"blog.{name}", "AAAA") == ["2001:db8::9"]
    wrong = browser.post(f"{base}{path}/records", data={**form, "name": "bad..name"}, timeout=15)
    assert wrong.status_code == 422 and 'value="bad..name"' in wrong.text
