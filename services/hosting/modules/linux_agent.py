"""The module for a plain Linux web server: each call is one signed request to the agent on that
server (tools/hosting_agent.py), which uses the server's nginx, PHP-FPM, MariaDB and OpenSSH."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import requests
from itsdangerous import URLSafeTimedSerializer

from services.hosting.modules import HostingAccountSpec, ServerError, Usage

SALT = "panel-hosting-agent"  # the agent's (tools/hosting_agent.py)


@dataclass(frozen=True)
class LinuxAgentModule:
    url: str
    key: str
    sftp_host: str
    sftp_port: int
    timeout: float = 20

    def _call(self, action: str, account: HostingAccountSpec, **extra: Any) -> dict[str, Any]:
        body = URLSafeTimedSerializer(self.key, salt=SALT).dumps({"action": action, **asdict(account), **extra})
        try:
            answer = requests.post(f"{self.url.rstrip('/')}/v1/{action}", data=body, timeout=self.timeout)
        except requests.Timeout:
            raise ServerError("hosting_server_timeout") from None
        except requests.RequestException as exc:
            raise ServerError("hosting_server_unreachable", str(exc)[:200]) from None
        try:
            result = answer.json()
        except ValueError:
            raise ServerError("hosting_server_bad_answer", f"HTTP {answer.status_code}") from None
        if answer.status_code >= 500:
            raise ServerError("hosting_server_failed", str(result.get("detail", ""))[:300])
        if answer.status_code == 404 and result.get("error") == "no_account":
            raise ServerError("hosting_no_account", temporary=False)
        if answer.status_code >= 400:
            code = f"hosting_server_refused_{result.get('field') or result.get('error')}"
            raise ServerError(code, str(result), temporary=False)
        return result

    def create(self, account: HostingAccountSpec) -> None:
        self._call("create", account)

    def suspend(self, account: HostingAccountSpec) -> None:
        self._call("suspend", account)

    def unsuspend(self, account: HostingAccountSpec) -> None:
        self._call("unsuspend", account)

    def terminate(self, account: HostingAccountSpec) -> None:
        self._call("terminate", account)

    def change_plan(self, account: HostingAccountSpec) -> None:
        self._call("change_plan", account)

    def set_password(self, account: HostingAccountSpec, password: str) -> None:
        self._call("set_password", account, password=password)

    def usage(self, account: HostingAccountSpec) -> Usage:
        found = self._call("usage", account)
        return Usage(found["disk_bytes"], found["files_bytes"], found["database_bytes"])

    def login_link(self, account: HostingAccountSpec) -> str:
        """No control panel on a plain server: the link opens an SFTP client at the account."""
        return f"sftp://{account.username}@{self.sftp_host}:{self.sftp_port}/"

    def exists(self, account: HostingAccountSpec) -> dict[str, Any]:
        return self._call("account", account)
