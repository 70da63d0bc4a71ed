"""Domains through the front door of the running stack: check, buy through billing's cart, pay with the
sandbox card, manage, transfer with a wrong and a right EPP code, renew and expire with the moved clock."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
import requests

from kernel.caller import SignedClusterRpcProxy
from services.domains.registrar import sandbox_epp_code
from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, wait_for
from tools.seed import mail_text, wait_for_mail

DAY = 24 * 3600


@pytest.fixture(scope="module")
def services(stack):
    """The stack's services over RPC: only to play the card provider (its signed webhook) and to run
    the domains cycle now instead of waiting for its timer."""
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=30) as proxy:
        yield proxy


@pytest.fixture
def moved_clock(stack):
    """Move the stack's shared clock; put it back afterwards for the other tests."""
    before = stack.clock_file.read_text()

    def move(seconds: float) -> None:
        stack.clock_file.write_text(str(float(stack.clock_file.read_text() or 0) + seconds))

    yield move
    stack.clock_file.write_text(before)


def _api(base: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{base}/api/v1{path}", headers=bearer(token), timeout=30, **kwargs)


def _login(base: str, email: str) -> str:
    """A fresh bearer token (sessions expire when the clock is moved by months)."""
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["token"]


def _browser(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=15)
    logged = browser.post(f"{base}/login", data={"csrf_token": csrf(page.text), "email": email, "password": PASSWORD},
                          timeout=15)  # fmt: skip
    assert logged.status_code == 200 and "s10" in logged.text, logged.text[:500]
    return browser


def _pay_by_card(base: str, token: str, services, path: str, **extra) -> None:
    """Checkout (or pay one invoice) by the sandbox card; the provider's signed webhook settles it
    (callers then wait for what the payment sets off, which fails if it was never applied)."""
    headers = {**bearer(token), "Idempotency-Key": f"domains-{uuid.uuid4().hex}"}
    started = requests.post(f"{base}/api/v1{path}", headers=headers, json={"payment_method": "card", **extra},
                            timeout=30)  # fmt: skip
    assert started.status_code == 200, started.text
    payment = started.json().get("payment", started.json())
    webhook = services.billing.sandbox_complete(payment["payment_id"], "success")["webhook"]
    # the sandbox provider may already have delivered it to the gateway's webhook endpoint itself
    assert services.billing.handle_webhook(webhook["body"], webhook["signature"])["status"] in ("applied", "duplicate")


def _buy(base: str, token: str, services, kind: str, params: dict) -> dict:
    added = _api(base, token, "POST", "/cart/items", json={"kind": kind, "params": params})
    assert added.status_code == 201, added.text
    _pay_by_card(base, token, services, "/cart/checkout")
    return wait_for(lambda: _find(base, token, params["domain"]), what=f"{params['domain']} listed")


def _find(base: str, token: str, name: str) -> dict | None:
    listed = _api(base, token, "GET", "/domains", params={"q": name}).json()["items"]
    return next((d for d in listed if name in (d["name"], d["unicode_name"]) and d["status"] != "pending"), None)


def _domain(base: str, token: str, domain_id: str) -> dict:
    found = _api(base, token, "GET", f"/domains/{domain_id}")
    assert found.status_code == 200, found.text
    return found.json()


def test_check_from_the_api_and_the_search_page(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    label = f"zażółć-{uuid.uuid4().hex[:6]}"
    every = _api(base, token, "GET", "/domains/check", params={"name": label})
    assert every.status_code == 200, every.text
    results = {r["tld"]: r for r in every.json()["results"]}
    assert {"pl", "com.pl", "eu", "com", "net"} <= set(results)
    assert results["pl"]["unicode_name"] == f"{label}.pl" and results["pl"]["name"].startswith("xn--")
    assert results["pl"]["available"] and results["pl"]["prices"]["register"] > 0
    taken = _api(base, token, "GET", "/domains/check", params={"name": "allegro.pl"}).json()["results"]
    assert [r["available"] for r in taken] == [False]
    bad = _api(base, token, "GET", "/domains/check", params={"name": "moja_firma.pl"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["name"]["code"] == "domains_bad_characters"
    assert requests.get(f"{base}/api/v1/domains/check?name=x.pl", timeout=10).status_code == 401

    browser = _browser(base, email)
    dashboard = browser.get(f"{base}/", timeout=15).text
    assert 'action="/domains/search"' in dashboard and 'href="/domains"' in dashboard
    page = browser.get(f"{base}/domains/search", params={"name": f"{label}.pl"}, timeout=15)
    assert page.status_code == 200 and f"{label}.pl" in page.text and "Wolna" in page.text
    assert "Ta sama nazwa w innych rozszerzeniach" in page.text and f"{label}.eu" in page.text
    wrong = browser.get(f"{base}/domains/search", params={"name": "sklep-.pl"}, timeout=15)
    assert "nie może zaczynać się ani kończyć myślnikiem" in wrong.text and 'value="sklep-.pl"' in wrong.text


def test_register_pay_manage_and_count_on_the_dashboard(stack, services):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    since = time.time() - 1
    name = f"firma-{uuid.uuid4().hex[:8]}.pl"
    quoted = _api(base, token, "POST", "/cart/items", json={"kind": "domain_registration",
                                                            "params": {"domain": name, "years": 11}})  # fmt: skip
    assert quoted.status_code == 422 and quoted.json()["error"]["fields"]["years"]["code"] == "domains_invalid_period"
    domain = _buy(base, token, services, "domain_registration", {"domain": name, "years": 2})
    active = wait_for(lambda: _domain(base, token, domain["domain_id"])["status"] == "active", what="active domain")
    assert active
    domain = _domain(base, token, domain["domain_id"])
    assert domain["failure"] is None and domain["expires_at"]
    path = f"/domains/{domain['domain_id']}"
    registered = mail_text(wait_for_mail(stack.var / "mail", email, "Domena zarejestrowana", since=since))
    assert name in registered and path in registered

    bad = _api(base, token, "PATCH", path, json={"nameservers": ["ns1.hosting.pl", "ns_2 hosting"]})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"]["nameservers"]["message"].startswith("Serwer DNS to pełna nazwa hosta")
    one = _api(base, token, "PATCH", path, json={"nameservers": ["ns1.hosting.pl"]})
    assert one.json()["error"]["fields"]["nameservers"]["code"] == "domains_nameservers_count"
    good = _api(base, token, "PATCH", path, json={"nameservers": ["NS1.Hosting.PL", "ns2.hosting.pl"], "locked": False})
    assert good.status_code == 200, good.text
    assert (good.json()["nameservers"], good.json()["locked"]) == (["ns1.hosting.pl", "ns2.hosting.pl"], False)
    epp = _api(base, token, "GET", f"{path}/epp-code")
    assert epp.status_code == 200 and len(epp.json()["epp_code"]) >= 8

    browser = _browser(base, email)
    page = browser.get(f"{base}{path}", timeout=15)
    assert "ns1.hosting.pl" in page.text and "Aktywna" in page.text
    rejected = browser.post(f"{base}{path}/nameservers", data={"csrf_token": csrf(page.text),
                                                                "nameservers": "tylko-jeden.pl"}, timeout=15)  # fmt: skip
    assert rejected.status_code == 422 and "Podaj od 2 do 13 serwerów DNS." in rejected.text
    assert "tylko-jeden.pl" in rejected.text  # what was typed stays
    revealed = browser.post(f"{base}{path}/epp-code", data={"csrf_token": csrf(page.text)}, timeout=15)
    assert epp.json()["epp_code"] in revealed.text

    assert _api(base, token, "GET", "/dashboard").json()["tiles"]["domains"] == 1
    listed = browser.get(f"{base}/domains", timeout=15)
    assert name in listed.text
    for bad_query in ({"per_page": "1000"}, {"status": "bogus"}):
        assert _api(base, token, "GET", "/domains", params=bad_query).status_code == 422
    renew = browser.post(f"{base}{path}/renew", data={"csrf_token": csrf(page.text), "years": "2"}, timeout=15,
                         allow_redirects=False)  # fmt: skip
    assert renew.status_code == 302
    renewal = _api(base, token, "GET", "/cart/items").json()["items"]
    assert [(i["kind"], i["params"]["domain_id"], i["params"]["years"]) for i in renewal] == [
        ("domain_renewal", domain["domain_id"], 2)]  # fmt: skip

    _, other = register_verified(base, stack.var / "mail")
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"locked": True}), ("GET", "/epp-code", None)):
        stranger = _api(base, other, method, path + suffix, json=body)
        assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "not_found"
    assert _api(base, other, "GET", "/dashboard").json()["tiles"]["domains"] == 0


def test_transfer_wrong_epp_code_fails_visibly_then_the_right_one_succeeds(stack, services, moved_clock):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    name = f"taken-{uuid.uuid4().hex[:8]}.eu"
    domain = _buy(base, token, services, "domain_transfer", {"domain": name, "epp_code": "ZLY-KOD-123"})
    failed = wait_for(lambda: _domain(base, token, domain["domain_id"])["failure"], what="the transfer refused")
    assert failed["code"] == "domains_invalid_epp_code"
    assert _domain(base, token, domain["domain_id"])["status"] == "pending_transfer"
    browser = _browser(base, email)
    page = browser.get(f"{base}/domains/{domain['domain_id']}", timeout=15)
    assert "Niepoprawny kod EPP" in page.text and "Spróbuj ponownie" in page.text
    retried = browser.post(f"{base}/domains/{domain['domain_id']}/retry",
                           data={"csrf_token": csrf(page.text), "epp_code": sandbox_epp_code(name)}, timeout=30)  # fmt: skip
    assert retried.status_code == 200 and "Transfer w toku" in retried.text
    assert _domain(base, token, domain["domain_id"])["failure"] is None
    moved_clock(3600)
    services.domains.run_cycle()
    done = wait_for(lambda: _domain(base, token, domain["domain_id"])["status"] == "active", what="transferred in")
    assert done and _api(base, token, "GET", "/dashboard").json()["tiles"]["domains"] == 1


def test_renewal_invoice_paid_renews_once_and_expiry_moves_through_its_phases(stack, services, moved_clock):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    renewing = _buy(base, token, services, "domain_registration", {"domain": f"odnow-{uuid.uuid4().hex[:8]}.pl",
                                                                    "years": 1})  # fmt: skip
    lapsing = _buy(base, token, services, "domain_registration", {"domain": f"wygas-{uuid.uuid4().hex[:8]}.com",
                                                                   "years": 1})  # fmt: skip
    for d in (renewing, lapsing):
        wait_for(lambda d=d: _domain(base, token, d["domain_id"])["status"] == "active", what="active domains")
    assert _api(base, token, "PATCH", f"/domains/{lapsing['domain_id']}", json={"auto_renew": False}).status_code == 200
    expires = dt.datetime.fromisoformat(_domain(base, token, renewing["domain_id"])["expires_at"].rstrip("Z"))
    stack_now = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=float(stack.clock_file.read_text()))
    to_expiry = (expires - stack_now).total_seconds()

    moved_clock(to_expiry - 20 * DAY)
    token = _login(base, email)
    services.domains.run_cycle()
    services.domains.run_cycle()
    invoice_id = _domain(base, token, renewing["domain_id"])["renewal_invoice_id"]
    assert invoice_id and _domain(base, token, lapsing["domain_id"])["renewal_invoice_id"] is None
    unpaid = _api(base, token, "GET", "/invoices", params={"status": "unpaid"}).json()["items"]
    assert [i["invoice_id"] for i in unpaid] == [invoice_id]
    _pay_by_card(base, token, services, f"/invoices/{invoice_id}/pay")
    renewed = wait_for(lambda: _domain(base, token, renewing["domain_id"])["expires_at"].startswith(
        str(expires.year + 1)), what="the renewal")  # fmt: skip
    assert renewed
    services.domains.run_cycle()
    invoices = _api(base, token, "GET", "/invoices").json()["items"]
    assert len(invoices) == 3  # two orders and one renewal: paying renewed once, nothing billed twice

    moved_clock(21 * DAY)
    token = _login(base, email)
    services.domains.run_cycle()
    assert _domain(base, token, lapsing["domain_id"])["status"] == "grace_period"
    assert _domain(base, token, renewing["domain_id"])["status"] == "active"
    moved_clock(31 * DAY)
    token = _login(base, email)
    services.domains.run_cycle()
    assert _domain(base, token, lapsing["domain_id"])["status"] == "redemption"
    moved_clock(31 * DAY)
    token = _login(base, email)
    services.domains.run_cycle()
    assert _domain(base, token, lapsing["domain_id"])["status"] == "expired"
    assert _api(base, token, "GET", "/dashboard").json()["tiles"]["domains"] == 1


