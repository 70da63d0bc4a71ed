"""Live streams from the asyncio process (gateway/live_asgi.py): scoped like the gthread ones, and many of
them at once without a thread each."""

from __future__ import annotations

import requests

from tests.e2e.helpers import register_verified, wait_for
from tests.e2e.test_live import EventStream, _change_phone, _page_session

STREAMS = 200


def _stream(stack, session: requests.Session) -> EventStream:
    cookies = {"panel_session": session.cookies["panel_session"]}
    response = requests.get(f"http://127.0.0.1:{stack.live_port}/live/events", cookies=cookies, stream=True,
                            timeout=(5, 60))  # fmt: skip
    return EventStream(response)


def test_many_streams_each_with_only_its_accounts_changes(stack):
    base = stack.gateway_url
    email_a, token_a = register_verified(base, stack.var / "mail")
    email_b, _ = register_verified(base, stack.var / "mail")
    session_a, session_b = _page_session(base, email_a), _page_session(base, email_b)
    streams_a = [_stream(stack, session_a) for _ in range(STREAMS)]
    stream_b = _stream(stack, session_b)
    try:
        for stream in [*streams_a, stream_b]:
            wait_for(lambda s=stream: "ready" in s.names(), what="every stream ready")
        _change_phone(base, token_a, "+48 600 700 800")
        for stream in streams_a:
            wait_for(lambda s=stream: s.of_type("profile_updated"), what="A's change on each of A's streams")
        assert stream_b.of_type("profile_updated") == []
        anonymous = requests.get(f"http://127.0.0.1:{stack.live_port}/live/events", timeout=10)
        assert anonymous.status_code == 401
    finally:
        for stream in [*streams_a, stream_b]:
            stream.close()
