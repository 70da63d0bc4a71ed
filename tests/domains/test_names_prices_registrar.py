"""Names and IDN, the price list, and the sandbox registry's behaviours (on the real database)."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel import clock
from services.domains import names, prices
from services.domains.registrar import RegistrarError, SandboxRegistrar, sandbox_epp_code
from tests.fakes import RACING


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "domains_name_required"),
        ("   ", "domains_name_required"),
        ("mojafirma", "domains_tld_required"),
        ("moja..pl", "domains_empty_label"),
        ("-moja.pl", "domains_hyphen_edge"),
        ("moja-.pl", "domains_hyphen_edge"),
        ("moja_firma.pl", "domains_bad_characters"),
        ("moja firma.pl", "domains_bad_characters"),
        ("ab--cd.pl", "domains_double_hyphen"),
        ("xn--zz.pl", "domains_invalid_idn"),
        ("a" * 64 + ".pl", "domains_label_too_long"),
        ("sklep.example.pl", "domains_subdomain"),
        ("mojafirma.xyz", "domains_unsupported_tld"),
        ("☃.pl", "domains_bad_characters"),
    ],
)
def test_bad_names_get_a_reason(raw, code):
    with pytest.raises(names.InvalidName) as refused:
        names.parse(raw)
    assert refused.value.code == code


def test_idn_is_stored_in_punycode_and_shown_in_unicode():
    name = names.parse(" Zażółć.PL. ")
    assert (name.ascii, name.unicode, name.tld) == ("xn--za-6ja4f8n1l.pl", "zażółć.pl", "pl")
    assert names.parse("xn--za-6ja4f8n1l.pl").unicode == "zażółć.pl"


def test_the_longest_matching_tld_wins():
    name = names.parse("sklep.com.pl")
    assert (name.label, name.tld) == ("sklep", "com.pl")


def test_whole_name_length_limit():
    with pytest.raises(names.InvalidName) as refused:
        names.parse(".".join(["a" * 63] * 4) + ".pl")
    assert refused.value.code == "domains_name_too_long"


def test_parse_or_refuse_names_the_field():
    with pytest.raises(Exception) as refused:
        names.parse_or_refuse("x_y.pl", "domain")
    assert refused.value.code == "invalid_input" and refused.value.fields == {"domain": "domains_bad_characters"}


@pytest.mark.parametrize(("raw", "expected"), [("NS1.Example.PL.", "ns1.example.pl"), ("ns.zażółć.pl", "ns.xn--za-6ja4f8n1l.pl"),
                                               ("ns1", None), ("ns_1.example.pl", None), ("1.2.3.4", None), (5, None)])  # fmt: skip
def test_nameserver_hostnames(raw, expected):
    assert names.valid_hostname(raw) == expected


def test_prices_per_operation_and_years():
    pl = prices.price_of("pl")
    assert pl.net("register", 3) == 3 * pl.register
    assert pl.net("renew", 2) == 2 * pl.renew
    assert pl.net("transfer", 2) == pl.transfer + pl.renew
    assert {"pl", "com.pl", "eu", "com", "net"} <= set(prices.price_list())
    assert prices.tlds().index("com.pl") < prices.tlds().index("pl")


def test_price_list_from_a_file(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text('{"pl": {"register": 100, "transfer": 200, "renew": 300}}')
    monkeypatch.setenv("DOMAIN_PRICES_FILE", str(path))
    prices.price_list.cache_clear()
    try:
        assert prices.tlds() == ["pl"] and prices.price_of("pl").net("renew", 1) == 300
    finally:
        monkeypatch.delenv("DOMAIN_PRICES_FILE")
        prices.price_list.cache_clear()


# --- the sandbox registry ------------------------------------------------------------------------
@pytest.fixture
def registry(mongo_alias, clock_file, monkeypatch):
    mongo_alias("domains")
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "0")
    monkeypatch.setenv("SANDBOX_TRANSFER_SECONDS", "3600")
    return SandboxRegistrar()


def test_taken_premium_and_free(registry):
    assert not registry.check("allegro.pl").available
    assert not registry.check("juz-taken.pl").available
    free = registry.check("wolna-nazwa-123.pl")
    assert free.available and not free.premium
    premium = registry.check("premium-sklep.pl")
    assert premium.available and premium.premium and premium.premium_net > prices.price_of("pl").register


def test_register_once_per_ref_then_the_name_is_taken(registry):
    first = registry.register("nowa-firma.pl", 2, ["ns1.example.pl", "ns2.example.pl"], "d1")
    assert first.year == clock.now().year + 2
    assert registry.register("nowa-firma.pl", 2, [], "d1") == first  # the same ref: the same answer
    assert not registry.check("nowa-firma.pl").available
    with pytest.raises(RegistrarError) as taken:
        registry.register("nowa-firma.pl", 1, [], "d2")
    assert taken.value.code == "domains_taken" and not taken.value.temporary


def test_renew_extends_once_per_ref(registry):
    expires = registry.register("odnow.pl", 1, [], "d1")
    renewed = registry.renew("odnow.pl", 2, "inv-1")
    assert renewed == expires.replace(year=expires.year + 2)
    assert registry.renew("odnow.pl", 2, "inv-1") == renewed


def test_temporary_failure_then_success_and_permanent_refusal(registry):
    with pytest.raises(RegistrarError) as failed:
        registry.register("sklep-fail-temp.pl", 1, [], "d1")
    assert failed.value.temporary and failed.value.code == "domains_registry_unavailable"
    assert registry.register("sklep-fail-temp.pl", 1, [], "d1") > clock.now()
    with pytest.raises(RegistrarError) as refused:
        registry.register("sklep-fail-perm.pl", 1, [], "d2")
    assert not refused.value.temporary and refused.value.code == "domains_registry_refused"


def test_transfer_wrong_code_is_refused_right_code_pending_then_completed(registry):
    with pytest.raises(RegistrarError) as wrong:
        registry.transfer("allegro.pl", "WRONG-CODE", "t1")
    assert wrong.value.code == "domains_invalid_epp_code"
    with pytest.raises(RegistrarError) as unregistered:
        registry.transfer("nikt-tego-nie-ma.pl", "X", "t0")
    assert unregistered.value.code == "domains_not_registered"
    registry.transfer("allegro.pl", sandbox_epp_code("allegro.pl"), "t2")
    assert registry.transfer_status("allegro.pl", "t2")["status"] == "pending"
    clock.advance(dt.timedelta(hours=2).total_seconds())
    done = registry.transfer_status("allegro.pl", "t2")
    assert done["status"] == "completed" and done["expires_at"] > clock.now()
    assert registry.transfer_status("allegro.pl", "t2")["expires_at"] == done["expires_at"]
    assert registry.get_epp_code("allegro.pl")


def test_transfer_rejected_by_the_losing_registrar(registry):
    registry.transfer("reject-taken.pl", sandbox_epp_code("reject-taken.pl"), "t1")
    clock.advance(7200)
    status = registry.transfer_status("reject-taken.pl", "t1")
    assert status == {"status": "rejected", "reason": "domains_transfer_refused", "expires_at": None}


def test_nameservers_and_lock_need_a_domain_here(registry):
    with pytest.raises(RegistrarError):
        registry.set_nameservers("nie-nasza.pl", ["ns1.a.pl", "ns2.a.pl"])
    registry.register("nasza.pl", 1, [], "d1")
    registry.set_nameservers("nasza.pl", ["ns1.a.pl", "ns2.a.pl"])
    registry.set_lock("nasza.pl", False)
    assert len(registry.get_epp_code("nasza.pl")) >= 8


@RACING
def test_racing_registrations_of_one_request_register_once(registry):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: registry.register("wyscig.pl", 1, [], "d1"), range(4)))
    assert len(set(answers)) == 1
    from services.domains.registrar import RegistryDomain

    assert RegistryDomain.objects(id="wyscig.pl").count() == 1


def test_a_lapsed_name_is_released_after_grace_and_redemption(registry):
    expires = registry.register("porzucona.pl", 1, [], "d1")
    clock.advance((expires - clock.now()).total_seconds() + 59 * 24 * 3600)
    assert not registry.check("porzucona.pl").available
    clock.advance(2 * 24 * 3600)
    assert registry.check("porzucona.pl").available
    assert registry.register("porzucona.pl", 1, [], "d2") > clock.now()
