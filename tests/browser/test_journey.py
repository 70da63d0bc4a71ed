"""A person in a real Chromium: register, verify by mail, log in, section 1, order and pay, live tiles, a ticket,
the language; every page checked at phone and desktop width for horizontal overflow and with axe-core (WCAG 2.1 AA)."""

from __future__ import annotations

import time
import uuid

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import axe
from tests.browser.conftest import DESKTOP, PHONE
from tests.e2e.helpers import PASSWORD, VERIFY_RE, token_from_mail, wait_for

LONG_COMPANY = "Przedsiębiorstwo Wielobranżowe Konstantynopolitańczykowianeczka i Współpracownicy Sp. z o.o."
LONG_DOMAIN = f"bardzo-dluga-nazwa-domeny-sprawdzajaca-zawijanie-{uuid.uuid4().hex[:8]}.pl"


def _el(driver, css: str):
    return driver.find_element(By.CSS_SELECTOR, css)


def _present(driver, css: str):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found else None


def _fill(driver, field_id: str, value: str) -> None:
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


# While a page or a live-swapped section is being replaced, an element just found may be gone:
# missing, stale, or (Chromium's inspector) "Node with given id does not belong to the document".
# The polling helpers below read that as "not yet"; wait_for still fails if it never settles.
IN_TRANSITION = WebDriverException


def _text(driver, css: str = "body") -> str:
    """The element's text; "" while the page or a live-swapped section is being replaced."""
    try:
        return driver.find_element(By.CSS_SELECTOR, css).text
    except IN_TRANSITION:
        return ""


def _attr(driver, css: str, name: str) -> str | None:
    try:
        return driver.find_element(By.CSS_SELECTOR, css).get_attribute(name)
    except IN_TRANSITION:
        return None


def _wait_text(driver, text: str, what: str) -> None:
    wait_for(lambda: text in _text(driver), what=what)


UNLABELLED_JS = """
return Array.from(document.querySelectorAll("input, select, textarea"))
  .filter(e => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
               && !e.getAttribute("aria-labelledby"))
  .map(e => e.outerHTML.slice(0, 120));
"""


def _fits(driver, step: str) -> None:
    """Every field labelled; no horizontal overflow at phone or desktop width, no serious or critical axe-core
    violation at either; a screenshot of each."""
    assert driver.execute_script(UNLABELLED_JS) == [], f"{step}: fields without a label"
    for width, height in (PHONE, DESKTOP):
        driver.set_window_size(width, height)
        inner = wait_for(lambda w=width: driver.execute_script("return window.innerWidth") == w and w,
                         what=f"a {width}px wide window")  # fmt: skip
        # clientWidth leaves out the scrollbar: stricter than innerWidth, nothing may hide under it either
        scroll, client = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]"
        )
        assert scroll <= client <= inner, f"{step} at {width}px is {scroll}px wide (room: {client}px)"
        axe.check(driver, step)
        driver.shots(f"{step}-{width}")


def _tile(driver, key: str) -> str:
    return _text(driver, f'[data-section="tiles"] [data-tile="{key}"] .tile-count')


