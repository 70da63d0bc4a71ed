"""The offer banner (section 4) on the whole stack: none active → no banner, only an empty hidden
placeholder the live dashboard can replace; staff set one → its title, text and a call-to-action link
(its label, not the raw URL), on the page and in the fragment live.js swaps in; an English customer gets
the English texts when the offer has them."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import register_verified, wait_for
from tests.e2e.test_support_pages import login_browser

STAFF = {"actor": {"type": "staff", "id": "test-staff"}}
SECTION_RE = re.compile(r"<section[^>]*data-section=\"offer\"[^>]*>.*?</section>", re.S)


def _set_offer(stack, title: str, text: str, link: str, starts: dt.timedelta, ends: dt.timedelta, **english) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as cluster:
        cluster.billing.set_offer(title, text, link, (now + starts).isoformat(), (now + ends).isoformat(), ctx=STAFF,
                                  **english)  # fmt: skip


def _offer_section(browser: requests.Session, url: str) -> str:
    page = browser.get(url, timeout=15)
    assert page.status_code == 200, page.text[:300]
    [section] = SECTION_RE.findall(page.text)
    return section


def test_no_offer_no_banner_then_the_offer_staff_set(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail")
    browser = login_browser(base, email)
    fragment = f"{base}/dashboard/fragment?sections=offer"
    _set_offer(stack, "Koniec", "", "", -dt.timedelta(days=2), -dt.timedelta(days=1))  # whatever ran has ended

    for url in (f"{base}/", fragment):
        section = wait_for(lambda u=url: (s := _offer_section(browser, u)) and " hidden" in s.split(">", 1)[0] and s,
                           what="no offer banner")  # fmt: skip
        assert section.split(">", 1)[1] == "</section>" and ' id="s4"' in section, section
    dashboard = browser.get(f"{base}/", timeout=15).text
    assert "Aktualna oferta" not in dashboard and "Obecnie nie mamy promocji" not in dashboard

    title = f"Promocja {uuid.uuid4().hex[:6]}"
    _set_offer(stack, title, "Hosting taniej o 20%", "/order", -dt.timedelta(hours=1), dt.timedelta(days=30))
    for url in (f"{base}/", fragment):
        section = wait_for(lambda u=url: (s := _offer_section(browser, u)) and title in s and s, what="the offer")
        assert " hidden" not in section.split(">", 1)[0]
        assert "Aktualna oferta" in section and "Hosting taniej o 20%" in section
        assert '<a class="button primary offer-link" href="/order">Sprawdź ofertę</a>' in section
        assert ">/order<" not in section  # the label, not the raw URL


def test_an_english_customer_sees_the_english_offer_and_a_polish_one_without_english_texts(stack):
    base = stack.gateway_url
    email, _ = register_verified(base, stack.var / "mail", language="en")
    browser = login_browser(base, email)
    fragment = f"{base}/dashboard/fragment?sections=offer"
    tag = uuid.uuid4().hex[:6]
    _set_offer(stack, f"Promocja {tag}", "Hosting taniej o 20%", "/order", -dt.timedelta(hours=1),
               dt.timedelta(days=30), title_en=f"Sale {tag}", text_en="Hosting 20% off")  # fmt: skip
    for url in (f"{base}/", fragment):
        section = wait_for(lambda u=url: (s := _offer_section(browser, u)) and f"Sale {tag}" in s and s, what="it")
        assert "Current offer" in section and "Hosting 20% off" in section and f"Promocja {tag}" not in section
        assert '<a class="button primary offer-link" href="/order">See the offer</a>' in section

    _set_offer(stack, f"Tylko po polsku {tag}", "Tekst", "/order", -dt.timedelta(hours=1), dt.timedelta(days=30))
    for url in (f"{base}/", fragment):  # no English texts: the Polish ones, the English call to action
        section = wait_for(lambda u=url: (s := _offer_section(browser, u)) and f"Tylko po polsku {tag}" in s and s,
                           what="the Polish-only offer")  # fmt: skip
        assert f"Sale {tag}" not in section and ">See the offer</a>" in section
