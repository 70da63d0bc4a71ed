"""Shared fixtures: real MongoDB wire-protocol server, real RabbitMQ, real SMTP.

The database server is the one `make up` uses (started here when nothing
listens); every test run gets its own database names, so runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

from kernel import db
from tools.devstack import ROOT, Stack, port_open

TEST_VAR = Path(os.environ.get("TEST_VAR", ROOT / "var" / "test"))
# One key for this run: the stacks it starts inherit it, and the tests' own calls sign with it.
os.environ.setdefault("RPC_SIGNING_KEYS", uuid.uuid4().hex)
# Nearly every test client comes from 127.0.0.1: the per-IP mail limit (20 an hour) would stop the suite's
# registrations after the first twenty. The tests of that limit set it themselves or use addresses of their own.
os.environ.setdefault("MAIL_LIMIT_PER_IP", "1000000")
# Zones the domains tests create go nowhere unless a test starts its own PowerDNS (never `make up`'s).
os.environ.setdefault("PDNS_API_URL", "http://127.0.0.1:9")
# Likewise hosting accounts: test stacks start no web server unless a test starts its own (tests/hosting).
os.environ.setdefault("HOSTING_AGENT_URL", "http://127.0.0.1:9")


# The fast tier (`make test-unit`, TEST_TIER=unit): every test that needs no server of its own, with the
# databases in memory (mongomock) instead of the MongoDB wire-protocol server; no broker is touched.
UNIT_TIER = os.environ.get("TEST_TIER") == "unit"
# what makes a test an integration test: a whole stack, a broker, SMTP, a browser
INTEGRATION_DIRS = {"e2e", "faults", "scale", "browser", "cluster", "hosting"}
INTEGRATION_FIXTURES = {"stack", "rabbit_vhost", "isolated_stack", "scaled", "browser", "amqp_uri", "smtp_sink"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "integration: talks to a real broker, SMTP or a whole stack (not in test-unit)")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        module_marked = getattr(getattr(item, "module", None), "INTEGRATION", False)
        if item.path.parent.name in INTEGRATION_DIRS or set(item.fixturenames) & INTEGRATION_FIXTURES or module_marked:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _cheap_waits_in_the_unit_tier(monkeypatch):
    """In the fast tier only: argon2 at its lowest cost and no 0.3 s floor on neutral answers (their
    logic is tested here; `make test` runs the same tests with the real settings, and the e2e tests
    measure the timing)."""
    if not UNIT_TIER:
        return
    import importlib

    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    guards = importlib.import_module("services.accounts.app.guards")
    monkeypatch.setattr(guards, "hasher", cheap)
    monkeypatch.setattr(guards, "NEUTRAL_ANSWER_SECONDS", 0.0)


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    if UNIT_TIER:
        yield "mongomock://localhost"
        return
    stack = Stack(var=TEST_VAR)
    ours = "MONGO_URI" not in os.environ and not port_open("127.0.0.1", stack.mongo_port)
    stack.start_mongo()
    yield os.environ.get("MONGO_URI", f"mongodb://127.0.0.1:{stack.mongo_port}/")
    if ours:  # started for this run: stop it again
        stack.stop_process("mongo")


@pytest.fixture
def mongo_alias(mongo_uri):
    """Connect a service alias to a fresh database for one test.

    Usage: `mongo_alias("billing")` connects alias "billing" to a new database.
    """
    connected: list[tuple[str, str]] = []

    def connect(alias: str) -> str:
        name = f"t_{alias}_{uuid.uuid4().hex[:10]}"
        db.disconnect(alias)
        if UNIT_TIER:
            import mongoengine
            import mongomock

            mongoengine.connect(db=name, alias=alias, host="mongodb://localhost", mongo_client_class=mongomock.MongoClient,
                                tz_aware=False, uuidRepresentation="standard")  # fmt: skip
        else:
            db.connect(alias, mongo_uri, name)
        connected.append((alias, name))
        return name

    yield connect
    for alias, name in connected:
        try:
            db.database(alias).client.drop_database(name)
        finally:
            db.disconnect(alias)


@pytest.fixture
def clock_file(tmp_path, monkeypatch):
    """A movable clock for in-process tests (kernel.clock reads CLOCK_FILE), starting at real time."""
    path = tmp_path / "clock"
    path.write_text("0")
    monkeypatch.setenv("CLOCK_FILE", str(path))
    return path


# --- the whole stack, started the way `make up` starts it -------------------
RABBIT_API = os.environ.get("RABBIT_MANAGEMENT_URL", "http://127.0.0.1:15672/api")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def own_vhost(prefix: str = "panel-test"):
    """A RabbitMQ vhost made for the caller (management API) and deleted afterwards, queues and all."""
    import requests

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    auth = ("guest", "guest")
    try:
        requests.put(f"{RABBIT_API}/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{name}/guest", auth=auth, timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    except requests.RequestException as exc:
        pytest.fail(f"RabbitMQ management API at {RABBIT_API} is needed (run `make deps`): {exc}")
    try:
        yield name
    finally:
        requests.delete(f"{RABBIT_API}/vhosts/{name}", auth=auth, timeout=10)


@pytest.fixture(scope="session")
def rabbit_vhost():
    """A RabbitMQ vhost of our own, so tests never see `make up`'s queues."""
    with own_vhost() as name:
        yield name


