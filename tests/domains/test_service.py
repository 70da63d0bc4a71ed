"""The domains service through Nameko's worker_factory on the real database: quotes, registration and
transfer after payment (exactly once), failures with retries, management, renewals and expiry."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from nameko.testing.services import worker_factory

from kernel import clock
from kernel.errors import CommandError, NotFound
from kernel.events import Event, new_id
from services.domains import app
from services.domains.domain import domain_id_for
from services.domains.registrar import RegistryDomain, sandbox_epp_code
from services.domains.service import DomainsService
from tests.contract_examples import event_data
from tests.fakes import RecordingDispatch, recording_events_api

DAY = 24 * 3600
CTX = {"actor": {"type": "customer", "id": "a1"}, "ip": "127.0.0.1"}


class Billing:
    """Billing as domains sees it: it consumes `domain_renewal_due` and reports the invoice `inv-<key>` it
    issues with `invoice_issued` (its line keeps `for_expiry`); `answers=False`: it never does."""

    def __init__(self) -> None:
        self.asked: list[dict] = []
        self.answers = True
        self.domains = None

    def __call__(self, message: dict) -> None:
        due = message["data"]
        self.asked.append(due)
        if self.answers:
            renewal = line(
                "domain_renewal", domain_id=due["domain_id"], years=due["years"], for_expiry=due["for_expiry"]
            )
            self.domains.on_invoice_issued(billing_event("invoice_issued", due["account_id"],
                                                         f"inv-{due['idempotency_key']}", [renewal]))  # fmt: skip


@pytest.fixture
def published() -> RecordingDispatch:
    """What domains publishes; `domain_renewal_due` goes on to a Billing (the `billing` fixture)."""
    return RecordingDispatch(forward={"domain_renewal_due": Billing()})


@pytest.fixture
def billing(published) -> Billing:
    return published.forward["domain_renewal_due"]


@pytest.fixture
def domains(mongo_alias, published, clock_file, monkeypatch):
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0")
    monkeypatch.setenv("SANDBOX_TRANSFER_SECONDS", "3600")
    mongo_alias("domains")
    worker = worker_factory(DomainsService, events=recording_events_api(DomainsService, published))
    published.forward["domain_renewal_due"].domains = worker
    return worker


def billing_event(event_type: str, account_id: str, invoice_id: str, lines: list[dict]) -> dict:
    data = event_data(event_type, account_id=account_id, invoice_id=invoice_id, **({"lines": lines} if lines else {}))
    return Event(new_id(), f"customer-{account_id}", 1, event_type, clock.now(), data, {}).to_message()


def line(kind: str, **params) -> dict:
    return {"kind": kind, "description": kind, "params": params, "net": 100, "gross": 123}


def buy(domains, account_id: str, kind: str, **params) -> str:
    """The way billing reports an order: the invoice issued, then paid; returns the domain id."""
    invoice_id = new_id()
    lines = [line("hosting", plan="x"), line(kind, **params)]
    domains.on_invoice_issued(billing_event("invoice_issued", account_id, invoice_id, lines))
    domains.on_invoice_paid(billing_event("invoice_paid", account_id, invoice_id, lines))
    return domain_id_for(invoice_id, 1)


# --- check and quotes ------------------------------------------------------------------------
def test_check_one_name_or_a_label_across_tlds(domains):
    one = domains.check("zażółć.pl")["results"]
    assert [(r["name"], r["unicode_name"], r["available"]) for r in one] == [("xn--za-6ja4f8n1l.pl", "zażółć.pl", True)]
    every = {r["tld"]: r for r in domains.check("allegro")["results"]}
    assert {"pl", "com.pl", "eu", "com", "net"} <= set(every) and not any(r["available"] for r in every.values())
    with pytest.raises(CommandError) as bad:
        domains.check("moja_firma.pl")
    assert bad.value.fields == {"name": "domains_bad_characters"}


def test_quotes_price_years_and_refuse_with_reasons(domains):
    quote = domains.quote_cart_item("a1", "domain_registration", {"domain": "Nowa-Firma.PL", "years": 3})
    assert (quote["net"], quote["vat_rate"], quote["params"]["domain"]) == (3 * 4900, 23, "nowa-firma.pl")
    premium = domains.quote_cart_item("a1", "domain_registration", {"domain": "premium-shop.com", "years": 1})
    assert premium["net"] > 5900 and premium["params"]["premium"]
    transfer = domains.quote_cart_item("a1", "domain_transfer", {"domain": "allegro.eu", "epp_code": "ABC-123456"})
    assert transfer["net"] == 3500 and transfer["params"]["epp_code"] == "ABC-123456"
    refusals = [
        ("domain_registration", {"domain": "allegro.pl"}, {"domain": "domains_taken"}),
        ("domain_registration", {"domain": "x.pl", "years": 11}, {"years": "domains_invalid_period"}),
        ("domain_registration", {"domain": "x.pl", "years": 0}, {"years": "domains_invalid_period"}),
        ("domain_registration", {"domain": "a-.pl"}, {"domain": "domains_hyphen_edge"}),
        ("domain_transfer", {"domain": "allegro.pl"}, {"epp_code": "domains_invalid_epp_format"}),
        ("domain_transfer", {"domain": "wolna-123.pl", "epp_code": "ABC-123456"}, {"domain": "domains_not_registered"}),
    ]
    for kind, params, fields in refusals:
        with pytest.raises(CommandError) as refused:
            domains.quote_cart_item("a1", kind, params)
        assert refused.value.fields == fields, (kind, params)


# --- registration after payment ----------------------------------------------------------------
def test_paid_registration_becomes_active_once(domains, published):
    domain_id = buy(domains, "a1", "domain_registration", domain="xn--za-6ja4f8n1l.pl", years=2)
    domain = domains.get_domain("a1", domain_id)
    assert (domain["status"], domain["unicode_name"], domain["failure"]) == ("active", "zażółć.pl", None)
    assert domain["expires_at"].startswith(str(clock.now().year + 2))
    assert [m["data"]["domain_id"] for m in published.of("domain_registered")] == [domain_id]
    carried = {(m["data"]["account_id"], m["data"]["domain_id"], m["data"]["name"]) for _, m in published.messages}
    assert carried == {("a1", domain_id, "xn--za-6ja4f8n1l.pl")}
    assert domains.dashboard_summary("a1") == {"tiles": {"domains": 1}}
    assert domains.dashboard_summary("a2") == {"tiles": {"domains": 0}}
    with pytest.raises(CommandError) as taken:
        domains.quote_cart_item("a2", "domain_registration", {"domain": "zażółć.pl"})
    assert taken.value.fields == {"domain": "domains_taken"}


def test_a_redelivered_payment_registers_once(domains, published):
    invoice_id = new_id()
    lines = [line("domain_registration", domain="raz.pl", years=1)]
    first = billing_event("invoice_paid", "a1", invoice_id, lines)
    domains.on_invoice_paid(first)
    domains.on_invoice_paid(first)  # the same event twice
    domains.on_invoice_paid(billing_event("invoice_paid", "a1", invoice_id, lines))  # and a second event for it
    assert len(published.of("domain_registration_requested")) == 1
    assert len(published.of("domain_registered")) == 1
    assert RegistryDomain.objects(id="raz.pl").count() == 1


def test_temporary_failure_is_visible_then_retried_by_the_timer(domains):
    domain_id = buy(domains, "a1", "domain_registration", domain="sklep-fail-temp.pl", years=1)
    failed = domains.get_domain("a1", domain_id)
    assert failed["status"] == "pending_registration"
    assert failed["failure"]["code"] == "domains_registry_unavailable" and failed["failure"]["temporary"]
    assert domains.run_cycle()["retried"] == 0  # not before its retry time
    clock.advance(5 * 60)
    assert domains.run_cycle()["retried"] == 1
    assert domains.get_domain("a1", domain_id)["status"] == "active"


def test_permanent_failure_waits_for_the_customer(domains, published):
    domain_id = buy(domains, "a1", "domain_registration", domain="sklep-fail-perm.pl", years=1)
    clock.advance(DAY)
    assert domains.run_cycle()["retried"] == 0
    retried = domains.retry_registration("a1", domain_id, None, CTX)
    assert retried["status"] == "pending_registration" and retried["failure"]["code"] == "domains_registry_refused"
    assert len(published.of("domain_registration_failed")) == 2
    assert domains.dashboard_summary("a1")["tiles"]["domains"] == 0
    active = buy(domains, "a1", "domain_registration", domain="zwykla.pl", years=1)
    with pytest.raises(CommandError) as nothing:
        domains.retry_registration("a1", active, None, CTX)
    assert nothing.value.code == "domains_nothing_to_retry"


def test_cancelled_invoice_cancels_the_pending_domain(domains):
    invoice_id = new_id()
    lines = [line("domain_registration", domain="porzucona.pl", years=1)]
    domains.on_invoice_issued(billing_event("invoice_issued", "a1", invoice_id, lines))
    domain_id = domain_id_for(invoice_id, 0)
    assert domains.get_domain("a1", domain_id)["status"] == "pending"
    domains.on_invoice_cancelled(billing_event("invoice_cancelled", "a1", invoice_id, []))
    assert domains.get_domain("a1", domain_id)["status"] == "cancelled"


# --- transfers ---------------------------------------------------------------------------------
def test_transfer_wrong_code_rejected_then_right_code_completes(domains, published):
    domain_id = buy(domains, "a1", "domain_transfer", domain="onet.eu", epp_code="WRONG-CODE", years=1)
    rejected = domains.get_domain("a1", domain_id)
    assert rejected["status"] == "pending_transfer" and rejected["failure"]["code"] == "domains_invalid_epp_code"
    with pytest.raises(CommandError) as bad:
        domains.retry_registration("a1", domain_id, "x", CTX)
    assert bad.value.fields == {"epp_code": "domains_invalid_epp_format"}
    pending = domains.retry_registration("a1", domain_id, sandbox_epp_code("onet.eu"), CTX)
    assert pending["status"] == "pending_transfer" and pending["failure"] is None
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "pending_transfer"
    clock.advance(2 * 3600)
    domains.run_cycle()
    done = domains.get_domain("a1", domain_id)
    assert done["status"] == "active" and done["expires_at"]
    assert [m["data"]["name"] for m in published.of("domain_transferred_in")] == ["onet.eu"]
    assert published.of("domain_transfer_rejected")[0]["data"]["reason"] == "domains_invalid_epp_code"


def test_transfer_refused_by_the_losing_registrar(domains):
    domain_id = buy(domains, "a1", "domain_transfer", domain="reject-taken.pl", epp_code=sandbox_epp_code(
        "reject-taken.pl"))  # fmt: skip
    clock.advance(2 * 3600)
    domains.run_cycle()
    domain = domains.get_domain("a1", domain_id)
    assert domain["status"] == "pending_transfer" and domain["failure"]["code"] == "domains_transfer_refused"


# --- management ------------------------------------------------------------------------------------
def test_nameservers_lock_auto_renew_and_epp_code(domains, published):
    domain_id = buy(domains, "a1", "domain_registration", domain="zarzadzana.pl", years=1)
    for servers, code in [(["ns1.a.pl"], "domains_nameservers_count"), (["ns1.a.pl"] * 14, "domains_nameservers_count"),
                          (["ns1.a.pl", "ns_2.a.pl"], "domains_invalid_nameserver"),
                          (["ns1.a.pl", "NS1.A.PL."], "domains_duplicate_nameserver"), ("ns1.a.pl", "invalid_type")]:  # fmt: skip
        with pytest.raises(CommandError) as refused:
            domains.update_domain("a1", domain_id, {"nameservers": servers, "locked": False}, CTX)
        assert refused.value.fields == {"nameservers": code}
    assert domains.get_domain("a1", domain_id)["locked"] is True  # nothing half-written
    with pytest.raises(CommandError) as unknown:
        domains.update_domain("a1", domain_id, {"owner": "x"}, CTX)
    assert unknown.value.fields == {"owner": "unknown_field"}
    updated = domains.update_domain("a1", domain_id, {"nameservers": ["NS1.Hosting.PL", "ns2.hosting.pl"],
                                                      "locked": False, "auto_renew": False}, CTX)  # fmt: skip
    assert (updated["nameservers"], updated["locked"], updated["auto_renew"]) == (
        ["ns1.hosting.pl", "ns2.hosting.pl"], False, False)  # fmt: skip
    assert RegistryDomain.objects(id="zarzadzana.pl").first().nameservers == ["ns1.hosting.pl", "ns2.hosting.pl"]
    revealed = domains.reveal_epp_code("a1", domain_id, CTX)
    assert revealed["epp_code"] == RegistryDomain.objects(id="zarzadzana.pl").first().epp_code
    assert len(published.of("domain_epp_code_revealed")) == 1
    for call in (lambda: domains.get_domain("a2", domain_id), lambda: domains.reveal_epp_code("a2", domain_id, CTX),
                 lambda: domains.update_domain("a2", domain_id, {"locked": True}, CTX)):  # fmt: skip
        with pytest.raises(NotFound):
            call()


def test_list_is_paginated_filtered_and_searched_on_the_server(domains):
    for name in ("alfa.pl", "beta.pl", "gamma.com", "zażółć.eu"):
        buy(domains, "a1", "domain_registration", domain=name, years=1)
    buy(domains, "a1", "domain_registration", domain="delta-fail-perm.pl", years=1)
    buy(domains, "a2", "domain_registration", domain="obca.pl", years=1)
    first = domains.list_domains("a1", 1, 2)
    assert (first["total"], first["pages"], [d["name"] for d in first["items"]]) == (5, 3, ["alfa.pl", "beta.pl"])
    assert [d["name"] for d in domains.list_domains("a1", 3, 2)["items"]] == ["xn--za-6ja4f8n1l.eu"]
    active = domains.list_domains("a1", 1, 20, "active")
    assert active["total"] == 4
    assert [d["unicode_name"] for d in domains.list_domains("a1", 1, 20, None, "żółć")["items"]] == ["zażółć.eu"]
    assert [d["name"] for d in domains.list_domains("a1", 1, 20, None, "GAMMA")["items"]] == ["gamma.com"]
    assert domains.list_domains("a1", 1, 20, None, "a.b(")["total"] == 0  # regex characters are text
    with pytest.raises(CommandError):
        domains.list_domains("a1", 1, 20, "nope")


# --- renewals and expiry ----------------------------------------------------------------------------
def test_renewal_invoice_once_then_payment_renews_once(domains, published, billing):
    domain_id = buy(domains, "a1", "domain_registration", domain="odnawiana.pl", years=1)
    expires = dt.datetime.fromisoformat(domains.get_domain("a1", domain_id)["expires_at"].rstrip("Z"))
    domains.run_cycle()
    assert billing.asked == []
    clock.advance((expires - clock.now()).total_seconds() - 29 * DAY)
    assert domains.run_cycle()["renewal_invoices"] == 1
    assert domains.run_cycle()["renewal_invoices"] == 0
    [due] = billing.asked  # published once, on the domain's stream
    key = f"domain-renewal:{domain_id}:{due['for_expiry']}"
    assert (due["account_id"], due["domain_id"], due["years"], due["idempotency_key"]) == ("a1", domain_id, 1, key)
    assert dt.datetime.fromisoformat(due["for_expiry"]) == expires
    assert domains.get_domain("a1", domain_id)["renewal_invoice_id"] == f"inv-{key}"
    assert len(published.of("domain_renewal_invoiced")) == 1
    params = {"domain_id": domain_id, "years": 1}
    quote = domains.quote_cart_item("a1", "domain_renewal", params)
    assert quote["net"] == 8900 and quote["params"]["domain_id"] == domain_id
    renewal = [line("domain_renewal", **quote["params"])]
    paid = billing_event("invoice_paid", "a1", f"inv-{key}", renewal)
    domains.on_invoice_paid(paid)
    domains.on_invoice_paid(billing_event("invoice_paid", "a1", f"inv-{key}", renewal))
    renewed = domains.get_domain("a1", domain_id)
    assert renewed["expires_at"].startswith(str(expires.year + 1)) and renewed["status"] == "active"
    assert len(published.of("domain_renewed")) == 1
    with pytest.raises(NotFound):
        domains.quote_cart_item("a2", "domain_renewal", params)


def test_a_renewal_asked_while_billing_is_away_is_asked_once_and_recorded_when_billing_reports_it(
    domains, published, billing, monkeypatch
):
    monkeypatch.setattr("services.domains.service.RENEWAL_INVOICE_WAIT", 0.2)
    billing.answers = False
    domain_id = buy(domains, "a1", "domain_registration", domain="czeka.pl", years=1)
    expires = dt.datetime.fromisoformat(domains.get_domain("a1", domain_id)["expires_at"].rstrip("Z"))
    clock.advance((expires - clock.now()).total_seconds() - 29 * DAY)
    assert domains.run_cycle()["renewal_invoices"] == 1  # returns when its wait is over
    assert domains.run_cycle()["renewal_invoices"] == 0 and len(billing.asked) == 1  # not asked again
    assert domains.get_domain("a1", domain_id)["renewal_invoice_id"] is None
    [due] = billing.asked
    by_hand = line("domain_renewal", domain_id=domain_id, years=1)  # a renewal the customer ordered: no expiry named
    domains.on_invoice_issued(billing_event("invoice_issued", "a1", "inv-by-hand", [by_hand]))
    assert domains.get_domain("a1", domain_id)["renewal_invoice_id"] is None
    asked_for = line("domain_renewal", domain_id=domain_id, years=1, for_expiry=due["for_expiry"])
    reported = billing_event("invoice_issued", "a1", "inv-late", [asked_for])
    domains.on_invoice_issued(reported)
    domains.on_invoice_issued(billing_event("invoice_issued", "a1", "inv-late", [asked_for]))  # redelivered
    assert domains.get_domain("a1", domain_id)["renewal_invoice_id"] == "inv-late"
    assert len(published.of("domain_renewal_invoiced")) == 1


def test_past_expiry_grace_redemption_expired(domains, published):
    domain_id = buy(domains, "a1", "domain_registration", domain="wygasa.pl", years=1)
    domains.update_domain("a1", domain_id, {"auto_renew": False}, CTX)
    expires = dt.datetime.fromisoformat(domains.get_domain("a1", domain_id)["expires_at"].rstrip("Z"))
    clock.advance((expires - clock.now()).total_seconds() + DAY)
    domains.run_cycle()
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "grace_period"
    assert published.of("domain_renewal_due") == []  # auto-renew is off
    assert domains.dashboard_summary("a1")["tiles"]["domains"] == 1
    clock.advance(30 * DAY)
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "redemption"
    clock.advance(30 * DAY)
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "expired"
    assert [m["data"]["status"] for m in published.of("domain_expired")] == ["grace_period", "redemption", "expired"]
    assert domains.dashboard_summary("a1")["tiles"]["domains"] == 0
    with pytest.raises(CommandError) as late:
        domains.quote_cart_item("a1", "domain_renewal", {"domain_id": domain_id})
    assert late.value.code == "domains_not_renewable"


def test_a_registry_slower_than_the_timeout_is_a_temporary_failure(domains, monkeypatch):
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "30")
    monkeypatch.setattr("services.domains.service.REGISTRAR_TIMEOUT", 0.2)
    domain_id = buy(domains, "a1", "domain_registration", domain="bardzo-slow.pl", years=1)
    failed = domains.get_domain("a1", domain_id)
    assert failed["status"] == "pending_registration"
    assert failed["failure"] == {"code": "domains_registry_timeout", "temporary": True, "retry_at": mock.ANY}
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0.01")
    monkeypatch.setattr("services.domains.service.REGISTRAR_TIMEOUT", 30)
    assert domains.retry_registration("a1", domain_id, None, CTX)["status"] == "active"


def test_a_new_domain_points_at_our_nameservers_until_changed(domains):
    domain_id = buy(domains, "a1", "domain_registration", domain="nowa-dns.pl", years=1)
    assert domains.get_domain("a1", domain_id)["nameservers"] == ["ns1.panel.localhost", "ns2.panel.localhost"]
    assert RegistryDomain.objects(id="nowa-dns.pl").first().nameservers == ["ns1.panel.localhost",
                                                                           "ns2.panel.localhost"]  # fmt: skip


def test_rebuilding_the_read_model_gives_the_same_domains(domains):
    from kernel.eventstore import EventStore
    from services.domains.projections import PROJECTIONS

    buy(domains, "a1", "domain_registration", domain="przebuduj.pl", years=1)
    failed = buy(domains, "a1", "domain_registration", domain="przebuduj-fail-perm.pl", years=1)
    moved = buy(domains, "a1", "domain_transfer", domain="onet.com", epp_code=sandbox_epp_code("onet.com"))
    domains.update_domain("a1", domain_id_for_name(domains, "przebuduj.pl"), {"auto_renew": False}, CTX)
    before = domains.list_domains("a1", 1, 50)["items"]
    assert {d["domain_id"] for d in before} >= {failed, moved}
    for projection in PROJECTIONS:
        projection.reset()
        projection.apply_all(EventStore("domains").all_events())
    assert domains.list_domains("a1", 1, 50)["items"] == before


def domain_id_for_name(domains, name: str) -> str:
    return next(d["domain_id"] for d in domains.list_domains("a1", 1, 50)["items"] if d["name"] == name)


def test_a_domain_taken_away_by_another_registrar_is_transferred_away(domains, published):
    from services.domains.registrar import RegistrarError, SandboxRegistrar

    domain_id = buy(domains, "a1", "domain_registration", domain="odchodzi.pl", years=1)
    code = domains.reveal_epp_code("a1", domain_id, CTX)["epp_code"]
    with pytest.raises(RegistrarError) as locked:
        SandboxRegistrar().transfer_out("odchodzi.pl", code)
    assert locked.value.code == "domains_locked"
    domains.update_domain("a1", domain_id, {"locked": False}, CTX)
    with pytest.raises(RegistrarError) as wrong:
        SandboxRegistrar().transfer_out("odchodzi.pl", "not-the-code")
    assert wrong.value.code == "domains_invalid_epp_code"
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "active"
    SandboxRegistrar().transfer_out("odchodzi.pl", code)
    domains.run_cycle()
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["status"] == "transferred_away"
    assert len(published.of("domain_transferred_away")) == 1
    assert domains.dashboard_summary("a1")["tiles"]["domains"] == 0


def test_a_paid_registration_left_without_an_answer_is_submitted_again(domains):
    """The worker died after storing the request and before the registry's answer was recorded."""
    invoice_id = new_id()
    lines = [line("domain_registration", domain="porzucony-worker.pl", years=1)]
    domains.on_invoice_issued(billing_event("invoice_issued", "a1", invoice_id, lines))
    domain_id = domain_id_for(invoice_id, 0)
    app.do(domains.deps, domain_id, lambda d: d.request(invoice_id))
    assert domains.run_cycle()["retried"] == 0  # the worker may still be on it
    assert domains.get_domain("a1", domain_id)["status"] == "pending_registration"
    clock.advance(10 * 60)
    assert domains.run_cycle()["retried"] == 1
    assert domains.get_domain("a1", domain_id)["status"] == "active"


def test_a_renewal_the_registry_could_not_take_is_retried_by_the_cycle(domains, published):
    domain_id = buy(domains, "a1", "domain_registration", domain="odnow-fail-temp.pl", years=1)
    clock.advance(5 * 60)
    domains.run_cycle()
    expires = domains.get_domain("a1", domain_id)["expires_at"]
    renewal = [line("domain_renewal", domain_id=domain_id, years=2)]
    domains.on_invoice_paid(billing_event("invoice_paid", "a1", "inv-r1", renewal))
    assert domains.get_domain("a1", domain_id)["expires_at"] == expires  # the registry failed this time
    domains.run_cycle()
    assert published.of("domain_renewed") == []  # too fresh: the paying worker may still be on it
    clock.advance(10 * 60)
    domains.run_cycle()
    domains.run_cycle()
    assert domains.get_domain("a1", domain_id)["expires_at"][:4] == str(int(expires[:4]) + 2)
    assert len(published.of("domain_renewed")) == 1
