"""A service's lifecycle and the account's password in a real headless Chromium (issue #18's walks):
an upgrade with its prorated amount shown before confirming, invoiced and paid; a consumer's withdrawal within
14 days with its correcting invoice, the refund to the balance and the acknowledgement mail (and none offered
after 14 days); the password changed while logged in, ending the other sessions; tables labelled on a phone;
knowledge-base articles suggested on the new-ticket form. Every step at phone and desktop width, checked with
axe-core (WCAG 2.1 AA) and photographed into var/screenshots/<test name>/, error states included.

State that is not the thing walked (an account, a paid service) is set up through /api/v1; the stack's clock
(CLOCK_FILE) is moved so a period is partly used, and put back afterwards. The expected amounts are worked out
here from the catalogue's prices and the dates, not taken from the code."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests
from selenium.webdriver.common.by import By

from kernel.caller import rpc_proxy
from tests.browser import axe
from tests.browser.conftest import DESKTOP
from tests.browser.test_journey import _el, _fill, _present, _text
from tests.e2e.helpers import PASSWORD, bearer, client_at, csrf, random_loopback, register_verified, wait_for
from tests.e2e.test_help import GUIDE
from tools.seed import mail_text, wait_for_mail

DAY = 86_400
PHONE_390 = (390, 844)
NEW_PASSWORD = "Zupelnie-Nowe-Haslo-2027"


# --- the stack: its clock, an account, a paid service (through the API) ---------------------------------------
@pytest.fixture
def clock(stack):
    """Moves the stack's shared clock forward by days; puts it back afterwards for the other tests."""
    before = stack.clock_file.read_text()

    def move(days: float) -> None:
        stack.clock_file.write_text(str(float(stack.clock_file.read_text() or 0) + days * DAY))

    yield move
    stack.clock_file.write_text(before)


def _stack_today(stack) -> dt.date:
    """The stack's date now (UTC and the clock file's offset, as kernel.clock reads it)."""
    offset = float(stack.clock_file.read_text() or 0)
    return (dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=offset)).date()


class Customer:
    """A verified consumer (no NIP) with an API token; `email` logs in with PASSWORD."""

    def __init__(self, stack):
        self.stack, self.base = stack, stack.gateway_url
        self.email, _ = register_verified(self.base, stack.var / "mail")
        self.log_in()

    def log_in(self) -> None:
        """A token of its own (again after the clock moved past a session's 14 days)."""
        login = requests.post(f"{self.base}/api/v1/auth/login", json={"email": self.email, "password": PASSWORD},
                              timeout=30)  # fmt: skip
        assert login.status_code == 200, login.text
        self.token, self.account_id = login.json()["token"], login.json()["account_id"]

    def api(self, method: str, path: str, **kwargs) -> dict:
        answer = requests.request(method, f"{self.base}/api/v1{path}", headers=bearer(self.token), timeout=30, **kwargs)
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    def plan(self, code: str) -> dict:
        """The catalogue's plan: its monthly net and gross and its VAT rate."""
        plan = next(p for p in self.api("GET", "/catalog")["plans"] if p["code"] == code)
        monthly = next(c for c in plan["cycles"] if c["cycle"] == "monthly")
        return {"name": plan["name"], "net": monthly["net"], "gross": monthly["gross"], "vat_rate": plan["vat_rate"]}

    def paid_service(self, plan: str = "hosting-start") -> str:
        """A monthly hosting service ordered and paid from the balance (staff credit it first); its id."""
        before = {s["service_id"] for s in self.api("GET", "/services")["items"]}
        self.api("POST", "/cart/items", json={"kind": "hosting", "params": {"plan": plan, "cycle": "monthly"}})
        order = requests.post(f"{self.base}/api/v1/cart/checkout", json={"payment_method": "bank_transfer"},
                              headers={**bearer(self.token), "Idempotency-Key": uuid.uuid4().hex}, timeout=60)  # fmt: skip
        assert order.status_code == 200, order.text
        invoice_id = order.json()["invoice_id"]
        gross = self.api("GET", f"/invoices/{invoice_id}")["total_gross"]
        with rpc_proxy(self.stack.env["AMQP_URI"], actor={"type": "staff", "id": "test-staff"}, timeout=30) as cluster:
            cluster.billing.add_credit(self.account_id, gross)
        self.api("POST", f"/invoices/{invoice_id}/pay", json={"payment_method": "credit"})

        def new_active() -> str | None:
            found = [s for s in self.api("GET", "/services")["items"] if s["service_id"] not in before]
            return found[0]["service_id"] if found and found[0]["status"] == "active" else None

        return wait_for(new_active, what="the paid service active")

    def credit(self) -> int:
        return self.api("GET", "/billing/ledger")["credit"]


