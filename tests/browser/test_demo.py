"""The demo account as `make up` seeds it (tools/seed.py, through the API and the pages): every dashboard section
filled, "Odnów teraz" shown, seeding twice adds nothing; then every page of the panel, the contact's and the staff
desk's, in Polish and English at phone and desktop width, checked with axe-core (WCAG 2.1 AA) and photographed."""

from __future__ import annotations

import uuid

import pytest
import requests
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from tests.browser import axe
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, Shots, _driver
from tests.e2e.helpers import PASSWORD, wait_for
from tools.devstack import ROOT
from tools.seed import DEMO_CONTACT, Api, seed_demo_account, seed_demo_content, seed_demo_offer, seed_staff_account

SECTIONS = ("profile", "contacts", "shortcuts", "offer", "tiles", "active_services", "renewals", "news",
            "recent_tickets", "quick_domain")  # fmt: skip


@pytest.fixture(scope="module")
def demo(stack):
    """The demo and staff logins of the seed, on this test stack, seeded twice."""
    tag = uuid.uuid4().hex[:8]
    person, staff = (f"demo-{tag}@example.pl", PASSWORD), (f"obsluga-{tag}@example.pl", "Staff-Panel-2026")
    seed_demo_account(stack.gateway_url, stack.var / "mail", *person)
    seed_staff_account(stack.gateway_url, *staff, stack.environment(), ROOT)
    seed_demo_offer(stack.environment())
    DEMO_CONTACT["email"] = f"kontakt-{tag}@example.pl"
    seed_demo_content(stack.gateway_url, stack.var / "mail", person, staff, stack.clock_file)
    api = Api(stack.gateway_url, *person)
    counts = _counts(api)
    seed_demo_content(stack.gateway_url, stack.var / "mail", person, staff, stack.clock_file)  # idempotent
    assert _counts(api) == counts, "seeding again added to the demo account"
    return {"person": person, "staff": staff, "api": api, "counts": counts}


def _counts(api: Api) -> dict[str, int]:
    return {path: len(api.items(path)) for path in ("/services", "/invoices", "/tickets", "/contacts", "/domains")}


