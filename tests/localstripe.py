"""localstripe (PyPI), Stripe's stand-in, on a free port for the tests, and what Stripe.js does in a
browser, done over HTTP the way localstripe's own stand-in of Stripe.js does it (localstripe-v3.js).

localstripe posts each event once, a second after it happens, signed like Stripe
(`Stripe-Signature: t=...,v1=...`) to every URL registered at `/_config/webhooks/<id>`.
`WebhookInbox` is such a URL for tests that hand the events to billing themselves.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.e2e.helpers import wait_for
from tools.devstack import ROOT

SECRET_KEY = "sk_test_panel_localstripe"  # noqa: S105 - localstripe takes any sk_ key
PUBLISHABLE_KEY = "pk_test_panel_localstripe"
WEBHOOK_SECRET = "whsec_panel_localstripe"  # noqa: S105 - test value


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/js.stripe.com/v3/", timeout=1).ok
    except requests.RequestException:
        return False


@contextmanager
def localstripe(port: int, workdir: Path) -> Iterator[str]:
    """A localstripe of our own (its store starts empty) on 127.0.0.1:`port`; yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "localstripe.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "localstripe"), "--port", str(port), "--from-scratch"],
                               cwd=workdir, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base) or process.poll() is not None, 15, "localstripe to answer")
        assert process.poll() is None, (workdir / "localstripe.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def stripe_env(base: str) -> dict[str, str]:
    return {"PAYMENT_PROVIDER": "stripe", "STRIPE_API_BASE": base, "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}  # fmt: skip


def register_webhook(base: str, name: str, url: str, secret: str = WEBHOOK_SECRET) -> None:
    answer = requests.post(f"{base}/_config/webhooks/{name}", data={"url": url, "secret": secret}, timeout=5)
    answer.raise_for_status()


# --- what Stripe.js does in the browser (localstripe-v3.js) ---------------------------------
def confirm_card_setup(base: str, client_secret: str, number: str, exp_year: int = 2030,
                       exp_month: int = 12) -> requests.Response:  # fmt: skip
    """`stripe.confirmCardSetup(secret, {payment_method: {card}})`: the card goes to the SetupIntent;
    a card that asks for 3-D Secure is authenticated ("Complete authentication"), as Stripe.js does."""
    setup_id = client_secret.split("_secret_")[0]
    url = f"{base}/v1/setup_intents/{setup_id}/confirm"
    body = {"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret,
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": str(exp_month),
                                                             "exp_year": str(exp_year), "cvc": "123"}}}  # fmt: skip
    answer = requests.post(url, data=json.dumps(body), timeout=5)
    if answer.ok and answer.json()["status"] == "requires_action":
        again = {"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret}
        answer = requests.post(url, data=json.dumps(again), timeout=5)
    return answer


def authenticate_payment(base: str, client_secret: str, success: bool) -> requests.Response:
    """`stripe.confirmCardPayment(secret)` on a PaymentIntent that requires action: the 3-D Secure
    window answered "Complete" (success) or "Fail"."""
    intent_id = client_secret.split("_secret_")[0]
    body = {"key": PUBLISHABLE_KEY, "client_secret": client_secret}
    return requests.post(f"{base}/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}",
                         data=json.dumps(body), timeout=5)  # fmt: skip


class WebhookInbox:
    """An HTTP endpoint localstripe posts its events to; keeps (body, signature) in arrival order."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                inbox.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, event_type: str, **about: str) -> list[tuple[str, str]]:
        """Events of a type whose object has the given top-level values (e.g. id=pi_...)."""
        found = []
        for body, signature in list(self.received):
            event = json.loads(body)
            obj = event["data"]["object"]
            if event["type"] == event_type and all(obj.get(k) == v for k, v in about.items()):
                found.append((body, signature))
        return found

    def wait(self, event_type: str, timeout: float = 10, **about: str) -> tuple[str, str]:
        return wait_for(lambda: (self.of(event_type, **about) or [None])[0], timeout, f"{event_type} {about}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign(body: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `body` as Stripe (and localstripe) make it."""
    import hashlib
    import hmac

    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(event_type: str, obj: dict, event_id: str) -> str:
    """An event as Stripe sends it (for what localstripe does not send, e.g. refunds)."""
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
                       "api_version": "2020-08-27", "livemode": False, "data": {"object": obj}})  # fmt: skip
