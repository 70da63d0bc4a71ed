"""Child nameservers through the front door (issue #19): a customer registers a domain (sandbox registry)
and manages its glue hosts by the API and on the domain's DNS page."""

from __future__ import annotations

import uuid

from tests.e2e.helpers import csrf, register_verified, wait_for
from tests.e2e.test_domains import _api, _browser, _buy, _domain, services  # noqa: F401 (fixture)


def test_glue_hosts_by_the_api_and_the_page(stack, services):  # noqa: F811
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    name = f"glue-{uuid.uuid4().hex[:8]}.pl"
    domain = _buy(base, token, services, "domain_registration", {"domain": name, "years": 1})
    wait_for(lambda: _domain(base, token, domain["domain_id"])["status"] == "active", what="active domain")
    path = f"/domains/{domain['domain_id']}/hosts"

    created = _api(base, token, "POST", path, json={"host": "ns1", "addresses": ["185.12.64.1", "2a01:4f8::53"]})
    assert created.status_code == 201, created.text
    assert created.json()["hosts"] == [{"host": f"ns1.{name}", "unicode_host": f"ns1.{name}",
                                        "addresses": ["185.12.64.1", "2a01:4f8::53"]}]  # fmt: skip
    changed = _api(base, token, "PUT", f"{path}/ns1.{name}", json={"addresses": ["185.12.64.2"]})
    assert changed.status_code == 200 and changed.json()["hosts"][0]["addresses"] == ["185.12.64.2"]
    bad = _api(base, token, "POST", path, json={"host": "ns2", "addresses": ["10.1.1.1"]})
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["addresses"]["code"] == "domains_ip_not_public"
    wrong_type = _api(base, token, "POST", path, json={"host": "ns2", "addresses": "185.12.64.3"})
    assert wrong_type.status_code == 422 and "addresses" in wrong_type.json()["error"]["fields"]
    _, other = register_verified(base, stack.var / "mail")
    assert _api(base, other, "GET", path).status_code == 404  # another account's domain

    browser = _browser(base, email)
    page = browser.get(f"{base}/domains/{domain['domain_id']}/dns", timeout=15)
    assert page.status_code == 200 and f"ns1.{name}" in page.text and "185.12.64.2" in page.text
    form = {"csrf_token": csrf(page.text), "host": "ns2", "addresses": "185.12.64.3 2a01:4f8::54"}
    saved = browser.post(f"{base}/domains/{domain['domain_id']}/hosts", data=form, timeout=15)
    assert saved.status_code == 200 and f"ns2.{name}" in saved.text and "2a01:4f8::54" in saved.text
    refused = browser.post(f"{base}/domains/{domain['domain_id']}/hosts", data={**form, "host": "ns_3"}, timeout=15)
    assert refused.status_code == 422 and 'value="ns_3"' in refused.text
    deleted = browser.post(f"{base}/domains/{domain['domain_id']}/hosts/ns2.{name}/delete",
                           data={"csrf_token": csrf(saved.text)}, timeout=15)  # fmt: skip
    assert deleted.status_code == 200 and f"ns2.{name}" not in deleted.text
    assert [h["host"] for h in _api(base, token, "GET", path).json()["hosts"]] == [f"ns1.{name}"]
    assert _api(base, token, "DELETE", f"{path}/ns1.{name}").json()["hosts"] == []
