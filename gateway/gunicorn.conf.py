"""gunicorn settings; each can be overridden from the environment."""

import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads (not eventlet): each thread keeps its own RPC proxy (see gateway/rpc.py).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Open live dashboard streams (gateway/live.py) end at once on SIGTERM instead of holding the stop."""
    from gateway import live

    live.end_streams_on_exit(worker)
