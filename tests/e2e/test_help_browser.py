"""The knowledge base in a real headless Chromium (issue #18): typing a ticket's subject shows matching
articles (the form's JavaScript asks /api/v1/help/search), one click opens the guide; /help, its search
and an article, and the staff desk's article pages pass axe-core (WCAG 2.1 AA) in both languages at
phone and desktop width. Screenshots in var/screenshots/<test name>/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from kernel.caller import rpc_proxy
from tests.browser import axe
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.conftest import browser as browser  # noqa: F401 (a fixture: headless Chromium)
from tests.e2e.helpers import PASSWORD, register_verified, wait_for
from tests.e2e.test_help import GUIDE
from tests.e2e.test_staff_desk import STAFF_PASSWORD
from tests.e2e.test_staff_desk import staff as staff  # noqa: F401 (a fixture: a staff login)


@pytest.fixture(scope="module")
def guide(stack) -> str:
    with rpc_proxy(stack.environment()["AMQP_URI"], {"type": "system", "id": "seed"}, timeout=30) as cluster:
        cluster.support.seed_help_articles()
    return GUIDE


def _login(browser, base: str, address: str, password: str) -> None:
    browser.get(f"{base}/login")
    browser.find_element(By.ID, "f-email").send_keys(address)
    browser.find_element(By.ID, "f-password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "main form button.primary").click()
    wait_for(lambda: "/login" not in browser.current_url, what="logged in")


def _check(browser, step: str) -> None:
    """axe-core at phone and desktop width, a screenshot of each."""
    for width, height in (PHONE, DESKTOP):
        browser.set_window_size(width, height)
        wait_for(lambda w=width: browser.execute_script("return window.innerWidth") == w, what=f"{width}px")
        axe.check(browser, step)
        browser.shots(f"{step}-{width}")


def _suggested(browser) -> list[str]:
    links = browser.find_elements(By.CSS_SELECTOR, "[data-kb-suggest] li a")
    return [a.get_attribute("href") for a in links]


def test_typing_a_subject_suggests_the_guide_and_opens_it(stack, guide, browser):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    _login(browser, base, email, PASSWORD)
    browser.get(f"{base}/tickets/new")
    subject = browser.find_element(By.ID, "f-subject")
    subject.send_keys("pogoda")
    wait_for(lambda: browser.execute_script("return document.querySelector('[data-kb-suggest] ul').children.length")
             == 0, what="nothing for a word no article has")  # fmt: skip
    subject.clear()
    subject.send_keys("Przeniesienie domeny")
    wait_for(lambda: any(href.endswith(f"/help/{guide}") for href in _suggested(browser)), what="the guide suggested")
    heading = browser.find_element(By.CSS_SELECTOR, "[data-kb-suggest] p")
    assert heading.is_displayed() and heading.text == "Może pomogą te artykuły:"
    _check(browser, "pl-ticket-suggests")
    browser.get(_suggested(browser)[0])
    assert browser.find_element(By.TAG_NAME, "h1").text == "Rejestracja i przeniesienie domeny"


@pytest.mark.parametrize("language", ["pl", "en"])
def test_help_pages_and_the_desk_pass_axe(stack, guide, staff, browser, language):  # noqa: F811
    base = stack.gateway_url
    browser.get(f"{base}/login")
    browser.add_cookie({"name": "lang", "value": language})
    for path in ("/help", "/help?q=domen" if language == "pl" else "/help?q=domain", f"/help/{guide}"):
        browser.get(f"{base}{path}")
        assert browser.execute_script("return document.documentElement.lang") == language, path
        _check(browser, f"{language}-{path.strip('/').replace('/', '-').replace('?', '-')}")
    _login(browser, base, staff["email"], STAFF_PASSWORD)
    for path in ("/staff/help", f"/staff/help/{guide}"):
        browser.get(f"{base}{path}")
        _check(browser, f"{language}-staff-{path.rsplit('/', 1)[-1]}")
