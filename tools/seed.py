"""Seed the demo login the way a person would: register, read the mail, verify."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import requests

TOKEN_RE = re.compile(r"verify-email\?token=([A-Za-z0-9_\-]+)")


def find_mail(
    mail_dir: Path, to: str, subject_contains: str = "", since: float = 0.0
) -> email.message.EmailMessage | None:
    """The newest stored mail to `to` (optionally matching the subject), received after `since`."""
    newest = None
    for path in sorted(mail_dir.glob("*.eml")):
        if path.stat().st_mtime < since:
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to.lower() in str(message["To"]).lower() and subject_contains in str(message["Subject"]):
            newest = message
    return newest


def wait_for_mail(mail_dir: Path, to: str, subject_contains: str = "", since: float = 0.0, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = find_mail(mail_dir, to, subject_contains, since)
        if message is not None:
            return message
        time.sleep(0.2)
    raise TimeoutError(f"no mail to {to} ({subject_contains!r}) within {timeout}s in {mail_dir}")


def mail_text(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def seed_demo_account(base_url: str, mail_dir: Path, address: str, password: str) -> None:
    login = requests.post(f"{base_url}/api/v1/auth/login", json={"email": address, "password": password}, timeout=30)
    if login.status_code == 200:
        return
    started = time.time() - 1
    created = requests.post(f"{base_url}/api/v1/auth/register", timeout=30, json={
        "email": address, "password": password, "first_name": "Jan", "last_name": "Demo", "language": "pl"})  # fmt: skip
    if created.status_code not in (201, 409):
        raise RuntimeError(f"could not register the demo account: {created.status_code} {created.text}")
    if created.status_code == 409:  # exists with another password, or was never verified
        print(f"note: {address} exists but the demo password does not log in; reset it at {base_url}/password-reset")
        return
    token = TOKEN_RE.search(mail_text(wait_for_mail(mail_dir, address, since=started))).group(1)
    verified = requests.post(f"{base_url}/api/v1/auth/verify-email", json={"token": token}, timeout=30)
    verified.raise_for_status()


def seed_staff_account(base_url: str, address: str, password: str, env: dict[str, str], cwd: Path) -> None:
    """The demo staff login, made with the staff command the way an operator would."""
    login = requests.post(f"{base_url}/api/v1/auth/login", json={"email": address, "password": password}, timeout=30)
    if login.status_code == 200:
        return
    argv = [sys.executable, "-m", "services.accounts.staff", "create", "--email", address,
            "--first-name", "Obsługa", "--last-name", "Demo"]  # fmt: skip
    created = subprocess.run(argv, env={**env, "STAFF_PASSWORD": password}, cwd=cwd, check=False)
    if created.returncode != 0:
        print(f"note: could not create the demo staff account {address} (see the message above)")


def seed_demo_offer(env: dict[str, str]) -> None:
    """The dashboard's offer banner for the demo (with a discount code for the cart), set
    through billing like staff would; an offer already running is left alone."""
    import datetime as dt

    from kernel import settings
    from kernel.caller import rpc_proxy

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with rpc_proxy(env.get("AMQP_URI", settings.AMQP_URI), {"type": "system", "id": "seed"}, timeout=30) as cluster:
        if cluster.billing.get_current_offer():
            return
        cluster.billing.set_offer(
            "Hosting Start 20% taniej", "Z kodem JESIEN20 zapłacisz za pierwszy okres o 20% mniej.", "/order",
            (now - dt.timedelta(days=1)).isoformat(), (now + dt.timedelta(days=60)).isoformat(), "JESIEN20", 20,
            title_en="Hosting Start 20% off",
            text_en="With the code JESIEN20 you pay 20% less for the first period.",
        )  # fmt: skip


def seed_help_articles(env: dict[str, str]) -> None:
    """The knowledge base's default articles (section 10's guide on registering and transferring domains),
    written by support once; articles staff already wrote or changed are left alone."""
    from kernel import settings
    from kernel.caller import rpc_proxy

    with rpc_proxy(env.get("AMQP_URI", settings.AMQP_URI), {"type": "system", "id": "seed"}, timeout=30) as cluster:
        cluster.support.seed_help_articles()


# --- the demo account's content (issue #18): services, domains, invoices, tickets, a contact, news -------------
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ACCEPT_RE = re.compile(r"/contacts/accept\?token=([A-Za-z0-9_\-]+)")
DEMO_CONTACT = {"first_name": "Anna", "last_name": "Kontaktowa", "email": "kontakt@panel.localhost", "login": True,
                "permissions": ["invoices.view", "invoices.pay", "tickets.view", "tickets.open"]}  # fmt: skip
DEMO_ADDRESS = {"company": "Demo Sp. z o.o.", "nip": "5260001246", "street": "Długa 1", "postcode": "00-950",
                "city": "Warszawa", "country": "PL"}  # fmt: skip
# A service ordered this long ago is due within billing's renewal window (RENEWAL_DAYS, 14) on a monthly cycle.
ORDERED_DAYS_AGO = 20
TIMEOUT = 60


class Api:
    """The panel's JSON API as one logged-in person."""

    def __init__(self, base_url: str, address: str, password: str):
        self.base = base_url
        login = requests.post(
            f"{base_url}/api/v1/auth/login", json={"email": address, "password": password}, timeout=30
        )
        login.raise_for_status()
        self.headers = {"Authorization": f"Bearer {login.json()['token']}"}

    def __call__(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs) -> dict:
        answer = requests.request(method, f"{self.base}/api/v1{path}", headers={**self.headers, **kwargs.pop("headers", {})},
                                  timeout=30, **kwargs)  # fmt: skip
        if answer.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else {}

    def items(self, path: str, **params) -> list[dict]:
        return self("GET", path, params=params)["items"]


