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
