"""Two instances of every service, one gateway, one broker vhost, one set of databases.

The stack is started by tools/devstack.py exactly like `make up` (with `instances=2`),
on its own ports, RabbitMQ vhost, database prefix, clock file and mail directory.
Each service process logs `nameko.containers` at DEBUG, so every entrypoint call
leaves a line `calling handler for <WorkerContext [service.method] ...>` in that
instance's log: the tests count them to show which instance handled what.
"""

from __future__ import annotations

import contextlib
import email
import os
import re
import signal
import uuid
from collections import Counter
from email import policy
from pathlib import Path

import amqp
import kombu
import pymongo
import pytest
import requests
import yaml

from tests.conftest import RABBIT_API, _dump_logs, free_port
from tests.e2e.helpers import wait_for
from tools.devstack import PYTHON, ROOT, SERVICES, Stack, _alive, nameko_command

INSTANCES = 2
AUTH = ("guest", "guest")
TRACE_LOGGER = """
  loggers:
    nameko.containers:
      level: DEBUG
"""


class TracedStack(Stack):
    """A devstack whose services also log each entrypoint call (nameko.containers at DEBUG)."""

    def service_argv(self, service: str) -> list[str]:
        source = Path(nameko_command(service)[-1])
        traced = self.var / "config" / f"{service}.yml"
        if not traced.exists():
            traced.parent.mkdir(parents=True, exist_ok=True)
            traced.write_text((ROOT / source).read_text() + TRACE_LOGGER)
            assert "nameko.containers" in yaml.safe_load(traced.read_text())["LOGGING"]["loggers"]
        return [PYTHON, *nameko_command(service)[:-1], str(traced)]

    # --- what the instances did ----------------------------------------------
    def entrypoint_log(self, name: str, what: str = "calling handler for", lives: str = "") -> Counter:
        """`service.method` -> how often process `name` (e.g. billing-2) logged `what` for it.

        "calling handler for" marks a worker starting; "handled result for" one that ended
        (its reply sent and its message acknowledged, unless the consumer connection was
        already closed: see deploy/README.md, Graceful shutdown).
        The current process's log only, or with lives="*" also those of earlier
        processes of that name (see restart)."""
        pattern = re.compile(re.escape(what) + r" <WorkerContext \[(\w+)\.(\w+)\]")
        logs = self.log_dir.glob(f"{name}.log{lives}")
        return Counter(".".join(m.groups()) for log in logs for m in pattern.finditer(log.read_text(errors="replace")))

    def handled(self, service: str, method: str) -> dict[str, int]:
        """Per instance of `service`: how many `method` workers it started, over all its lives."""
        return {n: self.entrypoint_log(n, lives="*")[f"{service}.{method}"] for n in self.instance_names(service)}

    def in_flight(self, name: str, entrypoint: str) -> int:
        return self.entrypoint_log(name)[entrypoint] - self.entrypoint_log(name, "handled result for")[entrypoint]

    def name_of(self, pid: int) -> str | None:
        """The process name (e.g. `notifications-2`) running as `pid` now."""
        return next((n for s in SERVICES for n in self.instance_names(s) if self.pid(n) == pid), None)

    def db(self, service: str) -> pymongo.database.Database:
        return pymongo.MongoClient(self.env["MONGO_URI"])[f"{self.env['DB_PREFIX']}{service}"]

    # --- the broker ------------------------------------------------------------
    def queue_names(self) -> list[str]:
        """The services' RPC and event queues (not the per-client reply queues), from the management API."""
        found = requests.get(f"{RABBIT_API}/queues/{self.vhost}", params={"columns": "name"}, auth=AUTH, timeout=10)
        return [q["name"] for q in found.json() if q["name"].startswith(("rpc-", "evt-"))]

    def declare(self, queue: str) -> tuple[int, int]:
        """(ready messages, consumers) of `queue` right now (a passive declare; the management
        API's counters are only refreshed every few seconds)."""
        with kombu.Connection(self.env["AMQP_URI"]) as connection:
            _, ready, consumers = connection.channel().queue_declare(queue=queue, passive=True)
        return ready, consumers

    def every_instance_consumes(self) -> bool:
        names = set(self.queue_names()) | {f"rpc-{s}" for s in SERVICES}
        try:
            return all(self.declare(name)[1] == INSTANCES for name in names)
        except amqp.exceptions.NotFound:  # an RPC queue not declared yet
            return False

    def wait_consuming(self) -> None:
        wait_for(self.every_instance_consumes, timeout=90, what=f"{INSTANCES} consumers on every service queue")

    def settled(self, service: str, method: str, queue: str) -> bool:
        """No message waits in `queue` and no live instance of `service` runs `method`:
        every delivery so far has been handled and acknowledged."""
        live = [n for n in self.instance_names(service) if self.pid(n)]
        return self.declare(queue)[0] == 0 and all(self.in_flight(n, f"{service}.{method}") == 0 for n in live)

    def stop_all(self) -> None:
        """SIGTERM every process of the stack at once, wait, then `down()` (which stops them one by one)."""
        names = ["gateway", *(n for s in SERVICES for n in self.instance_names(s)), "smtp"]
        pids = [pid for name in names if (pid := self.pid(name))]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):  # down() kills what is still there
            wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=30, what="the stack to stop")
        self.down()

    def restart(self, *names: str) -> None:
        """Start processes (e.g. `billing-2`) again; the log of a previous life is kept as `<name>.log.<n>`."""
        for name in names:
            lives = len(list(self.log_dir.glob(f"{name}.log.*")))
            (self.log_dir / f"{name}.log").rename(self.log_dir / f"{name}.log.{lives + 1}")
            self.start_process(name, self.service_argv(name.split("-")[0]))
        self.wait_consuming()