def test_person_uses_the_panel_in_a_real_browser(stack, browser):
    base, mail = stack.gateway_url, stack.var / "mail"
    email = f"przegladarka-{uuid.uuid4().hex[:10]}@example.pl"

    # Before login: the language switcher works, and the choice sticks (cookie).
    browser.get(f"{base}/login")
    _el(browser, 'button[name="language"][value="en"]').click()
    wait_for(lambda: _attr(browser, "html", "lang") == "en", what="English")
    _wait_text(browser, "Log in", "the English login page")
    _fits(browser, "login-en")
    _el(browser, 'button[name="language"][value="pl"]').click()
    wait_for(lambda: _attr(browser, "html", "lang") == "pl", what="Polish")

    # Register; the verification link comes by mail.
    browser.get(f"{base}/register")
    since = time.time() - 1
    for field_id, value in (("f-first_name", "Grzegorz"), ("f-last_name", "Brzęczyszczykiewicz"), ("f-email", email),
                            ("f-password", PASSWORD), ("f-password_repeat", PASSWORD)):  # fmt: skip
        _fill(browser, field_id, value)
    _fits(browser, "register")
    _el(browser, "main form button.primary").click()
    _wait_text(browser, "Wysłaliśmy link", "the check-your-mail page")
    browser.shots("registered")
    token = token_from_mail(mail, email, VERIFY_RE, since, subject="Potwierdź")
    browser.get(f"{base}/verify-email?token={token}")
    _wait_text(browser, "Adres e-mail potwierdzony", "the verified message")

    # Log in.
    _fill(browser, "f-email", email)
    _fill(browser, "f-password", PASSWORD)
    browser.shots("login")
    _el(browser, "main form button.primary").click()
    _wait_text(browser, "Witaj, Grzegorz!", "the dashboard")
    for section in ("profile", "contacts", "shortcuts", "offer", "tiles", "active_services", "renewals", "news",
                    "recent_tickets", "quick_domain"):  # fmt: skip
        assert _present(browser, f'[data-section="{section}"]'), section
    _fits(browser, "dashboard")

    # Section 1: "Uaktualnij" opens the settings; long words must not widen the page.
    _el(browser, '[data-section="profile"] a.button').click()
    wait_for(lambda: browser.current_url.endswith("/settings"), what="the settings page")
    for field_id, value in (("f-phone", "+48 600 700 800"), ("f-billing_address.company", LONG_COMPANY),
                            ("f-billing_address.nip", "5260001246"), ("f-billing_address.street", "Długa 1"),
                            ("f-billing_address.postcode", "00-950"), ("f-billing_address.city", "Szczebrzeszyn")):  # fmt: skip
        _fill(browser, field_id, value)
    _fits(browser, "settings")
    _el(browser, "main form button.primary[type=submit]").click()
    _wait_text(browser, "Zmiany zapisane.", "the saved message")
    browser.get(f"{base}/")
    wait_for(lambda: LONG_COMPANY in _text(browser, '[data-section="profile"]'), what="the company in section 1")
    _fits(browser, "dashboard-section-1")

    # The dashboard stays open in this tab, listening; it must change without a reload.
    dashboard = browser.current_window_handle
    assert _tile(browser, "services") == "0"
    browser.execute_script("window.panelTestMarker = 'the same page';")
    wait_for(lambda: _attr(browser, "#live", "data-state") == "listening", what="the live stream")

    # Order a plan in a second tab and pay with the sandbox card.
    browser.switch_to.new_window("tab")
    browser.get(f"{base}/order")
    _fits(browser, "order")
    _el(browser, '[data-plan="hosting-start"] a.button').click()
    wait_for(lambda: _present(browser, "#f-cycle-monthly"), what="the plan page")
    _el(browser, "#f-cycle-monthly").click()
    _fill(browser, "f-domain", LONG_DOMAIN)
    _el(browser, "main form button.primary").click()
    wait_for(lambda: browser.current_url.endswith("/cart"), what="the cart")
    _fits(browser, "cart")
    _el(browser, "#f-pm-card").click()
    _el(browser, "form.checkout button.primary").click()
    wait_for(lambda: _present(browser, 'button[name="outcome"][value="success"]'), what="the sandbox card page")
    browser.shots("sandbox-card")
    _el(browser, 'button[name="outcome"][value="success"]').click()
    wait_for(lambda: _present(browser, '[data-payment-status="paid"]'), timeout=30, what="the payment confirmed")
    _fits(browser, "paid")

    # Back on the dashboard tab: the services tile and section 6 changed live, on the same page.
    browser.switch_to.window(dashboard)
    wait_for(lambda: _tile(browser, "services") == "1", what="the services tile to count 1 live")
    wait_for(lambda: LONG_DOMAIN in _text(browser, '[data-section="active_services"]'), what="the service")
    assert "aktywna" in _text(browser, '[data-section="active_services"]')
    assert browser.execute_script("return window.panelTestMarker") == "the same page", "the dashboard was reloaded"
    _fits(browser, "dashboard-live")

    # Every list and detail page, with the long domain and company in them, fits a phone too.
    browser.get(f"{base}/services")
    _el(browser, "main a[href^='/services/']").click()
    wait_for(lambda: LONG_DOMAIN in _text(browser), what="the service page")
    _fits(browser, "service")
    browser.get(f"{base}/invoices")
    _el(browser, "main a[href^='/invoices/']").click()
    wait_for(lambda: LONG_COMPANY in _text(browser), what="the invoice page with the buyer")
    _fits(browser, "invoice")
    for path in ("/services", "/invoices", "/domains", f"/domains/search?name={LONG_DOMAIN}", "/renewals", "/contacts",
                 "/emails", "/news", "/account/security"):  # fmt: skip
        browser.get(f"{base}{path}")
        assert "Panel Klienta" in browser.title, path
        _fits(browser, path.strip("/").split("?")[0].replace("/", "-"))

    # Open a support ticket.
    browser.get(f"{base}/tickets/new")
    _fill(browser, "f-subject", "Pytanie o konfigurację poczty")
    _fill(browser, "f-message", "Jak ustawić przekierowanie poczty dla domeny?")
    _fits(browser, "ticket-new")
    _el(browser, "main form button.primary").click()
    _wait_text(browser, "Pytanie o konfigurację poczty", "the ticket page")
    browser.get(f"{base}/")
    wait_for(lambda: "Pytanie o konfigurację poczty" in _text(browser, '[data-section="recent_tickets"]'),
             what="the ticket in section 9")  # fmt: skip

    # Switch the language: the account's language, remembered after the next login too.
    _el(browser, 'button[name="language"][value="en"]').click()
    _wait_text(browser, "Hello, Grzegorz!", "the English dashboard")
    _fits(browser, "dashboard-en")
    browser.get(f"{base}/settings")
    assert _el(browser, "#f-language").get_attribute("value") == "en"


def test_keyboard_reaches_the_content_with_a_visible_focus(stack, browser):
    browser.get(f"{stack.gateway_url}/login")
    body = _el(browser, "body")
    body.send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.get_attribute("class") == "skip"
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", skip)
    assert top >= 0, "the skip link stays off screen when focused"
    browser.shots("skip-link")
    skip.send_keys(Keys.ENTER)
    wait_for(lambda: browser.switch_to.active_element.get_attribute("id") == "main", what="focus on the content")
    browser.switch_to.active_element.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    outline = browser.execute_script("const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]",
                                     focused)  # fmt: skip
    assert outline[0] != "none" and outline[1] != "0px", f"no visible focus on {focused.tag_name}: {outline}"
    label = browser.execute_script(
        "return document.querySelector(`label[for='${arguments[0].id}']`)?.textContent || ''", focused
    )
    assert label.strip(), "the first field has no label"
    browser.shots("focused-field")
