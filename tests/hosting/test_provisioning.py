"""The hosting service (worker_factory, real database) driving a real local web server: billing's
service events become a Linux user with a chrooted SFTP login, an nginx site with its PHP-FPM pool
and a MariaDB database; suspension refuses them, termination removes them; a server that does not
answer is retried until it does, and the account is created once."""

from __future__ import annotations

import paramiko
import pymysql
import pytest
import requests
from nameko.testing.services import worker_factory

from kernel import clock
from kernel.errors import Conflict, Invalid, NotFound
from kernel.events import Event, new_id
from services.hosting.domain import username_for
from services.hosting.service import HostingService
from tests.contract_examples import event_data
from tests.fakes import RecordingDispatch, call_as, recording_events_api
from tests.hosting.conftest import linux_user_exists
from tools.hosting_agent import serializer

INTEGRATION = True
PASSWORD = "Sekretne-Haslo-2026"
CTX = {"actor": {"type": "customer", "id": "acc-1"}, "account_id": "acc-1"}
STAFF = {"actor": {"type": "staff", "id": "staff-1"}}


@pytest.fixture
def published() -> RecordingDispatch:
    return RecordingDispatch()


@pytest.fixture
def hosting(local_server, mongo_alias, published, clock_file, monkeypatch):
    for name, value in local_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOSTING_TERMINATE_DELAY_HOURS", "0")
    mongo_alias("hosting")
    return worker_factory(HostingService, events=recording_events_api(HostingService, published))


def billing_event(event_type: str, service_id: str, **data) -> dict:
    fields = {"account_id": "acc-1", "service_id": service_id, "name": "Hosting Start", "plan": "hosting-start",
              "domain": f"s{service_id[:8]}.example.test", **data}  # fmt: skip
    if event_type == "service_activated":
        fields.setdefault("cycle", "monthly")
    if event_type in ("service_suspended", "service_terminated"):
        fields.setdefault("reason", "overdue")
    return Event(
        new_id(), "customer-acc-1", 1, event_type, clock.now(), event_data(event_type, **fields), {}
    ).to_message()


def activate(hosting, service_id: str | None = None) -> tuple[str, str, str]:
    """A service activated by billing; returns (service id, its domain, the account's user name)."""
    service_id = service_id or new_id()
    message = billing_event("service_activated", service_id)
    hosting.on_service_activated(message)
    return service_id, message["data"]["domain"], username_for(service_id)


def refused_sftp(local_server, user: str, password: str = PASSWORD) -> bool:
    try:
        local_server.sftp(user, password).close()
    except (paramiko.AuthenticationException, paramiko.SSHException):
        return True
    return False


def refused_database(local_server, user: str, password: str = PASSWORD) -> bool:
    try:
        local_server.database(user, password, f"{user}_web").close()
    except pymysql.OperationalError:
        return True
    return False


