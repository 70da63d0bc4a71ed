"""The whole panel with its own local web server (the way `make up` starts both): a person orders
"Hosting Start" for a domain and pays with the sandbox card; the service page shows the access
details, the password set there opens SFTP and the database, and the file uploaded is the site
nginx serves for that domain. Unpaid renewal: suspended (page, SFTP, database refused); paid:
back. Cancelled: nothing left on the server. The agent down while the account is created: the
page says it is delayed, and once the agent is back there is one account. A paid upgrade through the
API: the server has the new plan's limits, and billing's event delivered again changes nothing. The
demo seed of `make up`: its paid plans are accounts on the local server, their sites answer."""

from __future__ import annotations

import re
import shutil
import uuid

import pymongo
import pytest
import requests
from nameko.standalone.events import event_dispatcher

from kernel.events import Event, new_id
from tests.conftest import TEST_VAR, free_port, own_vhost
from tests.e2e.helpers import PASSWORD as CUSTOMER_PASSWORD
from tests.e2e.helpers import csrf, wait_for
from tests.e2e.test_billing_pages import (
    SERVICE_LINK_RE,
    Person,
    advance_clock,
    billing,
    run_billing_cycle,
    wait_paid,
)
from tests.hosting.conftest import LocalServer, linux_user_exists, remove_users
from tests.hosting.test_provisioning import refused_database, refused_sftp, server_limits
from tools import devstack
from tools.devstack import ROOT, Stack
from tools.seed import (
    Api,
    Page,
    mail_text,
    seed_demo_account,
    seed_demo_content,
    seed_staff_account,
    wait_for_mail,
)

PASSWORD = "Moje-Haslo-Hostingu-1"
STAFF_PASSWORD = "Obsluga-Hostingu-2026"
STATE_RE = re.compile(r'data-hosting-state="([a-z_]+)"')


@pytest.fixture(scope="module")
def hosting_vhost():
    """A vhost of its own: its stack's broker users are named after the vhost, and removing them at the end
    must not remove the users of the session's other stacks (that cut their services off in CI)."""
    with own_vhost("panel-hosting") as name:
        yield name


@pytest.fixture(scope="module")
def panel(mongo_uri, hosting_vhost):
    rabbit_vhost = hosting_vhost
    """A stack of its own whose `make up` path starts its own web server (its own ports; its directory
    under HOSTING_SERVER_ROOT, see tools.hosting_server)."""
    var = (TEST_VAR / f"hosting-e2e-{uuid.uuid4().hex[:8]}").resolve()
    stack = Stack(var=var, gateway_port=free_port(), smtp_port=free_port(), hosting_http_port=free_port(),
                  hosting_sftp_port=free_port(), hosting_mysql_port=free_port(), hosting_agent_port=free_port())  # fmt: skip
    stack.clock_file = var / "clock"
    var.mkdir(parents=True)
    stack.clock_file.write_text("0")
    prefix = f"t{uuid.uuid4().hex[:6]}_"
    stack.env = {
        "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{rabbit_vhost}", "MONGO_URI": mongo_uri,
        "DB_PREFIX": prefix, "CLOCK_FILE": str(stack.clock_file), "SECRET_KEY": uuid.uuid4().hex,
        "OUTBOX_GRACE_SECONDS": "1", "GUNICORN_WORKERS": "1",
        "HOSTING_AGENT_URL": f"http://127.0.0.1:{stack.hosting_agent_port}",  # ours: `up` starts the web server
        "HOSTING_TERMINATE_DELAY_HOURS": "0", "HOSTING_RETRY_SECONDS": "1",
    }  # fmt: skip
    try:
        stack.up(seed_demo=False)
        yield stack
    finally:
        stack.down()
        stack.remove_broker_users()
        _drop(mongo_uri, prefix)
        remove_users(stack.hosting_server().sites)
        shutil.rmtree(stack.hosting_server().directory, ignore_errors=True)
        shutil.rmtree(var, ignore_errors=True)


