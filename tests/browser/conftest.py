"""A real headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium against the stack.

Selenium is pointed at /usr/bin/chromedriver and /usr/bin/chromium, so Selenium Manager never
downloads anything. Without them the tests fail (never skip) and say what to install.
Screenshots of every step land in var/screenshots/<test name>/NN-step.png.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.devstack import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = ROOT / "var" / "screenshots"
PHONE, DESKTOP = (360, 740), (1280, 900)


class Shots:
    """Numbered screenshots of one test: 01-register.png, 02-..."""

    def __init__(self, driver, folder: Path):
        self.driver, self.folder, self.count = driver, folder, 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        # The whole page, not only the window: what a person would scroll through.
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        width = max(size["width"], self.driver.execute_script("return window.innerWidth"))  # with the scrollbar's room
        clip = {"x": 0, "y": 0, "width": width, "height": min(size["height"], 8000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                                       "clip": clip})  # fmt: skip
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def _driver(language: str = "pl", javascript: bool = True):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"browser tests need Debian's Chromium and its driver ({', '.join(missing)} missing): "
                    "run `apt-get install -y chromium chromium-driver` as root (`make deps` does it when root)")  # fmt: skip
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: Selenium Manager must never go online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", f"--lang={language}", "--window-size={},{}".format(*DESKTOP)):  # fmt: skip
        options.add_argument(argument)
    prefs = {"intl.accept_languages": language}
    if not javascript:  # a person with scripts off: the pages must work without them
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.fixture
def browser(request) -> Iterator:
    driver = _driver()
    driver.implicitly_wait(0)
    driver.set_page_load_timeout(30)
    driver.shots = Shots(driver, SCREENSHOTS / request.node.name)
    try:
        yield driver
    finally:
        driver.quit()


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.browser.axe import COUNTS, summary

    if COUNTS.pages:
        terminalreporter.write_line(summary())
