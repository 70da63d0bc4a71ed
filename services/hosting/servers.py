"""The servers hosting accounts live on, from the settings (README, Configuration: HOSTING_*).
One server for now, named HOSTING_SERVER_NAME; its module is the Linux agent's."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.hosting.modules import ServerModule
from services.hosting.modules.linux_agent import LinuxAgentModule


@dataclass(frozen=True)
class Server:
    name: str
    agent_url: str
    agent_key: str
    sftp_host: str
    sftp_port: int
    db_host: str
    db_port: int
    web_port: int
    site_suffix: str
    timeout: float

    @classmethod
    def configured(cls) -> Server:
        return cls(
            name=os.environ.get("HOSTING_SERVER_NAME", "local"),
            agent_url=os.environ.get("HOSTING_AGENT_URL", "http://127.0.0.1:8089"),
            agent_key=os.environ.get("HOSTING_AGENT_KEY", ""),
            sftp_host=os.environ.get("HOSTING_SFTP_HOST", "127.0.0.1"),
            sftp_port=int(os.environ.get("HOSTING_SFTP_PORT", "2222")),
            db_host=os.environ.get("HOSTING_DB_HOST", "127.0.0.1"),
            db_port=int(os.environ.get("HOSTING_DB_PORT", "3307")),
            web_port=int(os.environ.get("HOSTING_WEB_PORT", "8088")),
            site_suffix=os.environ.get("HOSTING_SITE_SUFFIX", "hosting.panel.localhost"),
            timeout=float(os.environ.get("HOSTING_AGENT_TIMEOUT", "20")),
        )

    def module(self, timeout: float | None = None) -> ServerModule:
        """The server's module; `timeout` shorter than the server's for what a page waits on."""
        return LinuxAgentModule(self.agent_url, self.agent_key, self.sftp_host, self.sftp_port, timeout or self.timeout)

    def site_url(self, domain: str) -> str:
        port = "" if self.web_port == 80 else f":{self.web_port}"
        return f"http://{domain}{port}/"