# --- the proration and withdrawal rules, worked out independently ---------------------------------------------
def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _vat(net: int, rate: int) -> int:
    return _half_up(Decimal(net) * rate / 100)


def _month_period(next_due: dt.date) -> int:
    """Days in the monthly period ending `next_due`: from the same day a calendar month before."""
    year, month = (next_due.year, next_due.month - 1) if next_due.month > 1 else (next_due.year - 1, 12)
    start = dt.date(year, month, min(next_due.day, calendar.monthrange(year, month)[1]))
    return (next_due - start).days


def _days(customer: Customer, service_id: str) -> tuple[int, int]:
    """(days left, days in the period) of the service's current period, today by the stack's clock."""
    next_due = dt.datetime.fromisoformat(customer.api("GET", f"/services/{service_id}")["next_due_date"]).date()
    return (next_due - _stack_today(customer.stack)).days, _month_period(next_due)


def _zl(grosze: int) -> str:
    """How a page writes the amount (without the currency), e.g. 1234,50 → "1 234,50" (spaces normalised)."""
    whole = f"{abs(grosze) // 100:,}".replace(",", " ")
    return f"{whole},{abs(grosze) % 100:02d}"


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


# --- the browser -----------------------------------------------------------------------------------------------
def _check(browser, step: str, widths=(PHONE_390, DESKTOP)) -> None:
    """axe-core at phone and desktop width, a screenshot of each; no horizontal overflow at either."""
    for width, height in widths:
        browser.set_window_size(width, height)
        wait_for(lambda w=width: browser.execute_script("return window.innerWidth") == w, what=f"{width}px")
        scroll, client = browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]"
        )
        assert scroll <= client, f"{step} at {width}px is {scroll}px wide (room: {client}px)"
        small = browser.execute_script("""return Array.from(document.querySelectorAll(
            "main button:not(.link), main a.button")).filter(b => b.offsetParent !== null
            && b.getBoundingClientRect().height < 44).map(b => b.textContent.trim())""")
        assert small == [], f"{step} at {width}px: buttons too small to tap (< 44 px): {small}"
        axe.check(browser, step)
        browser.shots(f"{step}-{width}")
    assert "<" not in browser.title, f"{step}: markup in the page title: {browser.title!r}"


def _login(browser, base: str, email: str, password: str) -> None:
    browser.get(f"{base}/login")
    _fill(browser, "f-email", email)
    _fill(browser, "f-password", password)
    _el(browser, "main form button.primary").click()
    wait_for(lambda: "/login" not in browser.current_url and _present(browser, "main h1"), what="logged in")


def _go(browser, css: str, url_part: str) -> None:
    """Click and wait for the next page."""
    before = browser.current_url
    _el(browser, css).click()
    wait_for(lambda: browser.current_url != before and url_part in browser.current_url
             and browser.execute_script("return document.readyState") == "complete", what=url_part)  # fmt: skip


def _submit(browser, css: str) -> None:
    """Submit a form whose answer may be the same URL (an error shown on the page again): wait for a new page."""
    old = _el(browser, "html")
    _el(browser, css).click()

    def replaced() -> bool:
        try:
            old.tag_name  # noqa: B018 - raises once the old page is gone
            return False
        except Exception:  # StaleElementReferenceException: the new page is there
            return browser.execute_script("return document.readyState") == "complete"

    wait_for(replaced, what="the answer page")


def _field_error(browser, name: str) -> str:
    """The error shown next to the field: inside the field's own box, tied to it by aria-describedby."""
    field = _el(browser, f"#f-{name}")
    assert field.get_attribute("aria-invalid") == "true", f"{name} not marked invalid"
    assert f"e-{name}" in (field.get_attribute("aria-describedby") or "")
    box = field.find_element(By.XPATH, "./ancestor::div[contains(@class, 'field') or contains(@class, 'check')][1]")
    error = browser.find_element(By.ID, f"e-{name}")
    same_box = box.find_elements(By.ID, f"e-{name}") or box.find_elements(By.XPATH, f"following-sibling::*[1][@id='e-{name}']")  # fmt: skip
    assert same_box and error.is_displayed(), f"the error of {name} is not next to it"
    return error.text


