"""gunicorn settings of the live-stream process (gateway/live_asgi.py): one asyncio worker holding thousands
of SSE streams; its logs redacted as the gateway's own (gateway/gunicorn.conf.py)."""

import os
import runpy

_gateway = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn.conf.py"))
logger_class = _gateway["logger_class"]
forwarded_allow_ips = _gateway["forwarded_allow_ips"]
accesslog = "-"
bind = os.environ.get("GATEWAY_LIVE_BIND", "127.0.0.1:8001")
workers = 1
worker_class = "asgi"
worker_connections = int(os.environ.get("LIVE_ASYNC_MAX_STREAMS", "2000")) + 100
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 5
