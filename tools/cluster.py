"""A three-node RabbitMQ cluster on this machine: `python -m tools.cluster up|down` (and the cluster test).

Each node has its own name (`panel-c<n>-<id>@localhost`), AMQP, distribution and
management ports and data directory under one temporary directory; they share the
Erlang cookie of the user the Debian `rabbitmq-server` script runs them as, and
nodes 2 and 3 join node 1 with `rabbitmqctl join_cluster`. The node of `make up`
(rabbit@<host> on 5672/25672/15672) is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tools.devstack import port_open, wait_until

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out to outgoing
# connections, which a long test run makes by the thousand, could be taken when a node
# restarts on it, and a node that cannot listen on its management port does not boot.
LISTEN_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nobody listens on now, outside the ephemeral range."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS}")


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text().lower()


class Node:
    """One RabbitMQ node of the cluster, restartable on the same data directory."""

    def __init__(self, base: Path, name: str):
        self.base, self.name = base, name
        self.pid_file, self.process = base / "rabbit.pid", None
        self.choose_ports()

    def choose_ports(self) -> None:
        self.port, self.dist_port, self.management_port = free_port(), free_port(), free_port()

    @property
    def uri(self) -> str:
        return f"pyamqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/api"

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"), "RABBITMQ_PID_FILE": str(self.pid_file)}  # fmt: skip

    def start(self) -> None:
        """Start the Erlang VM (returns at once; `wait_running` waits for it)."""
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"management.tcp.port = {self.management_port}\nmanagement.tcp.ip = 127.0.0.1\n"
            "cluster_partition_handling = pause_minority\n"
        )
        if os.geteuid() == 0:  # the Debian script runs the node as the rabbitmq user
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.base)], check=True)
        self.pid_file.unlink(missing_ok=True)
        log = open(self.base / "server.out", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen([shutil.which("rabbitmq-server") or "rabbitmq-server"], env=self._environment(),
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.base)  # fmt: skip

    def wait_running(self, timeout: float = 120) -> None:
        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                out = (self.base / "server.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"RabbitMQ node {self.name} exited: {out}")
            return port_open("127.0.0.1", self.port) and port_open("127.0.0.1", self.management_port)

        wait_until(up, timeout, f"RabbitMQ node {self.name}", interval=0.3)

    def ctl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """`rabbitmqctl -n <node> ...` (or another CLI of the same family as the first argument)."""
        tool = "rabbitmqctl"
        if args and args[0] in ("rabbitmq-queues", "rabbitmq-diagnostics"):
            tool, args = args[0], args[1:]
        argv = [shutil.which(tool) or tool, "-n", self.name, *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(self.pid_file.read_text().strip())
        return None

    def kill(self) -> None:
        """`kill -9` of the Erlang VM: no goodbye to the other nodes or the clients."""
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not _alive(pid), 30, f"{self.name} to die", interval=0.1)
        self._reap()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM to the VM), waiting until it is gone."""
        pid = self.pid()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            try:
                wait_until(lambda: not _alive(pid), 60, f"{self.name} to stop", interval=0.2)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        self.pid_file.unlink(missing_ok=True)


class Cluster:
    """Three nodes joined into one cluster (the first is the seed)."""

    def __init__(self, size: int = 3, base: Path | None = None):
        # not under pytest's tmp dir: the rabbitmq user must be able to reach it
        self.base = base or Path(tempfile.mkdtemp(prefix="panel-cluster-"))
        self.base.chmod(0o755)
        tag = uuid.uuid4().hex[:6]
        self.nodes = [Node(self.base / f"c{n}", f"panel-c{n}-{tag}@localhost") for n in range(1, size + 1)]

    @property
    def uri(self) -> str:
        """AMQP_URI naming every node (kombu's failover list)."""
        return ";".join(node.uri for node in self.nodes)

    def up(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            self._first_boot(node)
        seed = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", seed.name)
            node.ctl("start_app")
        self.wait_members(len(self.nodes))

    @staticmethod
    def _first_boot(node: Node) -> None:
        """Wait for a new node; one that exits at boot (a port taken between choosing and
        listening) starts once more on other ports, which nobody knows yet."""
        try:
            node.wait_running()
        except RuntimeError as exited:
            print(f"{exited}; starting it again on other ports", file=sys.stderr)
            node.choose_ports()
            node.start()
            node.wait_running()

    def running_members(self, via: Node | None = None) -> list[str]:
        via = via or next(n for n in self.nodes if n.pid() and _alive(n.pid()))
        status = via.ctl("cluster_status", "--formatter", "json", check=False, timeout=30)
        if status.returncode:
            return []
        return list(json.loads(status.stdout).get("running_nodes", []))

    def wait_members(self, count: int, timeout: float = 120) -> None:
        wait_until(lambda: len(self.running_members()) == count, timeout, f"{count} running cluster members")

    def wait_quorum_safe(self, node: Node, timeout: float = 120) -> None:
        """Until stopping `node` would leave every quorum queue with a majority (its replicas caught up)."""
        wait_until(lambda: node.ctl("rabbitmq-queues", "check_if_node_is_quorum_critical", check=False).returncode == 0,
                   timeout, f"{node.name} to be safe to stop", interval=0.5)  # fmt: skip

    def restart(self, node: Node) -> None:
        node.start()
        node.wait_running()
        self.wait_members(len(self.nodes))

    def down(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(Exception):
                node.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster")
    parser.add_argument("command", choices=("up",))
    parser.parse_args()
    cluster = Cluster()
    started = time.monotonic()
    cluster.up()
    print(f"cluster of {len(cluster.nodes)} up in {time.monotonic() - started:.1f}s under {cluster.base}")
    print(f"AMQP_URI='{cluster.uri}'")
    for node in cluster.nodes:
        print(f"{node.name}: pid {node.pid()} amqp {node.port} management {node.api}")
    print("stop: kill the pids above (SIGTERM), then remove the directory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