def _drop(mongo_uri: str, prefix: str) -> None:
    client = pymongo.MongoClient(mongo_uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


@pytest.fixture(scope="module")
def web(panel) -> LocalServer:
    return LocalServer(panel.hosting_server(), panel)


def order_hosting(panel, domain: str) -> tuple[Person, str]:
    person = Person(panel)
    person.add_plan(domain=domain)
    wait_paid(person, person.pay_on_sandbox(person.checkout("card")))
    return person, SERVICE_LINK_RE.search(person.get("/services").text).group(1)


def hosting_state(person: Person, service_id: str) -> str:
    found = STATE_RE.search(person.get(f"/services/{service_id}").text)
    return found.group(1) if found else ""


def details(page: str) -> dict[str, str]:
    sftp = re.search(r'data-hosting="sftp">([^<]+):(\d+), [^<]*<code>([^<]+)</code>', page)
    database = re.search(r'data-hosting="database"><code>([^<]+)</code>, [^<]*<code>([^<]+)</code>', page)
    return {"sftp_port": sftp.group(2), "user": sftp.group(3), "database": database.group(1),
            "database_user": database.group(2)}  # fmt: skip


def set_password(person: Person, service_id: str, password: str, repeated: str | None = None) -> str:
    page = f"/services/{service_id}"
    return person.post(f"{page}/hosting/password", {"password": password, "password_repeat": repeated or password},
                       form_page=page).text  # fmt: skip


def test_a_paid_plan_is_a_site_with_sftp_and_a_database_suspended_restored_and_removed(panel, web):
    person, service_id = order_hosting(panel, "moja-strona.example.pl")
    wait_for(lambda: hosting_state(person, service_id) == "active", 30, "the hosting account created")
    page = person.get(f"/services/{service_id}").text
    found = details(page)
    assert found["sftp_port"] == str(panel.hosting_sftp_port) and found["database"] == f"{found['user']}_web"
    assert f"http://moja-strona.example.pl:{panel.hosting_http_port}/" in page and "Ustaw hasło" in page
    user = found["user"]
    welcome = mail_text(wait_for_mail(panel.var / "mail", person.email, "Hosting gotowy: moja-strona.example.pl"))
    assert user in welcome and found["database"] in welcome and f"/services/{service_id}#hosting-password" in welcome
    assert "hasł" in welcome.lower() and PASSWORD not in welcome  # a link to set it, never a password

    assert "Hasła się różnią." in set_password(person, service_id, PASSWORD, "inne-haslo-123")
    assert "od 10 do 128 znaków" in set_password(person, service_id, "krotkie")
    assert "Nowe hasło do SFTP i bazy danych jest ustawione." in set_password(person, service_id, PASSWORD)
    web.upload(user, PASSWORD, "index.html", "<h1>Strona Łucji</h1>".encode())
    assert web.page("moja-strona.example.pl").text == "<h1>Strona Łucji</h1>"
    with web.database(user, PASSWORD, found["database"]) as db, db.cursor() as cursor:
        cursor.execute("CREATE TABLE wpisy (id INT)")
    assert re.search(r"MB z 10\xa0?240 MB|MB z 10 240 MB", person.get(f"/services/{service_id}").text)

    advance_clock(panel, 20)  # within RENEWAL_DAYS of the due date: the renewal invoice
    run_billing_cycle(panel)
    advance_clock(panel, 20)  # unpaid, past the grace period: billing suspends the service
    run_billing_cycle(panel)
    person.log_in_again()
    wait_for(lambda: hosting_state(person, service_id) == "suspended", 30, "the hosting account suspended")
    suspended = web.page("moja-strona.example.pl")
    assert suspended.status_code == 503 and "Konto zawieszone" in suspended.text
    assert refused_sftp(web, user, PASSWORD) and refused_database(web, user, PASSWORD)

    paying = person.post("/invoices/pay-all", {"payment_method": "card"}, form_page="/invoices?status=unpaid",
                         allow_redirects=False)  # fmt: skip
    wait_paid(person, person.pay_on_sandbox(paying))
    wait_for(lambda: hosting_state(person, service_id) == "active", 30, "the hosting account restored")
    assert web.page("moja-strona.example.pl").text == "<h1>Strona Łucji</h1>"
    web.database(user, PASSWORD, found["database"]).close()

    person.post(f"/services/{service_id}/cancel", {"when": "immediate", "confirm": "on"},
                form_page=f"/services/{service_id}")  # fmt: skip
    wait_for(lambda: not linux_user_exists(user), 30, "the Linux user removed")
    assert web.page("moja-strona.example.pl").status_code == 404
    assert web.root_sql("SHOW DATABASES LIKE %s", found["database"]) == []
    assert web.root_sql("SELECT user FROM mysql.user WHERE user = %s", user) == []
    assert not (web.server.sites / user).exists()


def test_an_agent_down_while_the_account_is_created_delays_it_then_creates_one(panel, web):
    web.stop("web-agent")
    try:
        person, service_id = order_hosting(panel, "opozniona.example.pl")
        wait_for(lambda: hosting_state(person, service_id) == "delayed", 30, "the delay shown")
        assert "opóźnione — pracujemy nad tym" in person.get(f"/services/{service_id}").text
        staff = staff_session(panel)
        listed = f'data-hosting-failure="{service_id}"'
        wait_for(lambda: listed in staff_failures(panel, staff), 60, "the failing creation listed for staff")
        assert "hosting_server_unreachable" in staff_failures(panel, staff)
        assert person.get("/staff/hosting").status_code == 404  # the desk is for staff only
    finally:
        web.start("web-agent")
    wait_for(lambda: hosting_state(person, service_id) == "active", 60, "the account created after the agent is back")
    assert listed not in staff_failures(panel, staff)
    user = details(person.get(f"/services/{service_id}").text)["user"]
    assert web.root_sql("SELECT COUNT(*) FROM mysql.user WHERE user = %s", user) == [(1,)]
    assert len(list(web.server.sites.glob(f"{user}*"))) == 1
    set_password(person, service_id, PASSWORD)
    web.upload(user, PASSWORD, "index.html", b"po awarii agenta")
    assert web.page("opozniona.example.pl").text == "po awarii agenta"


def staff_session(panel) -> requests.Session:
    """A member of staff, made with the staff command and logged in on the shared login page."""
    email, browser = f"staff-{uuid.uuid4().hex[:8]}@panel.localhost", requests.Session()
    seed_staff_account(panel.gateway_url, email, STAFF_PASSWORD, panel.environment(), ROOT)
    page = browser.get(f"{panel.gateway_url}/login", timeout=30)
    browser.post(f"{panel.gateway_url}/login", data={"csrf_token": csrf(page.text), "email": email,
                                                      "password": STAFF_PASSWORD}, timeout=30)  # fmt: skip
    return browser


def staff_failures(panel, staff: requests.Session) -> str:
    page = staff.get(f"{panel.gateway_url}/staff/hosting", timeout=30)
    assert page.status_code == 200 and "Hosting: nieudane kroki" in page.text
    return page.text


def test_a_paid_upgrade_through_the_api_gives_the_account_the_new_limits_once(panel, web):
    person, service_id = order_hosting(panel, "rosnaca-firma.example.pl")
    wait_for(lambda: hosting_state(person, service_id) == "active", 30, "the hosting account created")
    user = details(person.get(f"/services/{service_id}").text)["user"]
    assert server_limits(web, user) == {"workers": "2", "memory": "128M", "upload": "32m", "connections": "10"}
    api = Api(panel.gateway_url, person.email, CUSTOMER_PASSWORD)

    up = api("POST", f"/services/{service_id}/plan", json={"plan": "hosting-pro"})
    assert up["invoice"]["status"] == "unpaid" and up["plan"] == "hosting-start"
    assert server_limits(web, user)["workers"] == "2"  # unpaid: nothing changes on the server
    with billing(panel) as cluster:
        cluster.billing.add_credit(api("GET", "/profile")["account_id"], up["invoice"]["total_gross"])
    api("POST", f"/invoices/{up['invoice']['invoice_id']}/pay", json={"payment_method": "credit"})
    pro = {"workers": "10", "memory": "512M", "upload": "512m", "connections": "100"}
    wait_for(lambda: server_limits(web, user) == pro, 30, "the pro plan's limits on the server")
    page = wait_for(
        lambda: (
            (text := person.get(f"/services/{service_id}").text)
            and 'data-hosting-plan="hosting-pro"' in text
            and "w toku" not in text
            and text
        ),
        30,
        "the new plan shown",
    )
    assert "Procesy PHP: 10, pamięć PHP: 512 MB" in page and re.search(r"MB z 204\xa0?800 MB|MB z 204 800 MB", page)

    # billing's event delivered again, and replayed under a new id: the hosting account's stream does not grow
    database = pymongo.MongoClient(panel.env["MONGO_URI"])
    hosting_events = database[f"{panel.env['DB_PREFIX']}hosting"]["event_commits"]
    recorded = hosting_events.count_documents({"stream_id": f"hosting-{service_id}"})
    [stored] = [e for commit in database[f"{panel.env['DB_PREFIX']}billing"]["event_commits"].find(
        {"events.type": "service_plan_changed"}) for e in commit["events"]
        if e["type"] == "service_plan_changed" and e["data"]["service_id"] == service_id]  # fmt: skip
    message = Event.from_message(stored).to_message()
    replay = {**message, "event_id": new_id()}
    dispatch = event_dispatcher({"AMQP_URI": panel.env["AMQP_URI"], "serializer": "json"})
    dispatch("billing", "service_plan_changed", message)
    dispatch("billing", "service_plan_changed", replay)
    marker = f"services.hosting.service.on_service_plan_changed:{replay['event_id']}"
    processed = database[f"{panel.env['DB_PREFIX']}hosting"]["processed_events"]
    wait_for(lambda: processed.count_documents({"_id": marker}), 30, "the replay handled")
    assert hosting_events.count_documents({"stream_id": f"hosting-{service_id}"}) == recorded
    assert server_limits(web, user) == pro

    down = api("POST", f"/services/{service_id}/plan", json={"plan": "hosting-start"})
    assert down["plan"] == "hosting-start" and down["invoice"] is None
    start = {"workers": "2", "memory": "128M", "upload": "32m", "connections": "10"}
    wait_for(lambda: server_limits(web, user) == start, 30, "the start plan's limits back on the server")


def test_the_demo_seed_of_make_up_has_hosting_accounts_whose_sites_answer(panel, web):
    """What `make up` seeds (tools.devstack.Stack.up): the demo's paid plans are accounts on the local server."""
    demo, staff = (devstack.DEMO_EMAIL, devstack.DEMO_PASSWORD), (devstack.STAFF_EMAIL, devstack.STAFF_PASSWORD)
    seed_demo_account(panel.gateway_url, panel.var / "mail", *demo)
    seed_staff_account(panel.gateway_url, *staff, panel.environment(), ROOT)
    seed_demo_content(panel.gateway_url, panel.var / "mail", demo, staff, panel.clock_file)
    services = Api(panel.gateway_url, *demo).items("/services")
    active = [s for s in services if s["status"] == "active"]  # the plan ordered by bank transfer is not paid
    assert sorted(s["plan"] for s in active) == ["hosting-pro", "hosting-start"]
    browser = Page(panel.gateway_url).login(*demo).session

    def page_of(service: dict) -> str:
        return browser.get(f"{panel.gateway_url}/services/{service['service_id']}", timeout=30).text

    for service in active:
        page = wait_for(lambda s=service: (text := page_of(s)) and 'data-hosting-state="active"' in text and text,
                        60, f"the demo's {service['plan']} account created")  # fmt: skip
        found = details(page)
        assert linux_user_exists(found["user"]) and found["database"] == f"{found['user']}_web"
        assert f"http://{service['domain']}:{panel.hosting_http_port}/" in page and "Ustaw hasło" in page
        assert f'data-hosting-plan="{service["plan"]}"' in page
        site = web.page(service["domain"])
        assert site.status_code == 200 and f"<h1>{service['domain']}</h1>" in site.text
        assert web.page(f"www.{service['domain']}").status_code == 200
