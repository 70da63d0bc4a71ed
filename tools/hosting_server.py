"""One local web server for hosting accounts, on ports and directories of its own (issue #21).

The server's own software from Debian packages (`make deps` installs them as root): nginx, PHP-FPM,
MariaDB and an OpenSSH `sshd` that serves only chrooted SFTP, each with a configuration written here
under `directory` (nothing read from /etc/nginx, /etc/php, /etc/mysql or /etc/ssh/sshd_config, so the
machine's own services are untouched), plus the agent (tools/hosting_agent.py) that the hosting
service drives. `processes()` gives each one's argv, running in the foreground; `tools.devstack` and
the tests start them. Linux users are created by the agent, so it runs as root.

    python -m tools.hosting_server --dir var/hosting   # prepare, start all, wait (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import grp
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PHP_FPM = "php-fpm8.2"
WEB_USER = "www-data"
SFTP_GROUP = "panel-sftp"
SUSPENDED_GROUP = "panel-suspended"
SUSPENDED_PAGE = """<!doctype html>
<html lang="pl"><head><meta charset="utf-8"><title>Konto zawieszone / Account suspended</title></head>
<body><h1>Konto zawieszone</h1><p>Ta strona jest chwilowo niedostępna.</p>
<h1>Account suspended</h1><p>This site is temporarily unavailable.</p></body></html>
"""
# Where local servers keep their files. sshd chroots need root-owned parents that are not group- or
# world-writable, and MariaDB's and nginx's users must reach the files: a checkout under /tmp or in a
# private (0700) directory gives neither, so the servers live here, not in the checkout's var/.
HOSTING_SERVER_ROOT = Path(os.environ.get("HOSTING_SERVER_ROOT", "/var/lib/panel-hosting"))


def directory_for(var: Path) -> Path:
    """The server directory of the stack whose own files are in `var` (one per stack)."""
    return HOSTING_SERVER_ROOT / hashlib.sha256(str(var.resolve()).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class HostingServer:
    """Where everything of one local server lives (see HOSTING_SERVER_ROOT for why not in the checkout)."""

    directory: Path
    http_port: int = 8088
    sftp_port: int = 2222
    mysql_port: int = 3307
    agent_port: int = 8089
    address: str = "127.0.0.1"
    sftp_group: str = SFTP_GROUP
    suspended_group: str = SUSPENDED_GROUP

    @property
    def sites(self) -> Path:
        return self.directory / "sites"

    @property
    def nginx_conf(self) -> Path:
        return self.directory / "nginx" / "nginx.conf"

    @property
    def php_conf(self) -> Path:
        return self.directory / "php" / "php-fpm.conf"

    @property
    def mysql_socket(self) -> Path:
        return self.directory / "mysql" / "mysqld.sock"

    @property
    def sshd_conf(self) -> Path:
        return self.directory / "ssh" / "sshd_config"

    @property
    def key_file(self) -> Path:
        return self.directory / "agent_key"

    @property
    def agent_url(self) -> str:
        return f"http://{self.address}:{self.agent_port}"

    def key(self) -> str:
        if not self.key_file.exists():
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            self.key_file.write_text(os.urandom(32).hex())
            self.key_file.chmod(0o600)
        return self.key_file.read_text().strip()

    def prepare(self) -> None:
        """Directories, configurations, the MariaDB data directory and sshd's host key; harmless twice."""
        missing = [b for b in ("nginx", PHP_FPM, "mariadbd", "mariadb-install-db") if not shutil.which(b)]
        if missing or not Path("/usr/sbin/sshd").exists():
            raise RuntimeError(
                f"hosting server software missing ({', '.join(missing) or 'sshd'}): run `make deps` as root"
            )
        for sub in ("sites", "nginx/sites", "nginx/tmp", "nginx/suspended", "php/pool.d", "mysql", "ssh"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.directory, self.sites):
            path.chmod(0o755)
        for group in (self.sftp_group, self.suspended_group):
            ensure_group(group)
        (self.directory / "nginx" / "suspended" / "index.html").write_text(SUSPENDED_PAGE)
        self.nginx_conf.write_text(self._nginx())
        self.php_conf.write_text(self._php())
        self.sshd_conf.write_text(self._sshd())
        self._mysql_datadir()
        host_key = self.directory / "ssh" / "ssh_host_ed25519_key"
        if not host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.key()

    def _nginx(self) -> str:
        d = self.directory / "nginx"
        temps = "\n".join(f"  {k}_temp_path {d}/tmp/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""user {WEB_USER};
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  include /etc/nginx/mime.types;
  charset utf-8;
  access_log {d}/access.log;
{temps}
  server {{ listen {self.address}:{self.http_port} default_server; return 404; }}
  include {d}/sites/*.conf;
}}
"""

    def _php(self) -> str:
        d = self.directory / "php"
        return f"""[global]
pid = {d}/php-fpm.pid
error_log = {d}/error.log
daemonize = no
include = {d}/pool.d/*.conf

; the server's own pool, so that php-fpm starts before any account has one
[panel-server]
user = {WEB_USER}
group = {WEB_USER}
listen = {d}/panel-server.sock
pm = ondemand
pm.max_children = 1
"""

    def _sshd(self) -> str:
        d = self.directory / "ssh"
        return f"""# SFTP only, for hosting accounts; the machine's own sshd is another process with its own config.
Port {self.sftp_port}
ListenAddress {self.address}
HostKey {d}/ssh_host_ed25519_key
PidFile {d}/sshd.pid
UsePAM no
PermitRootLogin no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
AllowGroups {self.sftp_group}
DenyGroups {self.suspended_group}
Subsystem sftp internal-sftp
Match Group {self.sftp_group}
  ChrootDirectory {self.sites}/%u
  ForceCommand internal-sftp -d /public_html
  AllowTcpForwarding no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTTY no
"""

    def _mysql_datadir(self) -> None:
        data = self.directory / "mysql" / "data"
        if (data / "mysql").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        shutil.chown(data, "mysql", "mysql")
        shutil.chown(self.directory / "mysql", "mysql", "mysql")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip

    def processes(self, python: str = sys.executable) -> dict[str, list[str]]:
        """name -> argv of each process, all in the foreground."""
        mysql = self.directory / "mysql"
        return {
            "web-mariadb": ["mariadbd", "--no-defaults", f"--datadir={mysql / 'data'}", f"--socket={self.mysql_socket}",
                                f"--port={self.mysql_port}", f"--bind-address={self.address}", "--user=mysql",
                                f"--pid-file={mysql / 'mysqld.pid'}", "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                                f"--log-error={mysql / 'error.log'}"],
            "web-php": [PHP_FPM, "--nodaemonize", "--fpm-config", str(self.php_conf)],
            "web-nginx": ["nginx", "-c", str(self.nginx_conf), "-g", "daemon off;"],
            "web-sshd": ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.sshd_conf)],
            "web-agent": [python, "-m", "tools.hosting_agent", "--dir", str(self.directory), "--port", str(self.agent_port),
                              "--address", self.address, "--http-port", str(self.http_port)],
        }  # fmt: skip

    def ports(self) -> dict[str, int]:
        return {"web-mariadb": self.mysql_port, "web-php": 0, "web-nginx": self.http_port,
                "web-sshd": self.sftp_port, "web-agent": self.agent_port}  # fmt: skip


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        subprocess.run(["groupadd", "--system", "-f", name], check=True)


def installed() -> bool:
    return all(shutil.which(b) for b in ("nginx", PHP_FPM, "mariadbd")) and Path("/usr/sbin/sshd").exists()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.hosting_server")
    parser.add_argument("--dir", type=Path, default=Path("var/hosting"))
    args = parser.parse_args()
    server = HostingServer(args.dir.resolve())
    server.prepare()
    children = [subprocess.Popen(argv) for argv in server.processes().values()]
    print(f"hosting server up: http :{server.http_port}, sftp :{server.sftp_port}, mysql :{server.mysql_port}, "
          f"agent {server.agent_url} (key in {server.key_file})")  # fmt: skip
    try:
        for child in children:
            child.wait()
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