KSEF_NIP, KSEF_TOKEN = "5260250274", "20261202-EC-STACK-TOKEN"  # the seller's NIP (SELLER_NIP's default)


@pytest.fixture(scope="session")
def ksef_server():
    """tools/ksef_server.py on free ports for the stack's billing: its KSEF_* settings, and `control`."""
    import subprocess
    import sys

    from tests.e2e.helpers import wait_for

    port, control = free_port(), free_port()
    process = subprocess.Popen([sys.executable, "-m", "tools.ksef_server", "--port", str(port), "--control-port",
                                str(control), "--nip", KSEF_NIP, "--token", KSEF_TOKEN], cwd=ROOT)  # fmt: skip
    wait_for(lambda: port_open("127.0.0.1", port) and port_open("127.0.0.1", control), what="the KSeF test server")
    yield {"KSEF_API_BASE": f"http://127.0.0.1:{port}", "KSEF_QR_BASE": "https://qr-test.ksef.mf.gov.pl",
           "KSEF_NIP": KSEF_NIP, "KSEF_TOKEN": KSEF_TOKEN, "KSEF_SEND_SECONDS": "1",
           "control": f"http://127.0.0.1:{control}"}  # fmt: skip
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def stack(mongo_uri, rabbit_vhost, tmp_path_factory, ksef_server):
    """Every service as its own `nameko run` process and the gateway under gunicorn."""
    var = tmp_path_factory.mktemp("stack")
    clock_file = var / "clock"
    clock_file.write_text("0")
    prefix = f"t{uuid.uuid4().hex[:6]}_"
    stack = Stack(
        var=var, gateway_port=free_port(), smtp_port=free_port(), pdns_dns_port=free_port(), pdns_api_port=free_port()
    )
    stack.env = {
        "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{rabbit_vhost}",
        "MONGO_URI": mongo_uri,
        "DB_PREFIX": prefix,
        "CLOCK_FILE": str(clock_file),
        "SECRET_KEY": uuid.uuid4().hex,
        "OUTBOX_GRACE_SECONDS": "1",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "8",
        "LOG_LEVEL": "INFO",
        "PDNS_API_URL": f"http://127.0.0.1:{stack.pdns_api_port}",  # its own PowerDNS
        **{k: v for k, v in ksef_server.items() if k.startswith("KSEF_")},  # billing sends to the KSeF test server
    }
    try:
        stack.up(seed_demo=False)
    except BaseException:
        _dump_logs(stack)
        stack.down()
        raise
    stack.clock_file = clock_file
    stack.db_prefix = prefix
    yield stack
    stack.down()
    stack.remove_broker_users()
    import pymongo

    client = pymongo.MongoClient(mongo_uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


def _dump_logs(stack: Stack) -> None:
    for log in sorted(stack.log_dir.glob("*.log")):
        print(f"----- {log.name} -----\n{log.read_text()[-3000:]}")