def test_an_activated_service_is_a_site_with_sftp_and_a_database(hosting, local_server, published):
    service_id, domain, user = activate(hosting)
    access = hosting.get_access("acc-1", service_id)
    assert access["state"] == "active" and access["password_set"] is False
    assert access["sftp"] == {"host": "127.0.0.1", "port": local_server.server.sftp_port, "user": user}
    assert access["database"]["name"] == f"{user}_web" and access["database"]["user"] == user
    assert access["site_url"] == f"http://{domain}:{local_server.server.http_port}/"
    assert refused_sftp(local_server, user), "no password before the customer sets one"
    welcome = local_server.page(domain)  # the site answers before anything is uploaded
    assert welcome.status_code == 200 and f"<h1>{domain}</h1>" in welcome.text

    call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    local_server.upload(user, PASSWORD, "index.html", b"<h1>Witaj na mojej stronie</h1>")
    local_server.upload(user, PASSWORD, "info.php", b"<?php echo 'PHP ' . (40 + 2);")
    assert local_server.page(domain).text == "<h1>Witaj na mojej stronie</h1>"
    assert local_server.page(f"www.{domain}", "/info.php").text == "PHP 42"
    assert local_server.page("someone-else.test").status_code == 404
    with local_server.database(user, PASSWORD, f"{user}_web") as db, db.cursor() as cursor:
        cursor.execute("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
        cursor.execute("SELECT DATABASE(), CURRENT_USER()")
        assert cursor.fetchone() == (f"{user}_web", f"{user}@%")

    usage = hosting.get_access("acc-1", service_id)["usage"]
    assert usage["disk_bytes"] >= len("<h1>Witaj na mojej stronie</h1>") and usage["disk_limit_bytes"] == 10240 * 2**20
    assert published.types() == ["hosting_account_requested", "hosting_account_created", "hosting_password_set"]


def test_billing_events_delivered_twice_create_one_account(hosting, local_server, published):
    service_id = new_id()
    message = billing_event("service_activated", service_id)
    hosting.on_service_activated(message)
    hosting.on_service_activated(message)  # the same event again
    hosting.on_service_activated(billing_event("service_activated", service_id))  # a replay with a new id
    assert published.types().count("hosting_account_created") == 1
    assert hosting.get_state(service_id)["state"] == "active"


def test_suspension_refuses_the_site_sftp_and_database_and_unsuspension_restores_them(hosting, local_server):
    service_id, domain, user = activate(hosting)
    call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    local_server.upload(user, PASSWORD, "index.html", b"moja strona")
    connected = local_server.database(user, PASSWORD, f"{user}_web")

    hosting.on_service_suspended(billing_event("service_suspended", service_id, invoice_id="inv-1"))
    assert hosting.get_access("acc-1", service_id)["state"] == "suspended"
    page = local_server.page(domain)
    assert page.status_code == 503 and "Konto zawieszone" in page.text and "moja strona" not in page.text
    assert refused_sftp(local_server, user)
    assert refused_database(local_server, user)
    with pytest.raises(pymysql.Error):  # the session open before the suspension was ended too
        connected.cursor().execute("SELECT 1")

    hosting.on_service_unsuspended(billing_event("service_unsuspended", service_id))
    assert hosting.get_access("acc-1", service_id)["state"] == "active"
    assert local_server.page(domain).text == "moja strona"
    local_server.upload(user, PASSWORD, "after.txt", b"wrocilem")
    assert local_server.page(domain, "/after.txt").text == "wrocilem"
    local_server.database(user, PASSWORD, f"{user}_web").close()


def test_termination_waits_for_the_delay_then_leaves_nothing(hosting, local_server, monkeypatch, published):
    monkeypatch.setenv("HOSTING_TERMINATE_DELAY_HOURS", "24")
    service_id, domain, user = activate(hosting)
    call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    local_server.upload(user, PASSWORD, "index.html", b"jeszcze jestem")

    hosting.on_service_terminated(billing_event("service_terminated", service_id))
    assert hosting.get_state(service_id)["state"] == "removal_scheduled"
    assert local_server.page(domain).text == "jeszcze jestem" and linux_user_exists(user)
    clock.advance(23 * 3600)
    hosting.run_retries()
    assert linux_user_exists(user)

    clock.advance(2 * 3600)
    assert hosting.run_retries()["settled"] == 1
    assert hosting.get_state(service_id)["state"] == "removed"
    assert not linux_user_exists(user)
    server = local_server.server
    assert not (server.sites / user).exists() and not list((server.directory / "nginx" / "sites").glob(f"{user}*"))
    assert not list((server.directory / "php" / "pool.d").glob(f"{user}*"))
    assert local_server.page(domain).status_code == 404
    assert local_server.root_sql("SHOW DATABASES LIKE %s", f"{user}_web") == []
    assert local_server.root_sql("SELECT user FROM mysql.user WHERE user = %s", user) == []
    assert published.types().count("hosting_account_removed") == 1


def test_a_server_down_during_creation_is_retried_and_creates_one_account(hosting, local_server, published):
    local_server.stop("web-agent")
    try:
        service_id, domain, user = activate(hosting)
        assert hosting.get_access("acc-1", service_id)["state"] == "delayed"
        [failed] = published.of("hosting_step_failed")
        assert (failed["data"]["step"], failed["data"]["error"]) == ("create", "hosting_server_unreachable")
        assert not linux_user_exists(user)
        hosting.run_retries()  # before its time: not tried again
        assert len(published.of("hosting_step_failed")) == 1
        clock.advance(60)
        hosting.run_retries()  # still down: a second failure, visible to staff after enough of them
        assert [f["attempts"] for f in call_as(hosting, "list_failures", STAFF, min_attempts=2)] == [2]
    finally:
        local_server.start("web-agent")

    clock.advance(3600)
    assert hosting.run_retries()["settled"] == 1
    assert hosting.get_state(service_id)["state"] == "active"
    assert published.types().count("hosting_account_created") == 1
    assert call_as(hosting, "list_failures", STAFF, min_attempts=1) == []
    assert local_server.root_sql("SELECT COUNT(*) FROM mysql.user WHERE user = %s", user) == [(1,)]
    call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    local_server.upload(user, PASSWORD, "index.html", b"po awarii")
    assert local_server.page(domain).text == "po awarii"


def test_a_plan_change_changes_the_limits_on_the_server(hosting, local_server):
    service_id, _, user = activate(hosting)
    pool = local_server.server.directory / "php" / "pool.d" / f"{user}.conf"
    assert "pm.max_children = 2" in pool.read_text()
    call_as(hosting, "change_plan", STAFF, service_id, "hosting-pro")
    assert "pm.max_children = 10" in pool.read_text() and "memory_limit] = 512M" in pool.read_text()
    access = hosting.get_access("acc-1", service_id)
    assert access["usage"]["disk_limit_bytes"] == 204800 * 2**20
    rows = local_server.root_sql("SELECT max_user_connections FROM mysql.user WHERE user = %s", user)
    assert rows == [(100,)]


def test_the_customer_is_refused_with_reasons(hosting, local_server):
    service_id, _, _ = activate(hosting)
    for password, code in (("krotkie", "hosting_password_length"), ("x" * 129, "hosting_password_length"),
                           ("ma\nnowa-linie-123", "hosting_password_characters")):  # fmt: skip
        with pytest.raises(Invalid) as bad:
            call_as(hosting, "set_password", CTX, "acc-1", service_id, password)
        assert bad.value.fields == {"password": code}
    with pytest.raises(NotFound):
        hosting.get_access("another-account", service_id)
    hosting.on_service_terminated(billing_event("service_terminated", service_id))
    with pytest.raises(Conflict) as gone:
        call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    assert gone.value.code == "hosting_not_ready"


def test_the_agent_refuses_requests_not_signed_with_its_key(local_server):
    url = f"{local_server.server.agent_url}/v1/terminate"
    order = {"action": "terminate", "username": "hnobody00001"}
    assert requests.post(url, data=serializer("another-key").dumps(order), timeout=5).status_code == 401
    assert requests.post(url, data=b'{"action": "terminate"}', timeout=5).status_code == 401
    key = local_server.server.key()
    other_action = serializer(key).dumps({**order, "action": "health"})
    assert requests.post(url, data=other_action, timeout=5).status_code == 401
    assert requests.post(url, data=serializer(key).dumps(order), timeout=5).status_code == 200
    bad = serializer(key).dumps({"action": "create", "username": "Root;rm", "domain": "x.test", "limits": {}})
    refused = requests.post(f"{local_server.server.agent_url}/v1/create", data=bad, timeout=5)
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid", "field": "username"})


def plan_changed(service_id: str, plan: str, changed_at: str, previous_plan: str = "hosting-start") -> dict:
    direction = "upgrade" if plan != "hosting-start" else "downgrade"
    return billing_event("service_plan_changed", service_id, plan=plan, previous_plan=previous_plan,
                         direction=direction, changed_at=changed_at)  # fmt: skip


def server_limits(local_server, user: str) -> dict[str, str]:
    """What the server enforces for the account: its PHP-FPM pool, its vhost's upload size, MariaDB's connections."""
    pool = (local_server.server.directory / "php" / "pool.d" / f"{user}.conf").read_text()
    vhost = (local_server.server.directory / "nginx" / "sites" / f"{user}.conf").read_text()
    [(connections,)] = local_server.root_sql("SELECT max_user_connections FROM mysql.user WHERE user = %s", user)
    return {"workers": pool.split("pm.max_children = ")[1].split("\n")[0],
            "memory": pool.split("memory_limit] = ")[1].split("\n")[0],
            "upload": vhost.split("client_max_body_size ")[1].split(";")[0], "connections": str(connections)}  # fmt: skip


def test_billings_plan_change_gives_the_account_the_new_limits_once(hosting, local_server, published):
    service_id, domain, user = activate(hosting)
    call_as(hosting, "set_password", CTX, "acc-1", service_id, PASSWORD)
    local_server.upload(
        user, PASSWORD, "limits.php", b"<?php echo ini_get('memory_limit'), ' ', ini_get('upload_max_filesize');"
    )
    assert server_limits(local_server, user) == {"workers": "2", "memory": "128M", "upload": "32m", "connections": "10"}
    assert local_server.page(domain, "/limits.php").text == "128M 32M"  # what the running PHP-FPM pool has
    upgrade = plan_changed(service_id, "hosting-pro", "2026-11-10T12:00:00")
    hosting.on_service_plan_changed(upgrade)
    assert server_limits(local_server, user) == {"workers": "10", "memory": "512M", "upload": "512m",
                                                 "connections": "100"}  # fmt: skip
    assert local_server.page(domain, "/limits.php").text == "512M 512M"
    with local_server.database(user, PASSWORD, f"{user}_web") as db, db.cursor() as cursor:
        cursor.execute("SELECT @@max_user_connections")
        assert cursor.fetchone() == (100,)  # the session's own limit
    access = hosting.get_access("acc-1", service_id)
    assert access["plan"] == "hosting-pro" and access["plan_pending"] is False
    assert access["limits"]["php_workers"] == 10 and access["usage"]["disk_limit_bytes"] == 204800 * 2**20
    assert published.types().count("hosting_plan_changed") == 1

    recorded = len(published.types())
    hosting.on_service_plan_changed(upgrade)  # the same message again
    hosting.on_service_plan_changed(plan_changed(service_id, "hosting-pro", "2026-11-10T12:00:00"))  # a replay, new id
    hosting.on_service_plan_changed(plan_changed(service_id, "hosting-biznes", "2026-11-09T08:00:00"))  # older, late
    assert len(published.types()) == recorded
    assert server_limits(local_server, user)["workers"] == "10"

    hosting.on_service_plan_changed(plan_changed(service_id, "hosting-start", "2026-11-20T09:00:00", "hosting-pro"))
    assert server_limits(local_server, user) == {"workers": "2", "memory": "128M", "upload": "32m", "connections": "10"}
    assert local_server.page(domain, "/limits.php").text == "128M 32M"
    assert hosting.get_access("acc-1", service_id)["usage"]["disk_limit_bytes"] == 10240 * 2**20
    assert published.types().count("hosting_plan_changed") == 2


def test_a_plan_change_while_the_server_is_down_is_retried(hosting, local_server, published):
    service_id, _, user = activate(hosting)
    local_server.stop("web-agent")
    try:
        hosting.on_service_plan_changed(plan_changed(service_id, "hosting-biznes", "2026-11-10T12:00:00"))
        [failed] = published.of("hosting_step_failed")
        assert (failed["data"]["step"], failed["data"]["error"]) == ("change_plan", "hosting_server_unreachable")
        access = hosting.get_access("acc-1", service_id)
        assert access["plan"] == "hosting-biznes" and access["plan_pending"] is True
        assert server_limits(local_server, user)["workers"] == "2"
    finally:
        local_server.start("web-agent")
    clock.advance(60)
    assert hosting.run_retries()["settled"] == 1
    assert server_limits(local_server, user) == {"workers": "5", "memory": "256M", "upload": "128m",
                                                 "connections": "30"}  # fmt: skip
    assert hosting.get_access("acc-1", service_id)["plan_pending"] is False
    assert call_as(hosting, "list_failures", STAFF, min_attempts=1) == []


def test_a_plan_change_that_arrives_before_the_activation_is_the_plan_created(hosting, local_server, published):
    service_id = new_id()
    hosting.on_service_plan_changed(plan_changed(service_id, "hosting-biznes", "2026-11-10T12:00:00"))
    assert published.types() == ["hosting_plan_change_requested"]
    _, _, user = activate(hosting, service_id)  # billing's activation, with the plan it had then
    assert hosting.get_access("acc-1", service_id)["plan"] == "hosting-biznes"
    assert server_limits(local_server, user)["workers"] == "5"
    assert published.types().count("hosting_plan_changed") == 0  # created with those limits: no step more


def test_a_failing_change_given_up_by_a_change_back_is_no_longer_retried(hosting, local_server, published):
    service_id, _, user = activate(hosting)
    local_server.stop("web-agent")
    try:
        hosting.on_service_plan_changed(plan_changed(service_id, "hosting-pro", "2026-11-10T12:00:00"))
        assert [f["step"] for f in call_as(hosting, "list_failures", STAFF, min_attempts=1)] == ["change_plan"]
        hosting.on_service_plan_changed(plan_changed(service_id, "hosting-start", "2026-11-11T12:00:00", "hosting-pro"))
        assert call_as(hosting, "list_failures", STAFF, min_attempts=1) == []
        assert hosting.get_state(service_id) == {"state": "active", "attempts": 0, "next_step": None}
        clock.advance(3600)
        assert hosting.run_retries()["taken"] == 0
    finally:
        local_server.start("web-agent")
    assert hosting.get_access("acc-1", service_id)["plan_pending"] is False
    assert server_limits(local_server, user)["workers"] == "2" and published.types().count("hosting_plan_changed") == 0