def _in_sight(browser, name: str) -> None:
    """The answer page opens at the field in error, focused, its message on screen (a form far down a long page)."""
    wait_for(lambda: browser.switch_to.active_element.get_attribute("id") == f"f-{name}", what=f"f-{name} focused")
    box = browser.execute_script(f"return document.getElementById('e-{name}').getBoundingClientRect()")
    assert box["top"] >= 0 and box["bottom"] <= browser.execute_script("return window.innerHeight"), f"e-{name}: {box}"


def _manage(browser, base: str, service_id: str) -> None:
    """The services list, then the service's "Zarządzaj"."""
    browser.get(f"{base}/services")
    button = _el(browser, f'tr[data-service="{service_id}"] a.button')
    assert button.text == "Zarządzaj"
    _go(browser, f'tr[data-service="{service_id}"] a.button', f"/services/{service_id}")


# --- 1. upgrade with proration -----------------------------------------------------------------------------------
def test_an_upgrade_shows_the_prorated_amount_before_confirming_and_invoices_it(stack, browser, clock):
    base, customer = stack.gateway_url, Customer(stack)
    service_id = customer.paid_service("hosting-start")
    start, biznes = customer.plan("hosting-start"), customer.plan("hosting-biznes")
    clock(10.3)  # ten days of the month used: the difference is for the rest of the period only
    left, total = _days(customer, service_id)
    assert 0 < left < total, (left, total)
    net = _half_up(Decimal(biznes["net"] - start["net"]) * left / total)
    expected = net + _vat(net, biznes["vat_rate"])
    full = biznes["gross"] - start["gross"]
    assert 0 < expected < full, (expected, full)

    _login(browser, base, customer.email, PASSWORD)
    _manage(browser, base, service_id)
    assert _el(browser, "[data-plan]").text == "Hosting Start"
    assert f"pozostałe {left} z {total} dni" in _text(browser, "main")
    label = _el(browser, 'label[for="f-plan-hosting-biznes"]')
    assert int(label.get_attribute("data-prorated")) == expected
    assert f"{biznes['name']}: dopłata {_zl(expected)}" in _plain(label.text), label.text
    _check(browser, "service-plan-amounts")

    # Error state: "Zmień plan" without accepting the amount: the error next to the box, the choice kept.
    browser.set_window_size(*PHONE_390)
    _el(browser, "#f-plan-hosting-biznes").click()
    _submit(browser, "section[aria-labelledby='plan-h'] button")
    assert _field_error(browser, "plan_confirm") == "Zaznacz potwierdzenie, aby zmienić plan."
    _in_sight(browser, "plan_confirm")
    assert _el(browser, "#f-plan-hosting-biznes").is_selected(), "the chosen plan was not kept"
    assert int(_el(browser, 'label[for="f-plan-hosting-biznes"]').get_attribute("data-prorated")) == expected
    _check(browser, "plan-unconfirmed-error")

    _el(browser, "#f-plan_confirm").click()
    _go(browser, "section[aria-labelledby='plan-h'] button", "/invoices/")
    assert f"dopłatę {_zl(expected)}" in _plain(_text(browser, ".flash"))
    assert _el(browser, "[data-invoice-status]").get_attribute("data-invoice-status") == "unpaid"
    invoice_id = browser.current_url.rstrip("/").rsplit("/", 1)[-1]
    invoice = customer.api("GET", f"/invoices/{invoice_id}")
    assert [line["kind"] for line in invoice["lines"]] == ["hosting_plan_change"]
    assert invoice["total_gross"] == invoice["lines"][0]["gross"] == expected
    assert invoice["total_net"] == net
    assert _zl(expected) in _plain(_text(browser, "table.lines tfoot"))
    assert _zl(expected) in _plain(_text(browser, ".pay"))  # the amount due
    _check(browser, "upgrade-invoice")
    browser.get(f"{base}/services/{service_id}")
    assert _el(browser, "[data-plan]").get_attribute("data-plan") == "hosting-start", "changed before being paid"

    # Pay the invoice by card: declined first (the error state, with a button to try again), then paid.
    browser.get(f"{base}/invoices/{invoice_id}")
    _el(browser, "#f-pm-card").click()
    _go(browser, "form.pay button.primary", "/sandbox-pay/")
    assert _zl(expected) in _plain(_text(browser, "main"))
    _check(browser, "sandbox-card")
    _go(browser, 'button[name="outcome"][value="failure"]', "/payments/return")
    wait_for(lambda: _present(browser, '[data-payment-status="failed"]'), what="the payment declined")
    _check(browser, "payment-declined")
    _go(browser, "[data-payment-status] a.button.primary", f"/invoices/{invoice_id}")
    _el(browser, "#f-pm-card").click()
    _go(browser, "form.pay button.primary", "/sandbox-pay/")
    _go(browser, 'button[name="outcome"][value="success"]', "/payments/return")
    wait_for(lambda: _present(browser, '[data-payment-status="paid"]'), timeout=30, what="the payment confirmed")
    _check(browser, "upgrade-paid")

    wait_for(lambda: customer.api("GET", f"/services/{service_id}")["plan"] == "hosting-biznes", what="the new plan")
    _manage(browser, base, service_id)
    assert _el(browser, "[data-plan]").get_attribute("data-plan") == "hosting-biznes"
    assert _el(browser, "[data-plan]").text == biznes["name"]
    assert customer.api("GET", f"/invoices/{invoice_id}")["status"] == "paid"
    assert _present(browser, f'main table a[href="/invoices/{invoice_id}"]'), "the plan change's invoice not listed"
    _check(browser, "service-on-new-plan")


