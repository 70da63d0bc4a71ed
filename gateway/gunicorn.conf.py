"""gunicorn settings; each can be overridden from the environment."""

import logging
import os
import re

from gunicorn import glogging

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads (not eventlet): each thread keeps its own RPC proxy (see gateway/rpc.py).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = "-"

# --- no secret in any log line ---------------------------------------------------
# One-time tokens travel in links (verify-email, password reset, contact invitation: ?token=...;
# the newsletter's /unsubscribe/<token>). Every line the gateway logs, gunicorn's access log (request
# line and Referer) and the application's own lines alike, keeps only the query values known to be
# harmless; every other value, and the unsubscribe token, is replaced.
HARMLESS_QUERY = frozenset({"page", "per_page", "category", "status", "sections", "q", "query", "name", "domain",
                            "department", "cycle", "related", "lang"})  # fmt: skip
REDACTED = "[redacted]"
_QUERY_VALUE = re.compile(r"([?&])([^=&\s\"'#?]+)=([^&\s\"'#]*)")
_PATH_TOKEN = re.compile(r"(/unsubscribe/)[^\s?\"'#/]+")


def redact(text: str) -> str:
    text = _PATH_TOKEN.sub(r"\1" + REDACTED, text)
    return _QUERY_VALUE.sub(
        lambda m: m.group(0) if m.group(2) in HARMLESS_QUERY else f"{m.group(1)}{m.group(2)}={REDACTED}", text
    )


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and traceback) with `redact` before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg, record.args = message, None
        return True


class RedactingLogger(glogging.Logger):
    """gunicorn's logger whose error and access logs, and the application's log (the root logger,
    which otherwise only Python's last-resort handler writes), go through RedactSecrets."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        root = logging.getLogger()
        if not any(getattr(h, "_panel_redacting", False) for h in root.handlers):
            handler = logging.StreamHandler()
            handler.setLevel(logging.WARNING)  # what the last-resort handler wrote before
            handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
            handler._panel_redacting = True
            root.addHandler(handler)
        for log in (self.error_log, self.access_log, root):
            for handler in log.handlers:
                if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                    handler.addFilter(RedactSecrets())


logger_class = RedactingLogger
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Open live dashboard streams (gateway/live.py) end at once on SIGTERM instead of holding the stop."""
    from gateway import live

    live.end_streams_on_exit(worker)