def test_a_domain_renewal_is_on_the_renewals_page_and_paid_through_the_cart_once(stack, services, moved_clock):
    """Seed section 7 for a domain: its renewal invoice shows on /api/v1/renewals, the dashboard notice and
    /renewals; "Dodaj do koszyka" puts that invoice in the cart and the checkout pays it (no second
    invoice); the registry renews the domain once."""
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    name = f"odnow-z-koszyka-{uuid.uuid4().hex[:8]}.pl"
    domain = _buy(base, token, services, "domain_registration", {"domain": name, "years": 1})
    wait_for(lambda: _domain(base, token, domain["domain_id"])["status"] == "active", what="active domain")
    expires = dt.datetime.fromisoformat(_domain(base, token, domain["domain_id"])["expires_at"].rstrip("Z"))
    stack_now = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=float(stack.clock_file.read_text()))
    moved_clock((expires - stack_now).total_seconds() - 20 * DAY)
    token = _login(base, email)
    services.domains.run_cycle()
    invoice_id = _domain(base, token, domain["domain_id"])["renewal_invoice_id"]
    assert invoice_id

    listed = _api(base, token, "GET", "/renewals")
    assert listed.status_code == 200, listed.text
    domain_items = [i for i in listed.json()["items"] if i["kind"] == "domain_renewal"]
    assert [(i["domain_id"], i["name"], i["years"], i["renewal_invoice"]["invoice_id"]) for i in domain_items] == [
        (domain["domain_id"], name, 1, invoice_id)]  # fmt: skip
    amount = domain_items[0]["amount"]
    assert amount > 0 and domain_items[0]["due_date"]

    browser = _browser(base, email)
    dashboard = browser.get(f"{base}/", timeout=15).text
    assert 'href="/renewals"' in dashboard and "Odnów teraz" in dashboard and name in dashboard
    page = browser.get(f"{base}/renewals", timeout=15)
    assert f'data-domain="{domain["domain_id"]}"' in page.text and name in page.text and "1 rok" in page.text
    assert f"/invoices/{invoice_id}" in page.text
    added = browser.post(f"{base}/renewals/domains/{domain['domain_id']}/add", data={"csrf_token": csrf(page.text)},
                         timeout=15)  # fmt: skip
    assert added.url.endswith("/cart") and added.text.count('data-kind="domain_renewal"') == 1
    cart = _api(base, token, "GET", "/cart/items").json()
    assert [(i["kind"], i["invoice_id"]) for i in cart["items"]] == [("domain_renewal", invoice_id)]
    assert cart["totals"]["total_gross"] == amount

    _pay_by_card(base, token, services, "/cart/checkout")
    renewed = wait_for(lambda: _domain(base, token, domain["domain_id"])["expires_at"].startswith(
        str(expires.year + 1)), what="the renewal")  # fmt: skip
    assert renewed
    services.domains.run_cycle()
    services.domains.run_cycle()
    after = _domain(base, token, domain["domain_id"])
    assert dt.datetime.fromisoformat(after["expires_at"].rstrip("Z")).year == expires.year + 1  # once, not twice
    invoices = _api(base, token, "GET", "/invoices").json()["items"]
    assert sorted(i["status"] for i in invoices) == ["paid", "paid"]  # the order and the reused renewal invoice
    assert not [i for i in _api(base, token, "GET", "/renewals").json()["items"] if i["kind"] == "domain_renewal"]


