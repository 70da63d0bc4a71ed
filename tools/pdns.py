"""PowerDNS (authoritative) on ports of its own, for `make up` and the tests.

Debian's `pdns-server` and `pdns-backend-sqlite3` (installed by `make deps`): one `pdns_server`
process with the gsqlite3 backend (its database created from the package's schema), answering DNS
on `dns_port` and its HTTP API on `api_port`, both on 127.0.0.1. The configuration is given on the
command line and a config directory of its own, so the system's /etc/powerdns is never read.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
BINARY = "pdns_server"


@dataclass(frozen=True)
class PowerDns:
    directory: Path
    dns_port: int = 5300
    api_port: int = 8081
    api_key: str = "panel-dev-pdns-key"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def database(self) -> Path:
        return self.directory / "pdns.sqlite3"

    def prepare(self) -> None:
        """The directory, an empty pdns.conf (nothing from /etc) and the database from the package's schema."""
        if not installed():
            raise RuntimeError("PowerDNS is not installed: run `make deps` as root (pdns-server, pdns-backend-sqlite3)")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "pdns.conf").touch()
        if not self.database.exists():
            with sqlite3.connect(self.database) as db:
                db.executescript(SCHEMA.read_text())

    def argv(self) -> list[str]:
        settings = {
            "config-dir": self.directory, "socket-dir": self.directory, "launch": "gsqlite3",
            "gsqlite3-database": self.database, "local-address": "127.0.0.1", "local-port": self.dns_port,
            "api": "yes", "api-key": self.api_key, "webserver": "yes", "webserver-address": "127.0.0.1",
            "webserver-port": self.api_port, "webserver-allow-from": "127.0.0.0/8", "daemon": "no",
            "guardian": "no", "disable-syslog": "yes", "write-pid": "no", "security-poll-suffix": "",
            "cache-ttl": 0, "negquery-cache-ttl": 0, "query-cache-ttl": 0, "zone-cache-refresh-interval": 0,
        }  # fmt: skip
        return [shutil.which(BINARY) or BINARY, *(f"--{k}={v}" for k, v in settings.items())]


def installed() -> bool:
    return shutil.which(BINARY) is not None and SCHEMA.exists()
