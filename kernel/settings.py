"""Every setting comes from the environment; this module names them once."""

from __future__ import annotations

import os


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


# The services, each its own process and database (the gateway is not one of them).
SERVICES = ("accounts", "billing", "domains", "support", "notifications", "hosting")

AMQP_URI = env("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
MONGO_URI = env("MONGO_URI", "mongodb://127.0.0.1:27017/")
# Every service's database is named DB_PREFIX + service name (panel_accounts, ...).
DB_PREFIX = env("DB_PREFIX", "panel_")
SMTP_HOST = env("SMTP_HOST", "127.0.0.1")
SMTP_PORT = env_int("SMTP_PORT", 8025)
MAIL_FROM = env("MAIL_FROM", "Panel Klienta <no-reply@panel.localhost>")
PUBLIC_URL = env("PUBLIC_URL", "http://127.0.0.1:8000")
# Where new tickets and customer replies are announced to the support team ("" = nowhere).
SUPPORT_STAFF_EMAIL = env("SUPPORT_STAFF_EMAIL", "obsluga@panel.localhost")
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 2)
# A commit younger than this is left to the worker that stored it.
OUTBOX_GRACE_SECONDS = env_int("OUTBOX_GRACE_SECONDS", 3)
# A service notes the commits it published and marks them in the store in one write this often (ms).
OUTBOX_MARK_MS = env_int("OUTBOX_MARK_MS", 50)


def database_name(service: str) -> str:
    return f"{DB_PREFIX}{service}"


# --- the sandbox card provider: for development only --------------------------
# Its built-in webhook secret is published with the code, so outside development (PANEL_ENV) billing
# refuses to start with it and the gateway hides the sandbox's pages.
DEV_WEBHOOK_SECRET = "dev-sandbox-webhook-secret"  # noqa: S105 - development default, refused outside development


def panel_env() -> str:
    return os.environ.get("PANEL_ENV", "development").strip() or "development"


def sandbox_refusal() -> str | None:
    """Why the sandbox provider may not run here, or None: outside development it needs a
    webhook secret of its own."""
    if panel_env() == "development":
        return None
    secret = os.environ.get("SANDBOX_WEBHOOK_SECRET", "").strip()
    if not secret or secret == DEV_WEBHOOK_SECRET:
        return (f"PANEL_ENV={panel_env()}: set SANDBOX_WEBHOOK_SECRET to a secret of your own; the sandbox card "
                "provider does not run with the built-in development secret, which anyone can read in the code")  # fmt: skip
    return None