# --- 2. withdrawal within 14 days --------------------------------------------------------------------------------
def test_a_consumer_withdraws_within_14_days_and_not_after(stack, browser, clock):
    base, customer, mail = stack.gateway_url, Customer(stack), stack.var / "mail"
    recent, older = customer.paid_service(), customer.paid_service()
    start = customer.plan("hosting-start")
    assert customer.credit() == 0
    clock(3.2)  # three days used of the month
    left, total = _days(customer, recent)
    used_net = _half_up(Decimal(start["net"]) * (total - left) / total)
    refund = start["gross"] - used_net - _vat(used_net, start["vat_rate"])
    assert 0 < refund < start["gross"], refund

    _login(browser, base, customer.email, PASSWORD)
    _manage(browser, base, recent)
    cancel = _el(browser, "section.cancel")
    assert "Odstąp od umowy" in cancel.find_element(By.ID, "withdraw-h").text
    assert f"Zwrócimy {_zl(refund)}" in _plain(cancel.text), cancel.text
    _check(browser, "service-withdrawal-offered")

    _go(browser, f'a.button[href="/services/{recent}/withdraw"]', f"/services/{recent}/withdraw")
    assert _el(browser, "main h1").text == "Odstąp od umowy"
    assert f"zwrócimy {_zl(refund)}" in _plain(_text(browser, "main")), _text(browser, "main")
    _check(browser, "withdraw-confirmation-step")

    # Error state: the button without the confirmation box.
    _submit(browser, "main form button.danger")
    assert _field_error(browser, "confirm") == "Zaznacz potwierdzenie, aby odstąpić od umowy."
    _in_sight(browser, "confirm")
    assert _present(browser, "#f-confirm") and not _el(browser, "#f-confirm").is_selected()
    _check(browser, "withdraw-unconfirmed-error")
    assert customer.api("GET", f"/services/{recent}")["status"] == "active", "withdrawn without the confirmation"

    since = time.time() - 1
    _el(browser, "#f-confirm").click()
    _go(browser, "main form button.danger", f"/services/{recent}")
    wait_for(lambda: not browser.current_url.endswith("/withdraw"), what="back on the service page")
    # The refund through the correction path: a correcting invoice for minus the refund, the refund on the balance.
    corrections = wait_for(lambda: [i for i in customer.api("GET", "/invoices")["items"] if i["kind"] == "correction"],
                           what="the correcting invoice")  # fmt: skip
    assert len(corrections) == 1 and corrections[0]["number"].startswith("KOR/"), corrections
    assert corrections[0]["total_gross"] == -refund, (corrections[0]["total_gross"], refund)
    flash = _plain(_text(browser, ".flash"))
    assert f"korygującą {corrections[0]['number']} i zwróciliśmy {_zl(refund)} zł na saldo konta" in flash, flash
    assert _el(browser, "[data-service-status]").get_attribute("data-service-status") == "cancelled"
    assert not _present(browser, f'a[href="/services/{recent}/withdraw"]'), "still offered after withdrawing"
    assert "Następna płatność" not in _text(browser, "main"), "an ended service shows a next payment"
    assert _present(browser, f'main table a[href="/invoices/{corrections[0]["invoice_id"]}"]'), "no correction listed"
    _check(browser, "withdrawn")
    wait_for(lambda: customer.credit() == refund, what="the refund on the balance")
    browser.get(f"{base}/invoices")
    row = _el(browser, f'tr[data-invoice="{corrections[0]["invoice_id"]}"]')
    assert corrections[0]["number"] in row.text and _zl(refund) in _plain(row.text)
    _check(browser, "invoices-with-correction")
    _go(browser, f'tr[data-invoice="{corrections[0]["invoice_id"]}"] a', f"/invoices/{corrections[0]['invoice_id']}")
    assert _zl(refund) in _plain(_text(browser, "table.lines tfoot"))
    _check(browser, "correction-invoice")
    browser.get(f"{base}/billing/ledger")
    assert _zl(refund) in _plain(_text(browser, "main")), _text(browser, "main")
    _check(browser, "ledger-refund")

    message = wait_for_mail(mail, customer.email, "odstąpienia", since=since)
    text = _plain(mail_text(message))
    assert f"fakturę korygującą i zwróciliśmy {_zl(refund)} zł na saldo Twojego konta" in text, text

    # More than 14 days after the order: no "Odstąp od umowy", and its page says why (the error state).
    clock(12.0)  # 15.2 days since both orders
    customer.log_in()  # the sessions of 14 days have ended
    _login(browser, base, customer.email, PASSWORD)
    _manage(browser, base, older)
    assert customer.api("GET", f"/services/{older}")["status"] == "active"
    assert not _present(browser, f'a[href="/services/{older}/withdraw"]') and "Odstąp od umowy" not in _text(browser)
    _check(browser, "after-14-days-no-withdrawal")
    browser.get(f"{base}/services/{older}/withdraw")
    assert "nie jest już możliwe" in _text(browser, "main") and not _present(browser, "main form")
    _check(browser, "after-14-days-withdraw-page")
    refused = requests.post(f"{base}/api/v1/services/{older}/withdraw", json={"confirm": True},
                            headers=bearer(customer.token), timeout=30)  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "withdrawal_period_over", refused.text