class Page:
    """The panel's HTML pages as one logged-in person (staff desk, sandbox card, a contact's invitation)."""

    def __init__(self, base_url: str):
        self.base, self.session = base_url, requests.Session()

    def post(self, form_path: str, action: str | None = None, **data) -> requests.Response:
        page = self.session.get(f"{self.base}{form_path}", timeout=30)
        token = CSRF_RE.search(page.text).group(1)
        answer = self.session.post(f"{self.base}{action or form_path}", data={"csrf_token": token, **data}, timeout=30)
        if answer.status_code >= 400:
            raise RuntimeError(f"POST {action or form_path}: {answer.status_code}")
        return answer

    def login(self, address: str, password: str) -> Page:
        self.post("/login", email=address, password=password)
        return self


def _buy(api: Api, items: list[dict], method: str, key: str) -> None:
    """Put the items in the cart and check out; a card payment is made on the sandbox provider's page."""
    for item in items:
        api("POST", "/cart/items", json=item)
    done = api("POST", "/cart/checkout", json={"payment_method": method}, headers={"Idempotency-Key": key})
    payment_id = (done.get("payment") or {}).get("payment_id")
    if method == "card" and payment_id:
        Page(api.base).post(f"/sandbox-pay/{payment_id}", outcome="success")


class Clock:
    """The stack's shared clock (CLOCK_FILE, kernel.clock) moved back for a while: what is done inside happened then."""

    def __init__(self, path: Path | None, days: int):
        self.path, self.seconds = path, days * 86400

    def _move(self, seconds: float) -> None:
        if self.path:
            now = float(self.path.read_text() or 0) if self.path.exists() else 0.0
            self.path.write_text(str(now + seconds))

    def __enter__(self):
        self._move(-self.seconds)

    def __exit__(self, *exc):
        self._move(self.seconds)


