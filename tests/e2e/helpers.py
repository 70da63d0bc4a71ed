"""Helpers for tests that go through the front door (HTTP) of a running stack."""

from __future__ import annotations

import random
import re
import time
import uuid
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from tools.seed import mail_text, wait_for_mail

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
VERIFY_RE = re.compile(r"/verify-email\?token=([A-Za-z0-9_\-]+)")
RESET_RE = re.compile(r"/password-reset/confirm\?token=([A-Za-z0-9_\-]+)")
PASSWORD = "Bardzo-Tajne-2026"


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.pl"


def csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def token_from_mail(mail_dir: Path, to: str, pattern: re.Pattern, since: float, subject: str = "") -> str:
    text = mail_text(wait_for_mail(mail_dir, to, subject, since=since))
    match = pattern.search(text)
    assert match, f"no link in mail: {text}"
    return match.group(1)


def register_verified(base: str, mail_dir: Path, language: str = "pl", **profile) -> tuple[str, str]:
    """Register through the API, verify with the mailed token; returns (email, bearer token)."""
    email = profile.pop("email", None) or unique_email()
    since = time.time() - 1
    body = {
        "email": email,
        "password": PASSWORD,
        "first_name": "Zofia",
        "last_name": "Wąsik",
        "language": language,
        **profile,
    }
    created = requests.post(f"{base}/api/v1/auth/register", json=body, timeout=30)
    assert created.status_code == 201, created.text
    token = token_from_mail(mail_dir, email, VERIFY_RE, since)
    assert requests.post(f"{base}/api/v1/auth/verify-email", json={"token": token}, timeout=30).status_code == 200
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return email, login.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(condition, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address (all of 127.0.0.0/8 is this machine), so the gateway
    sees a client address of its own."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    client = requests.Session()
    client.mount("http://", FromAddress(address))
    return client


def random_loopback() -> str:  # never 127.0.0.1, which the other tests on this stack log in from
    return f"127.{random.randint(64, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