# --- 3. password change while logged in --------------------------------------------------------------------------
def _web_session(base: str, email: str, password: str) -> requests.Session:
    """A second, plain HTTP session of the same account (the panel's login form)."""
    other = requests.Session()
    page = other.get(f"{base}/login", timeout=30)
    done = other.post(f"{base}/login", data={"csrf_token": csrf(page.text), "email": email, "password": password},
                      timeout=30)  # fmt: skip
    assert done.status_code == 200 and "/login" not in done.url, done.url
    return other


def test_the_password_is_changed_with_the_current_one_and_ends_the_other_sessions(stack, browser):
    base = stack.gateway_url
    email, token = register_verified(base, stack.var / "mail")
    other = _web_session(base, email, PASSWORD)
    assert "/login" not in other.get(f"{base}/settings", timeout=30).url

    _login(browser, base, email, PASSWORD)
    _el(browser, "[data-section='profile'] a.button").click()
    wait_for(lambda: browser.current_url.endswith("/settings"), what="the settings page")
    assert _el(browser, "#pw-h").text == "Zmiana hasła"
    _check(browser, "settings-change-password")

    # Error state: a wrong current password, shown next to that field; the page's inputs kept.
    _fill(browser, "f-pw_current", "To-Nie-Jest-Moje-Haslo-1")
    _fill(browser, "f-pw_new", NEW_PASSWORD)
    _fill(browser, "f-pw_repeat", NEW_PASSWORD)
    browser.set_window_size(*PHONE_390)
    _submit(browser, "section[aria-labelledby='pw-h'] button.primary")
    assert _field_error(browser, "pw_current") == "To nie jest Twoje obecne hasło."
    _in_sight(browser, "pw_current")  # not at the top of the long settings page with the error out of sight
    assert _el(browser, "#f-first_name").get_attribute("value") == "Zofia"  # the rest of the page as it was
    assert _el(browser, "#f-email").get_attribute("value") == email
    # The passwords typed are not sent back into the page (never echoed into HTML): typed again.
    assert _el(browser, "#f-pw_current").get_attribute("value") == ""
    _check(browser, "password-wrong-current")
    assert "/login" not in other.get(f"{base}/settings", timeout=30).url, "a failed change ended the other session"

    # Error state: the repeat differs.
    _fill(browser, "f-pw_current", PASSWORD)
    _fill(browser, "f-pw_new", NEW_PASSWORD)
    _fill(browser, "f-pw_repeat", NEW_PASSWORD + "x")
    browser.set_window_size(*PHONE_390)
    _submit(browser, "section[aria-labelledby='pw-h'] button.primary")
    assert _field_error(browser, "pw_repeat")
    _in_sight(browser, "pw_repeat")
    _check(browser, "password-repeat-differs")

    _fill(browser, "f-pw_current", PASSWORD)
    _fill(browser, "f-pw_new", NEW_PASSWORD)
    _fill(browser, "f-pw_repeat", NEW_PASSWORD)
    _submit(browser, "section[aria-labelledby='pw-h'] button.primary")
    flash = _text(browser, ".flash")
    assert "Hasło zmienione" in flash and "Wylogowano inne sesje: 2" in flash, flash  # the web one and the API's
    _check(browser, "password-changed")

    # The other sessions are over: the second web session is sent to the login page, the API token refused.
    assert "/login" in other.get(f"{base}/settings", timeout=30).url, "the other session is still logged in"
    assert requests.get(f"{base}/api/v1/account/sessions", headers=bearer(token), timeout=30).status_code == 401
    browser.get(f"{base}/settings")
    assert browser.current_url.endswith("/settings"), "this session was ended too"

    # The old password no longer logs in (from an address of its own: the login throttle), the new one does.
    stranger = client_at(random_loopback())
    old = stranger.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert old.status_code == 401, old.text
    browser.delete_all_cookies()
    browser.get(f"{base}/login")
    _fill(browser, "f-email", email)
    _fill(browser, "f-password", PASSWORD)
    _submit(browser, "main form button.primary")
    assert "/login" in browser.current_url and _present(browser, ".flash-error, .error")
    _check(browser, "login-old-password-refused")
    _login(browser, base, email, NEW_PASSWORD)
    assert "Witaj, Zofia!" in _text(browser, "main")
    _check(browser, "login-new-password")


