"""The server-module interface: what the hosting service asks of any server, whatever runs it.

A module is one class with the methods of `ServerModule`, each safe to call again with the same
account (the service retries after a timeout, not knowing whether the server acted). `linux_agent`
drives a plain Linux web server through tools/hosting_agent.py; a DirectAdmin or cPanel module would
implement the same methods with their APIs (README, Hosting provisioning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ServerError(Exception):
    """The server did not do what was asked. `code` is recorded (staff see it); `temporary` errors
    (no answer, a timeout, the server's own failure) are retried sooner than refusals."""

    def __init__(self, code: str, detail: str = "", temporary: bool = True):
        super().__init__(code, detail)
        self.code, self.detail, self.temporary = code, detail, temporary


@dataclass(frozen=True)
class HostingAccountSpec:
    """One account as the server sees it: every name is fixed when the account is requested."""

    username: str
    domain: str
    plan: str
    limits: dict[str, int]


@dataclass(frozen=True)
class Usage:
    disk_bytes: int
    files_bytes: int
    database_bytes: int


class ServerModule(Protocol):
    def create(self, account: HostingAccountSpec) -> None: ...

    def suspend(self, account: HostingAccountSpec) -> None: ...

    def unsuspend(self, account: HostingAccountSpec) -> None: ...

    def terminate(self, account: HostingAccountSpec) -> None: ...

    def change_plan(self, account: HostingAccountSpec) -> None: ...

    def set_password(self, account: HostingAccountSpec, password: str) -> None: ...

    def usage(self, account: HostingAccountSpec) -> Usage: ...

    def login_link(self, account: HostingAccountSpec) -> str: ...

    def exists(self, account: HostingAccountSpec) -> dict[str, Any]: ...
