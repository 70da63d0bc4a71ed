"""Infrastructure of the fault tests' own: a second RabbitMQ node, an nx-27017 and a stack on them.

Other tests share the RabbitMQ on :5672 and the nx-27017 on :27017, so the tests
that stop a broker or a database stop only these (started here on free ports,
data under a temporary directory, stopped at the end).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pymongo
import pytest

from tests.conftest import _dump_logs, free_port
from tools.devstack import Stack, port_open, wait_until


class OwnRabbit:
    """A RabbitMQ node of our own (no plugins), restartable on the same data directory.

    The Debian `rabbitmq-server` script must be started by root (it switches to the
    rabbitmq user), so the node's directories belong to that user."""

    def __init__(self, base: Path):
        self.base, self.port, self.dist_port = base, free_port(), free_port()
        self.node = f"faults-{uuid.uuid4().hex[:6]}@localhost"
        self.pid_file, self.process = base / "rabbit.pid", None
        self.uri = f"pyamqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text("")
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.base)], check=True)
        env = {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
               "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
               "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
               "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"), "RABBITMQ_PID_FILE": str(self.pid_file)}  # fmt: skip
        log = open(self.base / "server.out", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen([shutil.which("rabbitmq-server") or "rabbitmq-server"], env=env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                        cwd=self.base)  # fmt: skip
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: port_open("127.0.0.1", self.port) or self.process.poll() is not None, 180,
                       f"RabbitMQ node {self.node}", interval=0.5)  # fmt: skip
        if not port_open("127.0.0.1", self.port):
            out = (self.base / "server.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"a second RabbitMQ node could not start here: {out}") from None

    def stop(self) -> None:
        """SIGTERM to the Erlang VM (a clean shutdown), then wait until it is gone."""
        pid = int(self.pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not _alive(pid), 60, f"RabbitMQ node {self.node} to stop", interval=0.2)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
        self.pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


class OwnMongo:
    """An nx-27017 of our own on a free port, restartable on the same data directory."""

    def __init__(self, stack: Stack):
        self.stack, self.port = stack, stack.mongo_port
        self.uri = f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        nx = str(Path(sys.executable).parent / "nx-27017")
        var = self.stack.var
        (var / "mongo").mkdir(parents=True, exist_ok=True)
        self.stack.start_process("mongo", [nx, "--data-dir", str(var / "mongo"), "--port", str(self.port), "--host",
                                           "127.0.0.1", "--pid-file", str(var / "nx.pid"), "--log-file",
                                           str(var / "log" / "nx-27017.log")])  # fmt: skip
        wait_until(lambda: port_open("127.0.0.1", self.port), 30, f"nx-27017 on :{self.port}")

    def stop(self) -> None:
        self.stack.stop_process("mongo")
        wait_until(lambda: not port_open("127.0.0.1", self.port), 30, f"nx-27017 on :{self.port} to stop")


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    """The whole system on a RabbitMQ node and an nx-27017 that the tests may stop and start."""
    var = tmp_path_factory.mktemp("faultstack")
    # not under pytest's tmp dir: the rabbitmq user must be able to reach it
    rabbit_dir = Path(tempfile.mkdtemp(prefix="faults-rabbit-"))
    rabbit = OwnRabbit(rabbit_dir)
    stack = Stack(var=var, gateway_port=free_port(), smtp_port=free_port(), mongo_port=free_port())
    mongo = OwnMongo(stack)
    stack.env = {"AMQP_URI": rabbit.uri, "MONGO_URI": mongo.uri, "DB_PREFIX": "faults_", "SECRET_KEY": uuid.uuid4().hex,
                 "OUTBOX_GRACE_SECONDS": "1", "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "8", "RPC_TIMEOUT": "5"}  # fmt: skip
    try:
        rabbit.start()
        mongo.start()
        stack.up(seed_demo=False)
    except BaseException:
        _dump_logs(stack)
        stack.down()
        if rabbit.pid_file.exists():
            rabbit.stop()
        raise
    stack.rabbit, stack.mongo = rabbit, mongo
    yield stack
    stack.down()
    if rabbit.pid_file.exists():
        rabbit.stop()
    shutil.rmtree(rabbit_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def isolated_stack(mongo_uri, tmp_path_factory):
    """A stack of its own (vhost, databases, ports) on the shared broker and database server, for a
    test whose traffic would disturb others, e.g. fuzzed logins filling the per-IP login throttle."""
    import requests

    from tests.conftest import RABBIT_API

    vhost, auth = f"panel-isolated-{uuid.uuid4().hex[:8]}", ("guest", "guest")
    requests.put(f"{RABBIT_API}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    stack = Stack(var=tmp_path_factory.mktemp("isolated"), gateway_port=free_port(), smtp_port=free_port())
    prefix = f"i{uuid.uuid4().hex[:6]}_"
    stack.env = {"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}", "MONGO_URI": mongo_uri,
                 "DB_PREFIX": prefix, "SECRET_KEY": uuid.uuid4().hex, "GUNICORN_WORKERS": "1"}  # fmt: skip
    try:
        stack.up(seed_demo=False)
        yield stack
    finally:
        stack.down()
        requests.delete(f"{RABBIT_API}/vhosts/{vhost}", auth=auth, timeout=10)
        client = pymongo.MongoClient(mongo_uri)
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
