"""A real local web server for the hosting tests (tools/hosting_server.py: nginx, PHP-FPM, MariaDB,
sshd for SFTP and the agent, on free ports, in a directory under HOSTING_SERVER_ROOT (sshd refuses chroots under
the world-writable /tmp), and what the tests use to look at it as a customer would."""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pymysql
import pytest
import requests

from tests.conftest import free_port
from tools.devstack import Stack, port_open, wait_until
from tools.hosting_server import HOSTING_SERVER_ROOT, HostingServer, installed


@dataclass
class LocalServer:
    """The running server and the processes that make it (`stop`/`start` one of them)."""

    server: HostingServer
    processes: Stack

    def start(self, name: str) -> None:
        self.processes.start_process(name, self.server.processes()[name], env={})
        port = self.server.ports()[name]
        if port:
            wait_until(lambda: port_open(self.server.address, port), 30, f"{name} on :{port}")

    def stop(self, name: str) -> None:
        self.processes.stop_process(name)

    def env(self) -> dict[str, str]:
        s = self.server
        return {"HOSTING_AGENT_URL": s.agent_url, "HOSTING_AGENT_KEY": s.key(), "HOSTING_SFTP_HOST": s.address,
                "HOSTING_SFTP_PORT": str(s.sftp_port), "HOSTING_DB_HOST": s.address, "HOSTING_DB_PORT": str(s.mysql_port),
                "HOSTING_WEB_PORT": str(s.http_port), "HOSTING_AGENT_TIMEOUT": "10"}  # fmt: skip

    # --- looking at an account the way its customer would --------------------------------------
    def page(self, domain: str, path: str = "/") -> requests.Response:
        return requests.get(f"http://{self.server.address}:{self.server.http_port}{path}", headers={"Host": domain},
                            timeout=10)  # fmt: skip

    def upload(self, user: str, password: str, name: str, content: bytes) -> None:
        with self.sftp(user, password) as sftp:
            sftp.putfo(io.BytesIO(content), name)

    def sftp(self, user: str, password: str) -> paramiko.SFTPClient:
        transport = paramiko.Transport((self.server.address, self.server.sftp_port))
        try:
            transport.connect(username=user, password=password)
        except BaseException:
            transport.close()
            raise
        return paramiko.SFTPClient.from_transport(transport)

    def database(self, user: str, password: str, name: str) -> pymysql.Connection:
        return pymysql.connect(host=self.server.address, port=self.server.mysql_port, user=user, password=password,
                               database=name, connect_timeout=5)  # fmt: skip

    def root_sql(self, query: str, *args) -> list[tuple]:
        connection = pymysql.connect(unix_socket=str(self.server.mysql_socket), user="root")
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, args or None)
                return list(cursor.fetchall())
        finally:
            connection.close()


def linux_user_exists(name: str) -> bool:
    return subprocess.run(["getent", "passwd", name], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    if not installed():
        pytest.fail("the hosting tests need nginx, php-fpm, mariadb-server and openssh-server: run `make deps` as root")
    directory = HOSTING_SERVER_ROOT / f"test-{uuid.uuid4().hex[:8]}"
    server = HostingServer(directory, http_port=free_port(), sftp_port=free_port(), mysql_port=free_port(),
                           agent_port=free_port())  # fmt: skip
    server.prepare()
    running = LocalServer(server, Stack(var=directory / "stack"))
    try:
        for name in server.processes():
            running.start(name)
        yield running
    finally:
        for name in reversed(list(server.processes())):
            running.stop(name)
        remove_users(server.sites)
        shutil.rmtree(directory, ignore_errors=True)


def remove_users(sites: Path) -> None:
    """Linux users a failed test left behind on this machine (their chroots are under `sites`)."""
    for chroot in sites.iterdir() if sites.exists() else ():
        if linux_user_exists(chroot.name):
            subprocess.run(["userdel", chroot.name], capture_output=True)
