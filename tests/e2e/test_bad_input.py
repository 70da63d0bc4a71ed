"""Bad input is a 4xx naming the field, never a 500 (issue #13, item 5), through the whole stack.

Each family here answered 500 before gateway/inputs.py: page numbers that are not plain ASCII
digits or do not fit 64 bits (int("²") in the gateway, an 8-byte overflow in MongoDB), a JSON
value of the wrong type inside an object (billing_address.city: 5, cart params), strings that
are not valid Unicode (a lone surrogate the database cannot encode), JSON nested deeply enough
to exhaust the parser's recursion (before login too). Control characters in a name or an
e-mail address were accepted; now they are refused, and nothing is written.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified, unique_email

LISTS = ("/invoices", "/services", "/tickets", "/emails", "/domains", "/news", "/account/history")
# "١٢" (Arabic-Indic) and "²" pass str.isdigit(); the big ones do not fit 64 bits or any page range
BAD_NUMBERS = ("١٢", "²", "99999999999999999999999", "9223372036854775808", "0", "-1", "1.5", " 1")


@pytest.fixture(scope="module")
def customer(stack):
    email, token = register_verified(stack.gateway_url, stack.var / "mail")
    return {"email": email, "token": token, "base": stack.gateway_url, "api": f"{stack.gateway_url}/api/v1"}


def _fields(response: requests.Response) -> dict:
    error = response.json()["error"]
    assert error["message"], error
    return error["fields"]


def _send(customer, method: str, path: str, body: str, token: bool = True) -> requests.Response:
    headers = {"Content-Type": "application/json", **(bearer(customer["token"]) if token else {})}
    return requests.request(method, customer["api"] + path, data=body.encode("utf-8"), headers=headers, timeout=30)


def _page_session(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    logged_in = browser.post(f"{base}/login", data={"csrf_token": csrf(page.text), "email": email,
                                                    "password": PASSWORD}, timeout=30)  # fmt: skip
    assert logged_in.status_code == 200 and logged_in.url.rstrip("/") == base, logged_in.text[:500]
    return browser


def test_page_numbers_not_plain_digits_or_too_big_are_422_naming_the_parameter(customer):
    for path in LISTS:
        for name in ("page", "per_page"):
            for raw in BAD_NUMBERS:
                answer = requests.get(customer["api"] + path, params={name: raw}, headers=bearer(customer["token"]),
                                      timeout=30)  # fmt: skip
                assert answer.status_code == 422, (path, name, raw, answer.status_code, answer.text[:300])
                assert answer.json()["error"]["code"] == "invalid_input"
                assert _fields(answer)[name]["code"] in ("invalid_number", "out_of_range"), (path, name, raw)
        ok = requests.get(customer["api"] + path, params={"page": "1", "per_page": "5"},
                          headers=bearer(customer["token"]), timeout=30)  # fmt: skip
        assert ok.status_code == 200, (path, ok.text[:300])


def test_html_lists_refuse_bad_page_numbers_with_a_page_naming_them(customer):
    browser = _page_session(customer["base"], customer["email"])
    for path in ("/invoices", "/services", "/tickets", "/emails", "/domains", "/news", "/account/history"):
        answer = browser.get(customer["base"] + path, params={"page": "²"}, timeout=30)
        assert answer.status_code == 422, (path, answer.status_code)
        assert "<code>page</code>" in answer.text and "Podaj liczbę całkowitą" in answer.text, path


WRONG_TYPES = [
    # (method, path, body, the field named): each was a 500, accepted, or answered without the field's name
    ("PATCH", "/profile", {"billing_address": {"city": 5}}, "billing_address.city"),
    ("PATCH", "/profile", {"notification_preferences": {"billing": "yes"}}, "notification_preferences.billing"),
    ("POST", "/cart/items", {"kind": "hosting", "params": {"plan": 5, "cycle": []}}, "params.plan"),
    ("POST", "/cart/items", {"kind": "domain_registration", "params": {"domain": "a.pl", "years": "2"}},
     "params.years"),
    ("POST", "/tickets", {"department": "technical", "priority": "low", "subject": "s", "message": "m",
                          "attachments": [{"filename": 5, "data_base64": "eA=="}]}, "attachments.filename"),
    ("PATCH", "/domains/nie-ma", {"nameservers": [5, 6]}, "nameservers"),
    ("POST", "/cart/items", {"kind": "domain_registration", "params": {"domain": "a.pl", "years": 10**30}},
     "params.years"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field"), WRONG_TYPES, ids=[w[3] for w in WRONG_TYPES])
def test_a_json_value_of_the_wrong_type_is_422_naming_it(customer, method, path, body, field):
    answer = _send(customer, method, path, json.dumps(body))
    assert answer.status_code == 422, answer.text[:300]
    assert field in _fields(answer), answer.text[:300]


def test_a_refused_change_writes_nothing(customer):
    before = requests.get(customer["api"] + "/profile", headers=bearer(customer["token"]), timeout=30).json()
    refused = _send(customer, "PATCH", "/profile", json.dumps({"first_name": "Nowe", "billing_address": {"city": 5}}))
    assert refused.status_code == 422
    refused = _send(customer, "PATCH", "/profile", json.dumps({"first_name": "Nowe\x00"}))
    assert refused.status_code == 422 and _fields(refused)["first_name"]["code"] == "control_characters"
    after = requests.get(customer["api"] + "/profile", headers=bearer(customer["token"]), timeout=30).json()
    assert after == before


INVALID_TEXT = [
    ("POST", "/auth/register", '{"email": "a\\ud800@example.pl", "password": "' + PASSWORD + '", '
                               '"first_name": "A", "last_name": "B"}', "email", False),
    ("POST", "/auth/login", '{"email": "x@example.pl", "password": "\\udfff"}', "password", False),
    ("PATCH", "/profile", '{"last_name": "W\\ud800sik"}', "last_name", True),
    ("POST", "/tickets", '{"department": "technical", "priority": "low", "subject": "\\ud800", "message": "m"}',
     "subject", True),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field", "token"), INVALID_TEXT, ids=[i[1] for i in INVALID_TEXT])
def test_a_lone_surrogate_in_json_is_422_naming_the_field(customer, method, path, body, field, token):
    answer = _send(customer, method, path, body, token=token)
    assert answer.status_code == 422, answer.text[:300]
    assert _fields(answer)[field]["code"] == "invalid_text"


def test_invalid_utf8_in_the_query_string_and_in_forms_is_refused_naming_the_field(customer):
    base = customer["base"]
    raw = requests.get(f"{customer['api']}/domains/check?name=%ED%A0%80.pl", headers=bearer(customer["token"]),
                       timeout=30)  # fmt: skip
    assert raw.status_code == 422 and _fields(raw)["name"]["code"] == "invalid_text"
    browser = requests.Session()
    token = csrf(browser.get(f"{base}/login", timeout=30).text)
    for body in (f"csrf_token={token}&email=%FF%FE&password=x", f"csrf_token={token}&email=a@b.pl&password=\xff"):
        answer = browser.post(f"{base}/login", data=body.encode("latin-1"), timeout=30,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert answer.status_code == 422, answer.status_code
        assert "<code>" in answer.text and "niepoprawny Unicode" in answer.text


def test_control_characters_in_an_email_address_or_a_name_are_refused_and_no_account_is_made(customer):
    for field, suffix in (("email", "\x00"), ("email", "\r\nBcc: x@example.pl"), ("first_name", "\x1b")):
        email = unique_email()
        body = {"email": email, "password": PASSWORD, "first_name": "Zofia", "last_name": "W"}
        body[field] += suffix
        answer = _send(customer, "POST", "/auth/register", json.dumps(body), token=False)
        assert answer.status_code == 422 and _fields(answer)[field]["code"] == "control_characters", answer.text
        login = _send(customer, "POST", "/auth/login", json.dumps({"email": email, "password": PASSWORD}), False)
        assert login.status_code in (401, 403), login.text  # no account was made


def test_deeply_nested_or_huge_json_is_refused_before_parsing_even_without_login(customer):
    for body in ("[" * 100_000 + "]" * 100_000, '{"email": ' + "{" * 5000 + "}" * 5000 + "}"):
        answer = _send(customer, "POST", "/auth/login", body, token=False)
        assert answer.status_code == 400, answer.text[:300]
        assert _fields(answer)["body"]["code"] == "json_too_deep"
    huge = json.dumps({"email": "a" * (2 * 1024 * 1024), "password": "x"})
    answer = _send(customer, "POST", "/auth/login", huge, token=False)
    assert answer.status_code == 413 and _fields(answer)["body"]["code"] == "too_large"
    nested_ok = _send(customer, "POST", "/auth/login", json.dumps({"email": [[[["x"]]]], "password": "x"}), False)
    assert nested_ok.status_code == 422 and "email" in _fields(nested_ok)