def seed_demo_content(base_url: str, mail_dir: Path, demo: tuple[str, str], staff: tuple[str, str],
                      clock_file: Path | None) -> None:  # fmt: skip
    """Fill the demo account once, each part only when it is missing: two hosting plans and a domain ordered 20 days
    ago and paid by card (the monthly plan is due for renewal: "Odnów teraz"); a third plan by bank transfer (an
    unpaid invoice); two tickets, one answered by staff; a contact who can log in; news. Without `clock_file` (a
    stack without CLOCK_FILE) the plans are ordered today and none is due yet."""
    from tools.waiting import wait_until

    api = Api(base_url, *demo)
    api("PATCH", "/profile", json={"phone": "+48 600 700 800", "billing_address": DEMO_ADDRESS})
    if not api.items("/services"):
        suffix = str(int(time.time()))[-6:]
        with Clock(clock_file, ORDERED_DAYS_AGO):
            earlier = Api(base_url, *demo)  # a session of that day
            _buy(earlier, [{"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly", "domain": f"demo-{suffix}.pl"}},
                           {"kind": "hosting", "params": {"plan": "hosting-pro", "cycle": "yearly", "domain": f"firma-{suffix}.pl"}},
                           {"kind": "domain_registration", "params": {"domain": f"demo-{suffix}.pl", "years": 1}}],
                 "card", f"demo-first-{suffix}")  # fmt: skip
            wait_until(
                lambda: sum(s["status"] == "active" for s in earlier.items("/services")) >= 2,
                TIMEOUT,
                "both plans active",
            )
        api = Api(base_url, *demo)
        _buy(api, [{"kind": "hosting", "params": {"plan": "hosting-biznes", "cycle": "yearly", "domain": f"sklep-{suffix}.pl"}}],
             "bank_transfer", f"demo-second-{suffix}")  # fmt: skip
        wait_until(lambda: api.items("/invoices", status="unpaid"), TIMEOUT, "the unpaid invoice")
    _seed_tickets(api, staff)
    _seed_contact(api, base_url, mail_dir, demo[1])
    _seed_news(base_url, staff)


def _seed_tickets(api: Api, staff: tuple[str, str]) -> None:
    if api.items("/tickets"):
        return
    answered = api("POST", "/tickets", json={"department": "technical", "priority": "medium",
                                             "subject": "Jak ustawić przekierowanie poczty?",
                                             "message": "Chcę, żeby poczta z biuro@ trafiała też na mój prywatny adres."})  # fmt: skip
    api("POST", "/tickets", json={"department": "billing", "priority": "low", "subject": "Faktura z innym NIP-em",
                                  "message": "Czy mogę dostać fakturę na drugą firmę?"})  # fmt: skip
    desk = Page(api.base).login(*staff)
    ticket = f"/staff/tickets/{answered['ticket_id']}"
    desk.post(ticket, f"{ticket}/reply", message="Dzień dobry, przekierowanie ustawi Pan w Usługi > Poczta > "
              "Przekierowania. Jeśli coś nie zadziała, proszę odpisać w tym zgłoszeniu.")  # fmt: skip


def _seed_contact(api: Api, base_url: str, mail_dir: Path, password: str) -> None:
    if api.items("/contacts"):
        return
    since = time.time() - 1
    api("POST", "/contacts", json=DEMO_CONTACT)
    token = ACCEPT_RE.search(mail_text(wait_for_mail(mail_dir, DEMO_CONTACT["email"], since=since))).group(1)
    Page(base_url).post(f"/contacts/accept?token={token}", "/contacts/accept", token=token, password=password,
                        password_repeat=password)  # fmt: skip


def _seed_news(base_url: str, staff: tuple[str, str]) -> None:
    desk = Page(base_url).login(*staff)
    if "data-news=" in desk.session.get(f"{base_url}/staff/news", timeout=30).text:
        return
    for language, title, body in (
        ("pl", "Nowe centrum danych w Warszawie", "Od grudnia nowe konta hostingowe działają w centrum danych w Warszawie: szybciej i bliżej."),
        ("en", "A new data centre in Warsaw", "From December new hosting accounts run in our Warsaw data centre: faster and closer."),
        ("pl", "Przerwa techniczna 12 grudnia", "W nocy z 12 na 13 grudnia, 1:00–3:00, poczta może odpowiadać wolniej."),
    ):  # fmt: skip
        desk.post("/staff/news", title=title, body=body, language=language, concerns_plans="", published_at="")