def test_search_page_adds_to_the_cart_and_the_transfer_form_explains_errors(stack):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    browser = _browser(base, email)
    name = f"strona-{uuid.uuid4().hex[:8]}.com.pl"
    page = browser.get(f"{base}/domains/search", params={"name": name}, timeout=15)
    form = {"csrf_token": csrf(page.text), "domain": name, "name": name, "display": name}
    refused = browser.post(f"{base}/domains/cart", data={**form, "years": "12"}, timeout=15)
    assert refused.status_code == 422 and "Okres rejestracji to od 1 do 10 lat." in refused.text
    added = browser.post(f"{base}/domains/cart", data={**form, "years": "3"}, timeout=15, allow_redirects=False)
    assert added.status_code == 302 and added.headers["Location"].endswith("/cart")
    items = _api(base, token, "GET", "/cart/items").json()["items"]
    assert [(i["kind"], i["params"]["domain"], i["params"]["years"]) for i in items] == [
        ("domain_registration", name, 3)]  # fmt: skip

    transfer = browser.get(f"{base}/domains/transfer", params={"domain": "allegro.pl"}, timeout=15)
    assert 'value="allegro.pl"' in transfer.text
    bad = browser.post(f"{base}/domains/transfer", data={"csrf_token": csrf(transfer.text), "domain": "allegro.pl",
                                                         "epp_code": "a b"}, timeout=15)  # fmt: skip
    assert bad.status_code == 422 and "Kod EPP (AuthInfo) ma od 6 do 64 znaków" in bad.text
    assert 'value="allegro.pl"' in bad.text and 'value="a b"' in bad.text


