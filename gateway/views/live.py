"""The live dashboard over HTTP: the SSE stream and the dashboard fragments it asks for."""

from __future__ import annotations

import functools
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, abort, g, render_template, request, session

from gateway import live
from gateway.auth import load_account, note_command, page_login_required
from gateway.dashboard import build as build_dashboard

log = logging.getLogger(__name__)
blueprint = Blueprint("live", __name__)
# every command a session makes is noted for its next dashboard (read your own writes: gateway/dashboard.py)
blueprint.after_app_request(note_command)

# Dashboard sections a fragment may contain; each is gateway/templates/dashboard/_<name>.html.
SECTIONS = ("profile", "contacts", "shortcuts", "offer", "tiles", "active_services", "renewals", "news",
            "recent_tickets", "quick_domain")  # fmt: skip
READY_WAIT_SECONDS = 5
RETRY_MILLISECONDS = 3000


@blueprint.get("/live/events")
def events() -> Response:
    """Server-Sent Events for the logged-in account only; 204 tells the browser to come back later."""
    account = load_account(session.get("token"))
    if not account:
        return Response(status=401)
    subscription = live.hub().subscribe(account["account_id"], account.get("permissions"))
    if subscription is None:
        return _come_back_later("busy")
    if not live.consumer_ready(READY_WAIT_SECONDS):
        live.hub().unsubscribe(subscription)
        return _come_back_later("broker")
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    gone = functools.partial(_client_gone, request.environ.get("gunicorn.socket"))
    response = Response(_stream(subscription, gone), mimetype="text/event-stream", headers=headers)
    # A generator closed before its first step never runs its `finally`: free the slot here as well.
    response.call_on_close(functools.partial(live.hub().unsubscribe, subscription))
    return response


def _come_back_later(reason: str) -> Response:
    """204 ends an EventSource for now (live.js retries later); the header says why, for people and tests."""
    log.info("live stream refused: %s", reason)
    return Response(status=204, headers={"X-Live-Refused": reason, "Retry-After": "30"})


def _client_gone(sock: socket.socket | None) -> bool:
    """True once the browser closed the connection (an SSE client sends nothing after its request).

    Checked every second, so a closed tab frees its thread at once instead of at the next heartbeat.
    Outside gunicorn there is no socket to look at: the heartbeat write finds a closed peer instead.
    """
    if sock is None:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError, ValueError):  # ValueError: a TLS socket takes no flags
        return False
    except OSError:
        return True


def _stream(subscription: live.Subscription, gone: Callable[[], bool]) -> Iterator[str]:
    hub = live.hub()
    now = time.monotonic()
    ends_at, beat_at = now + live.STREAM_SECONDS, now + live.HEARTBEAT_SECONDS
    try:
        # The browser reconnects this long after the stream ends; "ready" says changes flow from now on
        # and names the sections to fetch again after a reconnect (changes meanwhile were missed).
        ready = json.dumps({"sections": list(live.visible_sections(subscription))})
        yield f"retry: {RETRY_MILLISECONDS}\nevent: ready\ndata: {ready}\n\n"
        while not hub.stopping.is_set():
            left = ends_at - time.monotonic()
            if left <= 0:
                return
            try:
                change = subscription.inbox.get(timeout=min(1.0, left))
            except live.queue.Empty:
                if gone():
                    return
                if time.monotonic() >= beat_at:
                    beat_at = time.monotonic() + live.HEARTBEAT_SECONDS
                    yield ": heartbeat\n\n"  # keeps proxies from closing an idle stream
                continue
            if change is None:
                return
            yield change.sse()
    finally:
        hub.unsubscribe(subscription)


@blueprint.get("/dashboard/fragment")
@page_login_required
def fragment() -> str:
    """The named dashboard sections, rendered by the same partials as the dashboard page."""
    wanted = [s for s in request.args.get("sections", "").split(",") if s]
    if not wanted or any(s not in SECTIONS for s in wanted):
        abort(400)
    g.language = g.account.get("language") or g.language
    d = build_dashboard(g.account)
    hidden = set(d.get("hidden") or ())  # what a contact's permissions keep off the page stays off here too
    return render_template("dashboard/_fragment.html", d=d, sections=[s for s in wanted if s not in hidden])
