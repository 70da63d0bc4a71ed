"""A card payment in a real headless Chromium (issue #15): the panel with PAYMENT_PROVIDER=stripe against
localstripe, whose stand-in of Stripe.js the payment page loads. The card is typed into its fields,
3-D Secure is completed in its window, and the return page shows the invoice paid."""

from __future__ import annotations

from urllib.parse import urljoin

from selenium.webdriver.common.by import By

from tests.e2e.helpers import wait_for
from tests.e2e.test_billing_pages import Person
from tests.e2e.test_stripe import stripe_stack  # noqa: F401 - the fixture: a stack of its own with localstripe

THREE_D_SECURE = "4000002500003155"


def _log_in(browser, person: Person) -> None:
    """The browser takes the session the test's HTTP client logged in with."""
    browser.get(f"{person.base}/login")
    for cookie in person.browser.cookies:
        browser.add_cookie({"name": cookie.name, "value": cookie.value, "path": "/"})


def _type_card(browser, number: str) -> None:
    fields = {f.get_attribute("placeholder"): f for f in browser.find_elements(By.CSS_SELECTOR, "#card-element input")}
    for name, value in (("number", number), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123"),
                        ("postal_code", "00950")):  # fmt: skip
        fields[name].send_keys(value)


def _complete_authentication(browser) -> None:
    button = wait_for(lambda: browser.find_elements(By.XPATH, "//button[text()='Complete authentication']"), 15,
                      "the 3-D Secure window")  # fmt: skip
    browser.shots("3ds")
    button[0].click()


def test_paying_by_card_with_3d_secure_in_a_browser(stripe_stack, browser):  # noqa: F811 - the imported fixture
    person = Person(stripe_stack)
    person.add_plan()
    redirect = person.checkout("card")
    assert redirect.status_code == 302 and "/pay/" in redirect.headers["Location"]
    _log_in(browser, person)
    browser.get(urljoin(person.base, redirect.headers["Location"]))
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#card-element input"), 15, "Stripe.js's card fields")
    _type_card(browser, THREE_D_SECURE)
    browser.shots("card")
    browser.find_element(By.CSS_SELECTOR, "#stripe-form button[type=submit]").click()
    _complete_authentication(browser)  # the card's SetupIntent
    _complete_authentication(browser)  # the payment itself, on the page billing sent back
    wait_for(lambda: "/payments/return" in browser.current_url, 20, "the return page")
    status = browser.find_element(By.CSS_SELECTOR, "[data-payment-status]").get_attribute("data-payment-status")
    browser.shots("paid")
    assert status == "paid"