def _login(browser, base: str, address: str, password: str) -> None:
    browser.get(f"{base}/login")
    browser.find_element(By.ID, "f-email").send_keys(address)
    browser.find_element(By.ID, "f-password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "main form button.primary").click()
    wait_for(lambda: "/login" not in browser.current_url, what="logged in")


def _language(browser, code: str) -> None:
    browser.set_window_size(*DESKTOP)
    browser.find_element(By.CSS_SELECTOR, f'button[name="language"][value="{code}"]').click()
    wait_for(lambda: _page_language(browser) == code, what=code)


def _page_language(browser) -> str | None:
    """The page's language; None while the page is being replaced (an element just found may be gone)."""
    try:
        return browser.execute_script("return document.documentElement.lang")
    except WebDriverException:
        return None


def _check(browser, step: str) -> None:
    """axe at phone and desktop width, a screenshot of each."""
    for width, height in (PHONE, DESKTOP):
        browser.set_window_size(width, height)
        wait_for(lambda w=width: browser.execute_script("return window.innerWidth") == w, what=f"{width}px")
        axe.check(browser, step)
        browser.shots(f"{step}-{width}")


def _visit(browser, base: str, paths: list[str], language: str) -> None:
    for path in paths:
        browser.get(f"{base}{path}")
        assert browser.execute_script("return document.documentElement.lang") == language, path
        _check(browser, f"{language}{path.replace('/', '-').split('?')[0] or '-dashboard'}")


def test_the_demo_dashboard_has_every_section_filled(stack, demo, browser):
    base, api = stack.gateway_url, demo["api"]
    assert demo["counts"]["/services"] >= 2 and demo["counts"]["/tickets"] == 2 and demo["counts"]["/contacts"] == 1
    assert demo["counts"]["/domains"] >= 1
    statuses = {i["status"] for i in api.items("/invoices")}
    assert {"paid", "unpaid"} <= statuses, statuses
    _login(browser, base, *demo["person"])
    for section in SECTIONS:
        element = browser.find_elements(By.CSS_SELECTOR, f'[data-section="{section}"]')
        assert element and not element[0].find_elements(By.CSS_SELECTOR, ".empty"), f"section {section} is empty"
    renew = browser.find_element(By.CSS_SELECTOR, '[data-section="renewals"] a.button[href="/renewals"]')
    assert renew.text == "Odnów teraz"
    for tile in ("services", "domains", "unpaid_invoices", "tickets"):
        count = browser.find_element(By.CSS_SELECTOR, f'[data-tile="{tile}"] .tile-count').text
        assert count.isdigit() and int(count) > 0, f"tile {tile}: {count}"
    _check(browser, "dashboard")
    browser.get(f"{base}/renewals")
    assert browser.find_elements(By.CSS_SELECTOR, "main form button.primary, main a.button.primary"), "nothing to renew"


def test_every_page_passes_axe_in_both_languages_at_both_widths(stack, demo, browser):
    base, api = stack.gateway_url, demo["api"]
    service, invoice = api.items("/services")[0], api.items("/invoices")[0]
    domain, ticket = api.items("/domains")[0], api.items("/tickets")[0]
    paths = ["/", "/services", f"/services/{service['service_id']}", "/invoices", f"/invoices/{invoice['invoice_id']}",
             "/domains", f"/domains/{domain['domain_id']}", "/domains/search?name=przyklad-demo.pl", "/renewals",
             "/tickets", f"/tickets/{ticket['ticket_id']}", "/tickets/new", "/contacts", "/contacts/new", "/settings",
             "/account/security", "/account/history", "/emails", "/news", "/order", "/order/hosting-start", "/cart",
             "/no-such-page"]  # fmt: skip
    requests.get(f"{base}/login", timeout=10)
    browser.get(f"{base}/login")
    _check(browser, "pl-login")
    _login(browser, base, *demo["person"])
    _visit(browser, base, paths, "pl")
    # a phone shows each invoice cell with its column's name
    browser.get(f"{base}/invoices/{invoice['invoice_id']}")
    browser.set_window_size(*PHONE)
    labels = browser.execute_script("""return Array.from(document.querySelectorAll("table.lines tbody td"))
        .map(td => getComputedStyle(td, "::before").content)""")
    assert labels and all(label not in ("none", "normal", '""') for label in labels), labels
    _language(browser, "en")
    _visit(browser, base, paths, "en")
    _language(browser, "pl")


def test_the_contact_and_the_staff_desk_pass_axe(stack, demo, browser):
    base = stack.gateway_url
    _login(browser, base, DEMO_CONTACT["email"], demo["person"][1])
    menu = browser.find_element(By.CSS_SELECTOR, "[data-acting-for]").get_attribute("textContent")
    assert "Demo Sp. z o.o." in menu, menu
    _visit(browser, base, ["/", "/invoices", "/tickets", "/services"], "pl")  # /services: the 403 page
    browser.delete_all_cookies()
    _login(browser, base, *demo["staff"])
    ticket = demo["api"].items("/tickets")[0]
    staff_paths = ["/staff/", f"/staff/tickets/{ticket['ticket_id']}", "/staff/customers?q=Demo", "/staff/news",
                   "/staff/offer", "/staff/newsletter"]  # fmt: skip
    _visit(browser, base, staff_paths, "pl")
    _language(browser, "en")
    _visit(browser, base, staff_paths, "en")


def test_axe_finds_what_it_must(stack, browser):
    """The check can fail: a page spoiled on purpose (no language, a button without a name, grey on grey)."""
    browser.get(f"{stack.gateway_url}/login")
    browser.execute_script("""document.documentElement.removeAttribute("lang");
        const b = document.createElement("button"); b.innerHTML = "<svg aria-hidden='true'></svg>";
        const p = document.createElement("p"); p.textContent = "ledwo widać"; p.style.color = "#bbb";
        document.querySelector("main").append(b, p);""")
    found = {v["id"]: v["impact"] for v in axe.run(browser, "spoiled")["violations"]}
    assert {"html-has-lang", "button-name", "color-contrast"} <= set(found), found
    assert {found["html-has-lang"], found["button-name"], found["color-contrast"]} <= set(axe.FAILING)


def _menu_opens(browser, base: str, person: tuple[str, str], scripts: bool) -> None:
    _login(browser, base, *person)
    browser.set_window_size(*PHONE)
    nav = browser.find_element(By.ID, "topnav")
    wait_for(lambda: not nav.is_displayed(), what="the menu folded on a phone")
    toggle = browser.find_element(By.CSS_SELECTOR, "button.nav-toggle-label" if scripts else "label.nav-toggle-label")
    assert toggle.is_displayed() and not browser.find_element(By.ID, "nav-toggle").is_displayed()
    browser.shots("menu-closed")
    toggle.click()
    wait_for(nav.is_displayed, what="the menu open")
    assert nav.find_element(By.CSS_SELECTOR, 'a[href="/invoices"]').is_displayed()
    if scripts:  # (axe needs the page's scripts: it checks the open menu only here)
        assert toggle.get_attribute("aria-expanded") == "true"
        axe.check(browser, "menu-open")
    browser.shots("menu-open")
    browser.set_window_size(*DESKTOP)
    wait_for(lambda: nav.is_displayed() and not toggle.is_displayed(), what="the menu as a row on a desktop")


def test_the_phone_menu_opens_with_and_without_javascript(stack, demo, browser):
    _menu_opens(browser, stack.gateway_url, demo["person"], scripts=True)
    plain = _driver(javascript=False)
    plain.shots = Shots(plain, SCREENSHOTS / "test_the_phone_menu_without_javascript")
    try:
        assert plain.execute_script("return 1") == 1  # the test's own scripts still run
        _menu_opens(plain, stack.gateway_url, demo["person"], scripts=False)
    finally:
        plain.quit()
