"""The dashboard baseline: a WSGI app answering every request with one pre-rendered page."""

from __future__ import annotations

import os
from pathlib import Path

PAGE = Path(os.environ["BENCH_PAGE"]).read_bytes()
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [PAGE]