def test_a_refused_registration_is_visible_mailed_and_never_counted(stack, services):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    email, token = register_verified(base, mail_dir)
    since = time.time() - 1
    name = f"sklep-fail-perm-{uuid.uuid4().hex[:6]}.pl"
    domain = _buy(base, token, services, "domain_registration", {"domain": name, "years": 1})
    failure = wait_for(lambda: _domain(base, token, domain["domain_id"])["failure"], what="the refusal recorded")
    assert failure["code"] == "domains_registry_refused" and not failure["temporary"]
    assert _domain(base, token, domain["domain_id"])["status"] == "pending_registration"
    browser = _browser(base, email)
    page = browser.get(f"{base}/domains/{domain['domain_id']}", timeout=15)
    assert "Domena NIE jest zarejestrowana." in page.text and "Spróbuj ponownie" in page.text
    assert "Aktywna" not in page.text
    retried = browser.post(f"{base}/domains/{domain['domain_id']}/retry", data={"csrf_token": csrf(page.text)},
                           timeout=30)  # fmt: skip
    assert "Domena NIE jest zarejestrowana." in retried.text
    assert _api(base, token, "GET", "/dashboard").json()["tiles"]["domains"] == 0
    mail = mail_text(wait_for_mail(mail_dir, email, "Rejestracja domeny", since=since))
    assert name in mail and "NIE jest zarejestrowana" in mail