def mails(mail_dir: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_dir.glob("*.eml"))]


def mails_to(mail_dir: Path, subject: str) -> Counter:
    """How many mails with `subject` in the subject each address received."""
    return Counter(str(m["To"]).lower() for m in mails(mail_dir) if subject in str(m["Subject"]))


def sender_pid(message: email.message.EmailMessage) -> int:
    """The pid of the process that sent the mail: `email.utils.make_msgid` puts it in the Message-ID."""
    return int(str(message["Message-ID"]).strip("<>").split(".")[1])


@contextlib.contextmanager
def own_vhost():
    name = f"panel-scale-{uuid.uuid4().hex[:8]}"
    try:
        requests.put(f"{RABBIT_API}/vhosts/{name}", auth=AUTH, timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{name}/guest", auth=AUTH, timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()  # fmt: skip
    except requests.RequestException as exc:
        pytest.fail(f"RabbitMQ management API at {RABBIT_API} is needed (run `make deps`): {exc}")
    try:
        yield name
    finally:
        requests.delete(f"{RABBIT_API}/vhosts/{name}", auth=AUTH, timeout=10)


@pytest.fixture(scope="module")
def scaled(mongo_uri, tmp_path_factory):
    """Every service as two `nameko run` processes (`billing`, `billing-2`, ...) and the gateway."""
    var = tmp_path_factory.mktemp("scaled")
    clock_file = var / "clock"
    clock_file.write_text("0")
    prefix = f"s{uuid.uuid4().hex[:6]}_"
    with own_vhost() as vhost:
        stack = TracedStack(var=var, gateway_port=free_port(), smtp_port=free_port(), instances=INSTANCES)
        stack.vhost, stack.clock_file, stack.mail_dir = vhost, clock_file, var / "mail"
        stack.env = {
            "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}",
            "MONGO_URI": mongo_uri,
            "DB_PREFIX": prefix,
            "CLOCK_FILE": str(clock_file),
            "SECRET_KEY": uuid.uuid4().hex,
            "OUTBOX_GRACE_SECONDS": "1",
            # both billing instances' timers run the cycle every second: they race all the time
            "BILLING_CYCLE_SECONDS": "1",
            # a slow machine must not turn a handled command into a timeout
            "RPC_TIMEOUT": "30",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "16",
            "LOG_LEVEL": "INFO",
        }
        try:
            stack.up(seed_demo=False)
            stack.wait_consuming()
        except BaseException:
            _dump_logs(stack)
            stack.stop_all()
            raise
        yield stack
        stack.stop_all()
    client = pymongo.MongoClient(mongo_uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)
