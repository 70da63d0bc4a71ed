"""The hosting agent: a small HTTP server on the web server that carries out the hosting service's
orders with the server's own software (issue #21).

Every request is `POST /v1/<action>` whose body is a JSON object signed with the shared key
(itsdangerous `URLSafeTimedSerializer`, salt `panel-hosting-agent`, at most 60 s old, naming the
same action): anything else is refused with 401. Every action is idempotent (doing it twice ends in
the same state), so the hosting service may send it again after a timeout. Answers are JSON:
200 with the result, 400 `{"error": "invalid", "field"}`, 404 `{"error": "no_account"}`, 500
`{"error": "failed", "detail"}` when a system command failed (the service retries later).

What an account is on this server (`username` names everything):
- a Linux user in the SFTP group (`useradd`, no shell), chrooted by the server's own sshd to
  `<dir>/sites/<username>` (root-owned), its files in `public_html` (its own; a welcome `index.html`
  in it at first, so the site answers before anything is uploaded);
- an nginx virtual host for the site's domain and `www.` serving `public_html`, PHP through the
  account's own PHP-FPM pool (running as the account's user, `open_basedir` on its files);
- a MariaDB database `<username>_web` and user `<username>` (`MAX_USER_CONNECTIONS` from the plan).
Suspension: the vhost serves the suspended page (503), the user joins the group sshd denies, and the
database user is locked (`ACCOUNT LOCK`). Termination removes the user, its files, vhost, pool,
database and database user.

    python -m tools.hosting_agent --dir var/hosting --port 8089   # as root
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pymysql
import requests
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tools.hosting_server import SFTP_GROUP, SUSPENDED_GROUP, WEB_USER

log = logging.getLogger("hosting_agent")
SALT = "panel-hosting-agent"
MAX_AGE = 60
USERNAME = re.compile(r"^[a-z][a-z0-9]{2,15}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
MAX_BODY = 64 * 1024
# Every vhost answers with the version of its configuration, so the agent knows when a reload took effect.
CONFIG_HEADER = "X-Hosting-Config"
RELOAD_SECONDS = 10
# A new account's site until its files are uploaded (the domain is checked against DOMAIN: no markup in it).
WELCOME_PAGE = """<!doctype html>
<html lang="pl"><head><meta charset="utf-8"><title>{domain}</title></head>
<body><h1>{domain}</h1><p>Konto hostingowe działa. Wgraj pliki strony przez SFTP do katalogu public_html
(ten plik, index.html, możesz zastąpić).</p>
<p lang="en">The hosting account is up. Upload the site's files over SFTP to public_html
(this file, index.html, may be replaced).</p></body></html>
"""


def serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=SALT)


class Refused(Exception):
    """A request the agent will not carry out: `status` and the JSON body to answer."""

    def __init__(self, status: int, **body: Any):
        super().__init__(status, body)
        self.status, self.body = status, body


class Agent:
    """The actions, each idempotent, on one server's directories (see tools.hosting_server)."""

    def __init__(self, directory: Path, address: str = "127.0.0.1", http_port: int = 8088):
        self.dir, self.address, self.http_port = directory, address, http_port
        self.sites = directory / "sites"
        self.nginx_sites = directory / "nginx" / "sites"
        self.pools = directory / "php" / "pool.d"

    # ------------------------------------------------------------------ actions
    def create(self, p: dict[str, Any]) -> dict[str, Any]:
        user, domain, limits = username(p), domain_of(p), limits_of(p)
        if not exists(user):
            run("useradd", "--no-create-home", "--home-dir", str(self.sites / user), "--shell", "/usr/sbin/nologin",
                "--groups", SFTP_GROUP, "--user-group", "--password", "!", user)  # fmt: skip
        chroot = self.sites / user
        chroot.mkdir(mode=0o755, exist_ok=True)
        shutil.chown(chroot, "root", "root")
        public = chroot / "public_html"
        public.mkdir(mode=0o755, exist_ok=True)
        shutil.chown(public, user, user)
        if not any(public.iterdir()):  # the site answers from the start, until the customer uploads theirs
            (public / "index.html").write_text(WELCOME_PAGE.format(domain=domain))
            shutil.chown(public / "index.html", user, user)
        self._write_pool(user, limits)
        self._write_vhost(user, domain, limits, suspended=self._suspended(user))
        with self._db() as db:
            db.execute(f"CREATE DATABASE IF NOT EXISTS `{user}_web`")
            db.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' ACCOUNT LOCK")
            db.execute(f"GRANT ALL PRIVILEGES ON `{user}_web`.* TO '{user}'@'%' "
                       f"WITH MAX_USER_CONNECTIONS {limits['db_connections']:d}")  # fmt: skip
        return self.account(user)

    def suspend(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(p)
        run("usermod", "--append", "--groups", SUSPENDED_GROUP, user)
        self._write_vhost(user, domain_of(p), limits_of(p), suspended=True)
        with self._db() as db:
            db.execute(f"ALTER USER '{user}'@'%' ACCOUNT LOCK")
            kill_sessions(db, user)
        return self.account(user)

    def unsuspend(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(p)
        if self._suspended(user):
            run("gpasswd", "--delete", user, SUSPENDED_GROUP)
        self._write_vhost(user, domain_of(p), limits_of(p), suspended=False)
        with self._db() as db:
            if self._has_password(db, user):  # a user who never set a password stays locked until they do
                db.execute(f"ALTER USER '{user}'@'%' ACCOUNT UNLOCK")
        return self.account(user)

    def terminate(self, p: dict[str, Any]) -> dict[str, Any]:
        user = username(p)
        for path in (self.nginx_sites / f"{user}.conf", self.pools / f"{user}.conf"):
            path.unlink(missing_ok=True)
        self._reload()
        if isinstance(p.get("domain"), str):
            self._wait_served(domain_of(p), None)
        with self._db() as db:
            kill_sessions(db, user)
            db.execute(f"DROP DATABASE IF EXISTS `{user}_web`")
            db.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        if exists(user):
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)
            run("userdel", user)
        shutil.rmtree(self.sites / user, ignore_errors=True)
        return {"username": user, "exists": False}

    def change_plan(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(p)
        limits = limits_of(p)
        self._write_pool(user, limits)
        self._write_vhost(user, domain_of(p), limits, suspended=self._suspended(user))
        with self._db() as db:
            db.execute(f"ALTER USER '{user}'@'%' WITH MAX_USER_CONNECTIONS {limits['db_connections']:d}")
        return self.account(user)

    def set_password(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(p)
        password = p.get("password")
        if not isinstance(password, str) or not 10 <= len(password) <= 128 or not password.isprintable():
            raise Refused(400, error="invalid", field="password")
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True, capture_output=True)
        with self._db() as db:
            db.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY {db.connection.escape(password)}")
            if not self._suspended(user):
                db.execute(f"ALTER USER '{user}'@'%' ACCOUNT UNLOCK")
        return self.account(user)

    def usage(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(p)
        files = int(run("du", "--summarize", "--bytes", str(self.sites / user)).split()[0])
        with self._db() as db:
            db.execute("SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
                       "WHERE table_schema = %s", (f"{user}_web",))  # fmt: skip
            database = int(db.fetchone()[0])
        return {"username": user, "disk_bytes": files + database, "files_bytes": files, "database_bytes": database}

    def account(self, p: dict[str, Any] | str) -> dict[str, Any]:
        user = p if isinstance(p, str) else username(p)
        if not exists(user):
            return {"username": user, "exists": False}
        return {"username": user, "exists": True, "suspended": self._suspended(user),
                "vhost": (self.nginx_sites / f"{user}.conf").exists(), "database": f"{user}_web"}  # fmt: skip

    def health(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._db() as db:
            db.execute("SELECT 1")
        return {"status": "up"}

    ACTIONS = ("create", "suspend", "unsuspend", "terminate", "change_plan", "set_password", "usage", "account",
               "health")  # fmt: skip

    # ------------------------------------------------------------------ the pieces
    def _existing(self, p: dict[str, Any]) -> str:
        user = username(p)
        if not exists(user):
            raise Refused(404, error="no_account")
        return user

    def _suspended(self, user: str) -> bool:
        return exists(user) and SUSPENDED_GROUP in groups_of(user)

    def _write_pool(self, user: str, limits: dict[str, int]) -> None:
        php = self.dir / "php"
        write_if_changed(self.pools / f"{user}.conf", f"""[{user}]
user = {user}
group = {user}
listen = {php}/{user}.sock
listen.owner = {WEB_USER}
listen.group = {WEB_USER}
listen.mode = 0660
pm = ondemand
pm.max_children = {limits["php_workers"]}
pm.process_idle_timeout = 30s
php_admin_value[open_basedir] = {self.sites / user / "public_html"}:/tmp
php_admin_value[memory_limit] = {limits["php_memory_mb"]}M
php_admin_value[upload_max_filesize] = {limits["upload_mb"]}M
php_admin_value[post_max_size] = {limits["upload_mb"]}M
""")  # fmt: skip
        self._reload()
        socket, deadline = php / f"{user}.sock", time.monotonic() + RELOAD_SECONDS
        while not socket.exists() and time.monotonic() < deadline:  # PHP-FPM opens the pool's socket after a reload
            time.sleep(0.05)

    def _write_vhost(self, user: str, domain: str, limits: dict[str, int], suspended: bool) -> None:
        listen, names = f"{self.address}:{self.http_port}", f"{domain} www.{domain}"
        if suspended:
            body = f"""  root {self.dir / "nginx" / "suspended"};
  error_page 503 /index.html;
  location = /index.html {{ internal; }}
  location / {{ return 503; }}"""
        else:
            body = f"""  root {self.sites / user / "public_html"};
  index index.php index.html;
  client_max_body_size {limits["upload_mb"]}m;
  location ~ \\.php$ {{
    try_files $uri =404;
    include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:{self.dir / "php" / user}.sock;
  }}"""
        version = hashlib.sha256(f"{names}\n{body}".encode()).hexdigest()[:12]
        conf = (f"# hosting account {user}\nserver {{\n  listen {listen};\n  server_name {names};\n"
                f"  add_header {CONFIG_HEADER} {version} always;\n{body}\n}}\n")  # fmt: skip
        write_if_changed(self.nginx_sites / f"{user}.conf", conf)
        self._reload()
        self._wait_served(domain, version)

    def _wait_served(self, domain: str, version: str | None) -> None:
        """Until nginx answers for `domain` with this configuration (None: with no vhost of ours): a reload is
        taken up by new workers while the old ones finish, so the change is confirmed by asking."""
        deadline = time.monotonic() + RELOAD_SECONDS
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://{self.address}:{self.http_port}/", headers={"Host": domain}, timeout=2)
                if answer.headers.get(CONFIG_HEADER) == version:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not serve the new configuration of {domain} within {RELOAD_SECONDS} s")

    def _reload(self) -> None:
        """nginx and PHP-FPM read their configuration again (gracefully: running requests finish)."""
        run("nginx", "-c", str(self.dir / "nginx" / "nginx.conf"), "-t", "-q")
        old_workers = children(master(self.dir / "nginx" / "nginx.pid"))
        for pid_file, sig in ((self.dir / "nginx" / "nginx.pid", signal.SIGHUP),
                              (self.dir / "php" / "php-fpm.pid", signal.SIGUSR2)):  # fmt: skip
            try:
                os.kill(master(pid_file), sig)
            except ProcessLookupError as exc:
                raise RuntimeError(f"cannot reload {pid_file.parent.name}: {exc}") from None
        # nginx's old workers stop taking connections once the new ones run; until they are gone one of
        # them may still answer with the old configuration
        deadline = time.monotonic() + RELOAD_SECONDS
        while any(alive(pid) for pid in old_workers) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _db(self) -> Any:
        connection = pymysql.connect(unix_socket=str(self.dir / "mysql" / "mysqld.sock"), user="root", autocommit=True)
        return _Cursor(connection)

    @staticmethod
    def _has_password(db: Any, user: str) -> bool:
        db.execute("SELECT authentication_string FROM mysql.user WHERE user = %s", (user,))
        row = db.fetchone()
        return bool(row and row[0])


class _Cursor:
    """A cursor that closes its connection when the block ends."""

    def __init__(self, connection: Any):
        self.connection = connection

    def __enter__(self) -> Any:
        return self.connection.cursor()

    def __exit__(self, *exc: Any) -> None:
        self.connection.close()


def kill_sessions(db: Any, user: str) -> None:
    db.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (user,))
    for (session,) in db.fetchall():
        with contextlib.suppress(pymysql.MySQLError):  # it ended meanwhile
            db.execute("KILL %s", (int(session),))


def username(p: dict[str, Any]) -> str:
    user = p.get("username")
    if not isinstance(user, str) or not USERNAME.match(user):
        raise Refused(400, error="invalid", field="username")
    return user


def domain_of(p: dict[str, Any]) -> str:
    domain = p.get("domain")
    if not isinstance(domain, str) or not DOMAIN.match(domain):
        raise Refused(400, error="invalid", field="domain")
    return domain


LIMITS = {"php_workers": (1, 50), "php_memory_mb": (32, 2048), "upload_mb": (1, 1024), "db_connections": (1, 500),
          "disk_mb": (1, 10_000_000)}  # fmt: skip


def limits_of(p: dict[str, Any]) -> dict[str, int]:
    given = p.get("limits")
    if not isinstance(given, dict):
        raise Refused(400, error="invalid", field="limits")
    for name, (low, high) in LIMITS.items():
        value = given.get(name)
        if type(value) is not int or not low <= value <= high:
            raise Refused(400, error="invalid", field=f"limits.{name}")
    return {name: given[name] for name in LIMITS}


def master(pid_file: Path) -> int:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError) as exc:
        raise RuntimeError(f"{pid_file.parent.name} is not running: {exc}") from None


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in found.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def groups_of(user: str) -> list[str]:
    return run("id", "--groups", "--name", user).split()


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# ---------------------------------------------------------------------- HTTP
def handler_for(agent: Agent, key: str) -> type[BaseHTTPRequestHandler]:
    signed = serializer(key)
    one_at_a_time = threading.Lock()  # two orders for one account never interleave their commands

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            try:
                status, body = 200, self._dispatch()
            except Refused as refused:
                status, body = refused.status, refused.body
            except subprocess.CalledProcessError as exc:
                log.error("%s failed: %s", exc.cmd, exc.stderr)
                status, body = 500, {"error": "failed", "detail": f"{exc.cmd[0]}: {(exc.stderr or '').strip()[:300]}"}
            except Exception as exc:
                log.exception("action failed")
                status, body = 500, {"error": "failed", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> dict[str, Any]:
            action = self.path.removeprefix("/v1/")
            length = int(self.headers.get("Content-Length") or 0)
            if action not in Agent.ACTIONS or not self.path.startswith("/v1/") or not 0 < length <= MAX_BODY:
                raise Refused(404, error="no_such_action")
            try:
                params = signed.loads(self.rfile.read(length).decode(), max_age=MAX_AGE)
            except (BadSignature, UnicodeDecodeError):
                raise Refused(401, error="bad_signature") from None
            if not isinstance(params, dict) or params.get("action") != action:
                raise Refused(401, error="bad_signature")
            method: Callable[[dict[str, Any]], dict[str, Any]] = getattr(agent, action)
            with one_at_a_time:
                return method(params)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.hosting_agent")
    parser.add_argument("--dir", type=Path, required=True, help="the server's directory (tools.hosting_server)")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--address", default="127.0.0.1", help="where the agent and the vhosts listen")
    parser.add_argument("--http-port", type=int, default=8088, help="nginx's port for the vhosts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s hosting-agent %(levelname)s %(message)s")
    if os.geteuid() != 0:
        print("the hosting agent creates Linux users: run it as root", file=sys.stderr)
        return 1
    key = (args.dir / "agent_key").read_text().strip()  # the hosting service's HOSTING_AGENT_KEY
    agent = Agent(args.dir.resolve(), args.address, args.http_port)
    server = ThreadingHTTPServer((args.address, args.port), handler_for(agent, key))
    log.info("listening on %s:%d for %s", args.address, args.port, args.dir)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
