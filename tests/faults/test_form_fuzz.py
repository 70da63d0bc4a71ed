"""Every HTML form handler of the gateway fuzzed with hypothesis: never a 5xx.

The forms are every non-API route that takes POST (read from the app's URL map, so a new form is
fuzzed without being listed here), posted by a logged-in customer and by a logged-in staff member
with a valid CSRF token and session, on a stack of its own (fuzzed logins fill the per-IP login
throttle). Field values: text with control characters and NUL, bytes that are not UTF-8 (raw or
%-escaped, surrogates encoded as UTF-8), non-ASCII digits, huge strings and numbers, missing
fields, extra fields, repeated fields; sent url-encoded or as multipart. Ids in the address are
real ones of the account (a ticket, a contact, a cart item) or random. Logout and ending sessions
are left out: they would end the session every other request uses. How many examples ran (and
their answers by status) is printed.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from urllib.parse import quote_from_bytes

import hypothesis.strategies as st
import pytest
import requests
from hypothesis import HealthCheck, given, settings

from gateway.errors import BAD_INPUT_LOG
from tests.e2e.helpers import PASSWORD, bearer, csrf, register_verified
from tools.seed import seed_staff_account

EXAMPLES = int(os.environ.get("FORM_FUZZ_EXAMPLES", "600"))
SKIP = {"pages.logout", "pages.session_end", "pages.sessions_end_others", "pages.change_password"}
NAMES = ["email", "password", "password_repeat", "first_name", "last_name", "language", "next", "token", "code",
         "phone", "mailing_list", "login", "permissions", "categories", "department", "priority", "subject", "message",
         "related", "cycle", "domain", "discount_code", "remove", "payment_method", "idempotency_key", "when",
         "confirm", "name", "years", "display", "epp_code", "nameservers", "locked", "auto_renew", "outcome",
         "secret", "uri", "note", "status", "reference", "title", "text", "title_en", "text_en", "link", "starts_at",
         "ends_at", "discount_percent", "body", "concerns_plans", "published_at", "subject_pl", "body_pl",
         "subject_en", "body_en", "pw_current", "pw_new", "pw_repeat", "pw_code", "current_password",
         *(f"billing_address.{k}" for k in ("company", "nip", "street", "postcode", "city", "country")),
         *(f"address.{k}" for k in ("company", "nip", "street", "postcode", "city", "country")),
         *(f"notification_preferences.{c}" for c in ("billing", "services", "domains", "support", "security"))]  # fmt: skip
NASTY = ["", " ", "\x00", "a\x00b", "\x1b[2J", "x@example.pl\r\nBcc: y@example.pl", "\u2028", "\x85", "²", "١٢",
         "99999999999999999999999", "-1", "0", "1e400", "NaN", "<script>alert(1)</script>", "../../etc/passwd",
         "%ff", "%ED%A0%80", "x" * 100_000, "ó" * 5000, "card", "credit", "immediate", "pl", "en", "yearly"]  # fmt: skip
CLEAN = st.one_of(st.sampled_from(["card", "credit", "bank_transfer", "immediate", "end_of_period", "pl", "en", "yearly",
                                    "monthly", "technical", "low", "1", "2", "on", "przyklad.pl", "a@example.pl"]),
                  st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=30)).map(str.encode)  # fmt: skip
NASTY_VALUES = st.one_of(
    st.sampled_from(NASTY).map(str.encode),
    st.text(alphabet=st.characters(codec=None), max_size=12).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=24),
)
NAME = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), st.text(max_size=8))
# plausible fields, then (most of the time) one or two nasty ones among them
FIELDS = st.tuples(st.lists(st.tuples(NAME, CLEAN), max_size=8),
                   st.lists(st.tuples(NAME, NASTY_VALUES), max_size=1)).map(lambda t: t[0] + t[1])  # fmt: skip


def _form_rules(app) -> list[tuple[str, str]]:
    rules = [(r.rule, r.endpoint) for r in app.url_map.iter_rules() if "POST" in (r.methods or ())]
    return sorted((rule, endpoint) for rule, endpoint in rules if not rule.startswith("/api/") and endpoint not in SKIP)


def _login(base: str, email: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    answer = browser.post(f"{base}/login", data={"csrf_token": csrf(page.text), "email": email, "password": password},
                          timeout=30)  # fmt: skip
    assert answer.status_code == 200 and "/login" not in answer.url, answer.text[:300]
    return browser


def _ids(base: str, token: str) -> dict[str, str]:
    """Real ids of the account for the addresses' placeholders (what cannot be made stays random)."""
    api, headers = f"{base}/api/v1", bearer(token)
    ticket = requests.post(f"{api}/tickets", headers=headers, timeout=30, json={
        "department": "technical", "priority": "low", "subject": "Fuzz", "message": "Formularze"}).json()  # fmt: skip
    contact = requests.post(f"{api}/contacts", headers=headers, timeout=30, json={
        "first_name": "Ala", "last_name": "Kot", "email": f"k-{uuid.uuid4().hex[:8]}@example.pl"}).json()  # fmt: skip
    cart = requests.post(f"{api}/cart/items", headers=headers, timeout=30, json={
        "kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}).json()  # fmt: skip
    ids = {"ticket_id": ticket.get("ticket_id"), "contact_id": contact.get("contact_id"),
           "item_id": (cart.get("items") or [{}])[0].get("item_id"), "plan_code": "hosting-start"}  # fmt: skip
    return {k: v for k, v in ids.items() if v}


def _encode(fields: list[tuple[str, bytes]], raw: bool) -> bytes:
    def part(value: bytes) -> bytes:
        return value.replace(b"&", b"%26").replace(b"=", b"%3D") if raw else quote_from_bytes(value).encode()

    return b"&".join(part(name.encode("utf-8", "surrogatepass")) + b"=" + part(value) for name, value in fields)


@pytest.fixture(scope="module")
def sessions(isolated_stack):
    stack = isolated_stack
    email, token = register_verified(stack.gateway_url, stack.var / "mail")
    staff_email, staff_password = f"staff-{uuid.uuid4().hex[:8]}@panel.localhost", "Fuzz-Staff-Password-2026"
    from tools.devstack import ROOT

    seed_staff_account(stack.gateway_url, staff_email, staff_password, stack.environment(), ROOT)
    return {"customer": _login(stack.gateway_url, email, PASSWORD),
            "staff": _login(stack.gateway_url, staff_email, staff_password),
            "ids": _ids(stack.gateway_url, token)}  # fmt: skip


def test_every_form_handler_answers_arbitrary_fields_without_a_server_error(isolated_stack, sessions, capsys):
    stack, base = isolated_stack, isolated_stack.gateway_url
    os.environ.setdefault("SECRET_KEY", "only-to-read-the-url-map")
    from gateway.app import create_app

    rules = _form_rules(create_app())
    assert len(rules) >= 40, rules
    log_start = len((stack.log_dir / "gateway.log").read_text(errors="replace"))
    tokens = {who: csrf(s.get(f"{base}/tickets/new" if who == "customer" else f"{base}/staff/offer", timeout=30).text)
              for who, s in sessions.items() if who != "ids"}  # fmt: skip
    answers: Counter = Counter()
    server_errors: list[str] = []
    started = time.monotonic()

    @given(rule=st.sampled_from(rules), who=st.sampled_from(["customer", "customer", "staff"]), fields=FIELDS,
           encoding=st.sampled_from(["urlencoded", "raw", "multipart"]), with_csrf=st.sampled_from([True, True, True, False]),
           random_id=st.booleans())  # fmt: skip
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def post(rule, who, fields, encoding, with_csrf, random_id):
        path, endpoint = rule

        def placeholder(match: re.Match) -> str:
            name = match.group(1).split(":")[-1]
            return uuid.uuid4().hex if random_id else sessions["ids"].get(name, uuid.uuid4().hex)

        url = base + re.sub(r"<([^>]+)>", placeholder, path)
        sent = ([("csrf_token", tokens[who].encode())] if with_csrf else []) + fields
        browser = sessions[who]
        if encoding == "multipart":
            files = [(name.encode("utf-8", "surrogatepass").decode("latin-1"), (None, value)) for name, value in sent]
            answer = browser.post(url, files=files or None, data=None if files else {"x": ""}, timeout=60,
                                  allow_redirects=False)  # fmt: skip
        else:
            answer = browser.post(url, data=_encode(sent, raw=encoding == "raw"), timeout=60, allow_redirects=False,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        answers[answer.status_code] += 1
        if answer.status_code >= 500:
            server_errors.append(f"{answer.status_code} {endpoint} {encoding} {sent!r:.300}")

    post()
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\nform fuzz: {sum(answers.values())} posts to {len(rules)} form handlers, answers "
              f"{dict(sorted(answers.items()))}, {seconds:.0f} s")  # fmt: skip
    assert not server_errors, "\n".join(server_errors[:20])
    log = (stack.log_dir / "gateway.log").read_text(errors="replace")[log_start:]
    assert BAD_INPUT_LOG not in log, [line for line in log.splitlines() if BAD_INPUT_LOG in line][:10]
    assert answers[200] + answers[302] + answers[303] > 0  # some posts were accepted, not all refused