# --- 4. tables on a phone, a knowledge-base suggestion on the new-ticket form -----------------------------------
CELLS_JS = """
return Array.from(document.querySelectorAll("main table tbody td, main table tfoot td")).map(td => {
  const before = getComputedStyle(td, "::before"), box = td.getBoundingClientRect();
  const words = td.cloneNode(true);  // what the cell says besides its buttons and links
  words.querySelectorAll("a, button, select, label, input, option").forEach(e => e.remove());
  return {label: td.getAttribute("data-label"), content: before.content, display: before.display,
          actions_only: words.textContent.trim() === "" && td.querySelector("a, button") !== null,
          visible: box.width > 0 && box.height > 0 && getComputedStyle(td).visibility === "visible",
          // where the value's lines start: none may wrap back under the label, into the cell's left column
          value_left: (() => { const r = document.createRange(); r.selectNodeContents(td);
            const lines = Array.from(r.getClientRects()).filter(q => q.width > 0);
            return lines.length ? Math.min(...lines.map(q => q.left)) - box.left : null; })(),
          width: box.width,
          right: box.right, text: td.textContent.trim().slice(0, 40)};
});
"""


def _labelled_on_a_phone(browser, step: str) -> int:
    """Every table cell on the page shows its column's name (data-label, drawn before it) at 390 px; the count."""
    browser.set_window_size(*PHONE_390)
    wait_for(lambda: browser.execute_script("return window.innerWidth") == PHONE_390[0], what="390px")
    cells = browser.execute_script(CELLS_JS)
    assert cells, f"{step}: no table"
    width = browser.execute_script("return document.documentElement.clientWidth")
    for cell in cells:
        if cell["actions_only"] and not cell["label"]:  # a column of buttons ("Zarządzaj"): they name themselves
            assert cell["visible"], f"{step}: actions not visible: {cell}"
            continue
        assert cell["label"], f"{step}: a cell without its column's name: {cell}"
        assert cell["content"] == f'"{cell["label"]}"' and cell["display"] != "none", f"{step}: label not shown {cell}"
        assert cell["visible"] and cell["right"] <= width + 0.5, f"{step}: cell not visible: {cell}"
        if cell["value_left"] is not None:
            assert cell["value_left"] >= 0.38 * cell["width"], f"{step}: the value wraps under its label: {cell}"
    headers = browser.execute_script("return Array.from(document.querySelectorAll('main table thead'))"
                                     ".map(t => getComputedStyle(t).display)")  # fmt: skip
    assert set(headers) <= {"none"}, f"{step}: the column headings still take a row on a phone"
    split = browser.execute_script("""return Array.from(document.querySelectorAll("main td .badge, main td .money"))
        .filter(b => b.getClientRects().length > 1).map(b => b.textContent)""")
    assert split == [], f"{step}: a status or an amount broken over two lines: {split}"
    axe.check(browser, step)
    browser.shots(f"{step}-390")
    return len(cells)


