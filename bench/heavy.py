"""A heavy account, seeded through the front door (JSON API) and, for staff-only steps, by RPC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests

from bench.common import progress
from kernel.caller import SignedClusterRpcProxy
from tools.devstack import Stack, wait_until
from tools.seed import seed_demo_account

PASSWORD = "Bench-Heavy-2026"
SYSTEM = {"actor": {"type": "system"}}
STAFF = {"actor": {"type": "staff", "id": "bench-staff"}}


@dataclass
class Heavy:
    email: str
    account_id: str
    token: str
    counts: dict[str, int]


def _api(session: requests.Session, method: str, url: str, **kwargs) -> dict:
    response = session.request(method, url, timeout=60, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response.json()


def seed(stack: Stack, services: int = 50, invoices: int = 200, tickets: int = 30, news: int = 20,
         domains: int = 20) -> Heavy:  # fmt: skip
    """One order of `domains` registrations and `services` hosting orders paid from credit,
    the rest of `invoices` hosting orders left unpaid."""
    base = f"{stack.gateway_url}/api/v1"
    email = f"heavy-{uuid.uuid4().hex[:8]}@example.pl"
    seed_demo_account(stack.gateway_url, stack.var / "mail", email, PASSWORD)
    http = requests.Session()
    token = _api(http, "POST", f"{base}/auth/login", json={"email": email, "password": PASSWORD})["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    account_id = _api(http, "GET", f"{base}/profile")["account_id"]
    config = {"AMQP_URI": stack.environment()["AMQP_URI"], "serializer": "json"}
    with SignedClusterRpcProxy(config, timeout=60) as rpc:
        rpc.billing.add_credit(account_id, 10**9, ctx=SYSTEM)
        for i in range(domains):
            item = {"kind": "domain_registration", "params": {"domain": f"ciezkie-konto-{i}.pl", "years": 1}}
            _api(http, "POST", f"{base}/cart/items", json=item)
        _api(http, "POST", f"{base}/cart/checkout", json={"payment_method": "credit"},
             headers={"Idempotency-Key": f"heavy-{account_id}-domains"})  # fmt: skip
        for i in range(invoices - 1):
            item = {
                "kind": "hosting",
                "params": {"plan": "hosting-start", "cycle": "monthly", "domain": f"heavy{i}.pl"},
            }
            _api(http, "POST", f"{base}/cart/items", json=item)
            method = "credit" if i < services else "bank_transfer"
            if i % 50 == 0:
                progress(f"seeding the heavy account: order {i + 1} of {invoices - 1}")
            _api(http, "POST", f"{base}/cart/checkout", json={"payment_method": method},
                 headers={"Idempotency-Key": f"heavy-{account_id}-{i}"})  # fmt: skip
        progress(f"seeding the heavy account: {tickets} tickets, {news} news")
        for i in range(tickets):
            _api(http, "POST", f"{base}/tickets", json={"department": "technical", "priority": "medium",
                 "subject": f"Zgłoszenie {i}", "message": "Strona działa wolno od rana."})  # fmt: skip
        for i in range(news):
            rpc.support.publish_news(f"Komunikat {i}", "Prace serwisowe w nocy z soboty na niedzielę.", "pl",
                                     ctx=STAFF)  # fmt: skip

    def settled() -> bool:
        tiles = _api(http, "GET", f"{base}/dashboard")["tiles"]
        return (tiles["services"], tiles["unpaid_invoices"], tiles["domains"]) == (
            services,
            invoices - 1 - services,
            domains,
        )

    wait_until(settled, 120, "the heavy account's services and invoices on the dashboard", interval=1)
    total = _api(http, "GET", f"{base}/invoices", params={"per_page": 1})["total"]
    counts = {"services": services, "invoices": total, "tickets": tickets, "news": news, "domains": domains}
    return Heavy(email, account_id, token, counts)
