"""Start and stop the whole stack on one machine: `python -m tools.devstack up|down|status`.

The same code starts the stack for `make up` and for the test suite (with its
own ports, database prefix, RabbitMQ vhost and var directory), so the tests run
what a newcomer runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel.settings import SERVICES
from tools.hosting_server import HostingServer, directory_for
from tools.hosting_server import installed as web_server_installed
from tools.waiting import port_open, wait_until  # noqa: F401 (tests and tools import them from here)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The local web server's processes (tools/hosting_server.py), stopped last-started first.
WEB_SERVER = ("web-agent", "web-sshd", "web-nginx", "web-php", "web-mariadb")
DEMO_EMAIL = "demo@panel.localhost"
DEMO_PASSWORD = "Demo-Panel-2026"
STAFF_EMAIL = "staff@panel.localhost"
STAFF_PASSWORD = "Staff-Panel-2026"


def nameko_command(service: str) -> list[str]:
    """How every deployment runs a service, after `python` (relative to the repo root).

    The class is named: importing the module alone makes nameko scan the
    MongoEngine documents imported there."""
    entry = f"services.{service}.service:{service.title()}Service"
    return ["-m", "nameko", "run", entry, "--config", f"services/{service}/config.yml"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    var: Path = ROOT / "var"
    gateway_port: int = 8000
    smtp_port: int = 8025
    mongo_port: int = 27017
    pdns_dns_port: int = 5300  # PowerDNS: DNS answers, and its HTTP API the domains service drives
    pdns_api_port: int = 8081
    live_port: int = 0  # the live-stream process (gateway/live_asgi.py); 0: a free one at start
    # The local web server for hosting accounts (tools/hosting_server.py): nginx, SFTP, MariaDB, its agent
    hosting_http_port: int = 8088
    hosting_sftp_port: int = 2222
    hosting_mysql_port: int = 3307
    hosting_agent_port: int = 8089
    env: dict[str, str] = field(default_factory=dict)
    # `nameko run` processes per service; they compete for the same queues.
    instances: int = 1
    # each process's own AMQP URI (its broker user), once `up` made them
    broker_uris: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("MONGO_URI", f"mongodb://127.0.0.1:{self.mongo_port}/")
        env.setdefault("SMTP_PORT", str(self.smtp_port))
        env.setdefault("PUBLIC_URL", self.gateway_url)
        env.setdefault("SECRET_KEY", self._secret_key())
        env.setdefault("RPC_SIGNING_KEYS", self._secret_key("rpc_signing_key"))
        env.setdefault("PDNS_API_URL", f"http://127.0.0.1:{self.pdns_api_port}")
        env.setdefault("PDNS_API_KEY", self._secret_key("pdns_api_key"))
        env.setdefault("CLOCK_FILE", str(self.var / "clock"))  # kernel.clock: real time plus the offset in it (0)
        env.setdefault("HOSTING_AGENT_URL", f"http://127.0.0.1:{self.hosting_agent_port}")
        env.setdefault("HOSTING_AGENT_KEY", self._hosting_agent_key())
        env.setdefault("HOSTING_SFTP_PORT", str(self.hosting_sftp_port))
        env.setdefault("HOSTING_DB_PORT", str(self.hosting_mysql_port))
        env.setdefault("HOSTING_WEB_PORT", str(self.hosting_http_port))
        env["PYTHONPATH"] = str(ROOT)
        env.update(self.env)
        return env

    def _hosting_agent_key(self) -> str:
        """The local web server's agent key, kept in the server's directory (the agent reads it there); a
        process that may not write there (not root: no local web server either) gets one of var/'s own."""
        try:
            return self.hosting_server().key()
        except OSError:
            return self._secret_key("hosting_agent_key")

    def _secret_key(self, name: str = "secret_key") -> str:
        """A random key generated once into var/ (a deployment sets its own in the environment)."""
        path = self.var / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(os.urandom(32).hex())
        return path.read_text().strip()

    # --- processes ----------------------------------------------------------
    def pid(self, name: str) -> int | None:
        path = self.run_dir / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text().strip() or 0)
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            path.unlink(missing_ok=True)
            return None
        return pid

    def start_process(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Start `argv` in its own session unless it already runs; returns the pid. A service or the gateway
        (re)started by name connects as its own broker user."""
        if env is None:
            env = self._broker_env(self.broker_uris, name.split("-")[0])
        existing = self.pid(name)
        if existing:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**self.environment(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        return process.pid

    def stop_process(self, name: str, timeout: float = 15) -> bool:
        pid = self.pid(name)
        if not pid:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not _alive(pid), timeout, f"{name} to stop")
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
        (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        return True

    def instance_names(self, service: str) -> list[str]:
        """Process names of a service's instances: `billing`, then `billing-2`, ... (and any still running)."""
        running = {p.stem for p in self.run_dir.glob(f"{service}-*.pid")}
        wanted = {f"{service}-{n}" for n in range(2, self.instances + 1)}
        return [service, *sorted(running | wanted)]

    def service_argv(self, service: str) -> list[str]:
        return [PYTHON, *nameko_command(service)]

    # --- infrastructure -----------------------------------------------------
    def start_mongo(self) -> None:
        if "MONGO_URI" in os.environ or "MONGO_URI" in self.env:
            return  # the operator named a server: use it, start nothing
        if port_open("127.0.0.1", self.mongo_port):
            return
        data = self.var / "mongo"
        data.mkdir(parents=True, exist_ok=True)
        if shutil.which("mongod"):
            argv = ["mongod", "--dbpath", str(data), "--bind_ip", "127.0.0.1", "--port", str(self.mongo_port)]
        else:
            nx = str(Path(PYTHON).parent / "nx-27017")
            argv = [nx, "--data-dir", str(data), "--port", str(self.mongo_port), "--host", "127.0.0.1",
                    "--pid-file", str(self.run_dir / "nx.internal.pid"), "--log-file", str(self.log_dir / "nx-27017.log")]  # fmt: skip
        self.start_process("mongo", argv)
        wait_until(lambda: port_open("127.0.0.1", self.mongo_port), 30, f"MongoDB on :{self.mongo_port}")

    def start_smtp(self) -> None:
        if self.pid("smtp") or port_open("127.0.0.1", self.smtp_port):
            return
        argv = [PYTHON, "-m", "tools.smtp_sink", "--port", str(self.smtp_port), "--dir", str(self.var / "mail")]
        self.start_process("smtp", argv)
        wait_until(lambda: port_open("127.0.0.1", self.smtp_port), 15, f"SMTP sink on :{self.smtp_port}")

    def start_pdns(self) -> None:
        """PowerDNS with its API (tools/pdns.py) when PDNS_API_URL is ours (127.0.0.1:pdns_api_port) and not up."""
        from tools.pdns import PowerDns, installed

        ours = f"http://127.0.0.1:{self.pdns_api_port}"
        if self.environment()["PDNS_API_URL"].rstrip("/") != ours or port_open("127.0.0.1", self.pdns_api_port):
            return
        if not installed():
            print("PowerDNS is not installed (make deps as root): DNS changes stay pending", file=sys.stderr)
            return
        pdns = PowerDns(self.var / "pdns", self.pdns_dns_port, self.pdns_api_port, self.environment()["PDNS_API_KEY"])
        pdns.prepare()
        self.start_process("pdns", pdns.argv(), env={})
        wait_until(lambda: port_open("127.0.0.1", self.pdns_api_port), 20, f"PowerDNS API on :{self.pdns_api_port}")

    def hosting_server(self) -> HostingServer:
        return HostingServer(directory_for(self.var), self.hosting_http_port, self.hosting_sftp_port,
                             self.hosting_mysql_port, self.hosting_agent_port)  # fmt: skip

    def start_hosting(self) -> None:
        """The local web server for hosting accounts when HOSTING_AGENT_URL is ours and not up (needs root)."""
        server = self.hosting_server()
        ours = self.environment()["HOSTING_AGENT_URL"].rstrip("/") == server.agent_url
        if not ours or port_open("127.0.0.1", server.agent_port):
            return
        if not web_server_installed() or os.geteuid() != 0:
            print("hosting accounts need nginx, php-fpm, mariadb-server, openssh-server and root (make deps as root):"
                  " they stay 'w trakcie zakładania'", file=sys.stderr)  # fmt: skip
            return
        server.prepare()
        for name, argv in server.processes(PYTHON).items():
            self.start_process(name, argv, env={})
        for name, port in server.ports().items():
            if port:
                wait_until(lambda p=port: port_open("127.0.0.1", p), 30, f"{name} on :{port}")

    def check_rabbitmq(self) -> None:
        uri = self.environment().get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/").split(";")[0]
        host_port = uri.split("@")[-1].split("/")[0]
        host, _, port = host_port.partition(":")
        if not port_open(host, int(port or 5672), timeout=2):
            raise SystemExit(
                f"RabbitMQ does not answer at {host_port}: run `make deps` as root, or install and start rabbitmq-server"
            )

    # --- broker users: one per service and one for the gateway ---------------------
    def _broker_admin(self) -> tuple[dict[str, Any], str, tuple[str, str]]:
        """The operator's AMQP URI (parts), the management API's address and the operator's credentials."""
        given = self.environment().get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
        parts = urllib.parse.urlsplit(given.split(";")[0])  # the first node's API (one of several: AMQP_URI's `;`)
        vhost = urllib.parse.unquote(parts.path[1:]) or "/"
        api = self.environment().get("RABBIT_MANAGEMENT_URL") or f"http://{parts.hostname}:15672/api"
        credentials = (urllib.parse.unquote(parts.username or "guest"), urllib.parse.unquote(parts.password or "guest"))
        return (
            {"scheme": parts.scheme, "host": parts.hostname, "port": parts.port or 5672, "vhost": vhost, "uri": given},
            api,
            credentials,
        )

    def broker_user_name(self, user: str) -> str:
        vhost = self._broker_admin()[0]["vhost"]
        return f"panel-{user}" if vhost == "/" else f"{vhost}-{user}"

    def broker_users(self) -> dict[str, str]:
        """Create (or update) the least-privilege users of kernel.broker_users through RabbitMQ's management
        API, with passwords kept in var/broker_users.json; returns each process's AMQP URI. Without a
        management API (a bare node) it says so and every process uses AMQP_URI as given."""
        import requests

        from kernel.broker_users import USERS, permissions
        from kernel.queues import with_user

        uri, api, admin = self._broker_admin()
        try:
            overview = requests.get(f"{api}/overview", auth=admin, timeout=5)
            overview.raise_for_status()
            ports = {listener.get("port") for listener in overview.json().get("listeners", [])}
        except (requests.RequestException, ValueError) as exc:
            print(f"note: no RabbitMQ management API at {api} ({exc}); every process uses AMQP_URI's user")
            return {}
        if uri["port"] not in ports:  # another node's API (a bare test node has none of its own)
            print(
                f"note: the management API at {api} is not the broker on port {uri['port']}; every process uses AMQP_URI's user"
            )
            return {}
        store = self.var / "broker_users.json"
        passwords = json.loads(store.read_text()) if store.exists() else {}
        vhost = urllib.parse.quote(uri["vhost"], safe="")
        uris = {}
        for user in USERS:
            name = self.broker_user_name(user)
            password = passwords.setdefault(name, os.urandom(18).hex())
            rights = permissions(user)
            topic = rights.pop("topic")
            for path, body in ((f"users/{name}", {"password": password, "tags": ""}),
                               (f"permissions/{vhost}/{name}", rights), (f"topic-permissions/{vhost}/{name}", topic)):  # fmt: skip
                requests.put(f"{api}/{path}", json=body, auth=admin, timeout=10).raise_for_status()
            uris[user] = with_user(uri["uri"], name, password)
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(passwords))
        store.chmod(0o600)
        return uris

    def remove_broker_users(self) -> None:
        """Delete this stack's broker users (the test stacks' teardown; `make down` keeps them)."""
        import requests

        from kernel.broker_users import USERS

        _, api, admin = self._broker_admin()
        for user in USERS:
            with contextlib.suppress(requests.RequestException):
                requests.delete(f"{api}/users/{self.broker_user_name(user)}", auth=admin, timeout=10)

    @staticmethod
    def _broker_env(uris: dict[str, str], user: str) -> dict[str, str]:
        return {"AMQP_URI": uris[user]} if user in uris else {}

    # --- the stack ----------------------------------------------------------
    def up(self, seed_demo: bool = True) -> dict:
        # the process that starts the stack signs the calls it makes itself (seeding, benchmarks) with its key
        os.environ.setdefault("RPC_SIGNING_KEYS", self.environment()["RPC_SIGNING_KEYS"])
        self.check_rabbitmq()
        self.start_mongo()
        self.start_smtp()
        self.start_pdns()
        self.start_hosting()
        broker = self.broker_uris = self.broker_users()
        for service in SERVICES:
            for name in self.instance_names(service):
                self.start_process(name, self.service_argv(service), self._broker_env(broker, service))
        gunicorn = str(Path(PYTHON).parent / "gunicorn")
        self.start_process("gateway", env=self._broker_env(broker, "gateway"), argv=[gunicorn, "-c", str(ROOT / "gateway" / "gunicorn.conf.py"),
                                       "--bind", f"127.0.0.1:{self.gateway_port}", "gateway.wsgi:app"])  # fmt: skip
        # the gateway's view process (gateway/readmodel): the dashboard and session views, from every service's events
        self.start_process("gateway-view", [PYTHON, "-m", "gateway.readmodel"], self._broker_env(broker, "gateway"))
        # live streams for everyone (gateway/live_asgi.py): an asyncio process for /live/events
        self.live_port = self.live_port or _free_port()
        self.start_process("gateway-live", env=self._broker_env(broker, "gateway"), argv=[gunicorn, "-c", str(ROOT / "gateway" / "gunicorn_live.py"),
                           "--bind", f"127.0.0.1:{self.live_port}", "gateway.live_asgi:app"])  # fmt: skip
        health = self.wait_healthy()
        if seed_demo:
            from tools.seed import (
                seed_demo_account,
                seed_demo_content,
                seed_demo_offer,
                seed_help_articles,
                seed_staff_account,
            )

            seed_demo_account(self.gateway_url, self.var / "mail", DEMO_EMAIL, DEMO_PASSWORD)
            seed_staff_account(self.gateway_url, STAFF_EMAIL, STAFF_PASSWORD, self.environment(), ROOT)
            seed_demo_offer(self.environment())
            seed_help_articles(self.environment())
            # the demo's services, domains, invoices, tickets, contact and news; the first plan ordered in the past
            # on the stack's shared clock, so it is due for renewal now ("Odnów teraz")
            seed_demo_content(self.gateway_url, self.var / "mail", (DEMO_EMAIL, DEMO_PASSWORD),
                              (STAFF_EMAIL, STAFF_PASSWORD), Path(self.environment()["CLOCK_FILE"]))  # fmt: skip
        return health

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.gateway_url}/healthz", timeout=3) as response:
                return json.load(response)
        except Exception:
            return None

    def wait_healthy(self, timeout: float = 90) -> dict:
        def all_up() -> bool:
            health = self.health()
            return bool(health) and health.get("status") == "up"

        try:
            wait_until(all_up, timeout, "every service to report up on /healthz", interval=0.5)
        except TimeoutError:
            raise SystemExit(f"stack not healthy: {self.health()}; logs in {self.log_dir}") from None
        return self.health() or {}

    def down(self) -> list[str]:
        stopped = []
        for name in (
            "gateway",
            "gateway-view",
            "gateway-live",
            *(n for s in SERVICES for n in self.instance_names(s)),
            "smtp",
            "pdns",
            "mongo",
        ):
            if self.stop_process(name):
                stopped.append(name)
        stopped += [name for name in WEB_SERVER if self.stop_process(name)]
        return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.devstack")
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--instances", type=int, default=1, help="processes per service (up)")
    args = parser.parse_args()
    stack = Stack(instances=args.instances)
    if args.command == "up":
        stack.up()
        print(f"\nPanel Klienta is up: {stack.gateway_url}")
        print(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
        print(f"Staff login: {STAFF_EMAIL} / {STAFF_PASSWORD} (staff desk: {stack.gateway_url}/staff)")
        print(f"Mail received by the SMTP sink: {stack.var / 'mail'}/  logs: {stack.log_dir}/")
    elif args.command == "down":
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        print(json.dumps(stack.health() or {"status": "down"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