def test_tables_on_a_phone_label_every_cell(stack, browser):
    base, customer = stack.gateway_url, Customer(stack)
    service_id = customer.paid_service()
    invoice_id = customer.api("GET", "/invoices")["items"][0]["invoice_id"]
    _login(browser, base, customer.email, PASSWORD)
    for path in ("/order", f"/domains/search?name=telefon-{uuid.uuid4().hex[:6]}.pl",
                 "/invoices", f"/invoices/{invoice_id}", "/services", f"/services/{service_id}", "/account/security"):  # fmt: skip
        browser.get(f"{base}{path}")
        step = re.sub(r"[^a-z0-9]+", "-", path.split("?")[0]).strip("-")
        _labelled_on_a_phone(browser, f"phone-{step}")

    # Error state on a phone: a domain search for a name that is not one, its error next to the field.
    browser.get(f"{base}/domains/search?name=nie+domena!")
    browser.set_window_size(*PHONE_390)
    assert _present(browser, "main .error") and "nie domena!" in (
        _el(browser, "main input[name=name]").get_attribute("value") or ""
    )
    axe.check(browser, "phone-domain-search-error")
    browser.shots("phone-domain-search-error-390")


@pytest.fixture(scope="module")
def guide(stack) -> str:
    with rpc_proxy(stack.environment()["AMQP_URI"], {"type": "system", "id": "seed"}, timeout=30) as cluster:
        cluster.support.seed_help_articles()
    return GUIDE


def test_the_new_ticket_form_suggests_articles_as_the_subject_is_typed(stack, guide, browser):
    base, mail = stack.gateway_url, stack.var / "mail"
    email, _ = register_verified(base, mail)
    _login(browser, base, email, PASSWORD)
    browser.get(f"{base}/tickets/new")
    assert browser.title.startswith("Nowe zgłoszenie"), browser.title
    scripts = browser.execute_script("return document.querySelectorAll('script[src*=\"help-suggest\"]').length")
    assert scripts == 1, f"help-suggest.js loaded {scripts} times"

    # Error state: sent empty, every error at once next to its field; the suggestions still work afterwards.
    _submit(browser, "main form button.primary")
    assert _field_error(browser, "subject")
    _check(browser, "ticket-empty-errors")

    subject = _el(browser, "#f-subject")
    subject.send_keys("Jak przenieść domenę")  # a question as a customer asks it (ranked, stemmed search)
    links = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-kb-suggest] li a"), what="a suggestion")
    assert any(a.get_attribute("href").endswith(f"/help/{guide}") for a in links)
    assert _el(browser, "[data-kb-suggest] p").is_displayed()
    _check(browser, "ticket-suggests-guide")
    subject.clear()
    subject.send_keys("xq")  # too short: nothing suggested, the heading hidden again
    wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, "[data-kb-suggest] li"), what="the list emptied")
    assert not _el(browser, "[data-kb-suggest] p").is_displayed()
