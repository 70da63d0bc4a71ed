"""Live streams for everyone: `/live/events` served by an asyncio process (issue #17).

`gunicorn -c gateway/gunicorn_live.py gateway.live_asgi:app` (tools/devstack.py starts it as
"gateway-live"; an ingress routes `/live/events` to it). A stream here is a coroutine, not a thread, so
one process holds LIVE_MAX_STREAMS of them (LIVE_ASYNC_MAX_STREAMS, 2000). Each stream is the same as the
gthread gateway's (gateway/views/live.py): only the logged-in account's changes, as far as a contact's
permissions show them, from the process's one broker consumer (gateway/live.py); the session cookie is the
gateway's own (read with the Flask app's session serializer), the account comes from the session view
(gateway.readmodel), else from accounts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import time
from http.cookies import SimpleCookie
from typing import Any

from gateway import clients, live, readmodel
from gateway.app import create_app

log = logging.getLogger(__name__)
live.MAX_STREAMS = int(os.environ.get("LIVE_ASYNC_MAX_STREAMS", "2000"))  # coroutines, not threads
_flask = create_app()
_serializer = _flask.session_interface.get_signing_serializer(_flask)
COOKIE = _flask.config["SESSION_COOKIE_NAME"]


class AsyncSubscription(live.Subscription):
    """A subscription whose stream is a coroutine: the consumer thread wakes it through its event loop."""

    def __init__(self, account_id: str, permissions: list[str] | None):
        super().__init__(account_id, permissions)
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()

    def offer(self, change: live.Change | None) -> None:
        super().offer(change)
        self.loop.call_soon_threadsafe(self.wake.set)


def account_of(token: str | None) -> dict[str, Any] | None:
    """The session's account: from the session view, else asked of accounts (and remembered)."""
    if not token:
        return None
    known = readmodel.session(token)
    if known:
        return known["account"]
    asked_at = time.time()
    account = clients.accounts.authenticate(token=token)
    if account:
        readmodel.remember_session(token, account, asked_at)
    return account


def session_token(scope: dict[str, Any]) -> str | None:
    cookies = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.load(value.decode("latin-1"))
    morsel = cookies.get(COOKIE)
    if not morsel:
        return None
    data = _serializer.loads(morsel.value, max_age=int(_flask.permanent_session_lifetime.total_seconds()))
    return data.get("token")


async def app(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http" or scope["path"] != "/live/events" or scope["method"] != "GET":
        await _answer(send, 404)
        return
    try:
        token = session_token(scope)
    except Exception:  # a cookie not ours, or tampered with
        token = None
    account = await asyncio.to_thread(account_of, token)
    if not account:
        await _answer(send, 401)
        return
    hub = live.hub()
    subscription = hub.subscribe(account["account_id"], account.get("permissions"), AsyncSubscription)
    if subscription is None:
        await _answer(send, 204, [(b"x-live-refused", b"busy"), (b"retry-after", b"30")])
        return
    try:
        if not await asyncio.to_thread(live.consumer_ready, 5):
            await _answer(send, 204, [(b"x-live-refused", b"broker"), (b"retry-after", b"30")])
            return
        await _stream(subscription, receive, send)
    finally:
        hub.unsubscribe(subscription)


async def _answer(send, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": b""})


async def _stream(subscription: AsyncSubscription, receive, send) -> None:
    headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
               (b"x-accel-buffering", b"no")]  # fmt: skip
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    ready = json.dumps({"sections": list(live.visible_sections(subscription))})
    await _send(send, f"retry: 3000\nevent: ready\ndata: {ready}\n\n")
    gone = asyncio.ensure_future(_hang_up(receive))
    ends_at = time.monotonic() + live.STREAM_SECONDS
    try:
        while not gone.done() and not live.hub().stopping.is_set():
            left = ends_at - time.monotonic()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(subscription.wake.wait(), timeout=min(live.HEARTBEAT_SECONDS, left))
            except TimeoutError:
                await _send(send, ": heartbeat\n\n")
                continue
            subscription.wake.clear()
            if not await _drain(subscription, send):
                break
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:  # the browser went away mid-write
        pass
    finally:
        gone.cancel()


async def _drain(subscription: AsyncSubscription, send) -> bool:
    """Send every waiting change; False when the stream is to end."""
    while True:
        try:
            change = subscription.inbox.get_nowait()
        except queue.Empty:
            return True
        if change is None:
            return False
        await _send(send, change.sse())


async def _send(send, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _hang_up(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
