"""Faults under load, on the fault tests' own RabbitMQ node and nx-27017 (see conftest.py).

- a service killed with -9 while orders come in: every acknowledged order is there once;
- RabbitMQ restarted while tickets are opened: services and gateway reconnect by themselves
  and every acknowledged ticket is kept and published;
- the MongoDB server restarted: requests fail with a clear 503 JSON error meanwhile, nothing
  half-written, and the system answers again afterwards.
Tests never assert timing; they wait for conditions with a bound.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pymongo
import requests

from tests.e2e.helpers import bearer, register_verified, wait_for

HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}


@dataclass
class Load:
    """`clients` threads sending `command(client_index)` until stopped; every answer recorded."""

    command: Callable[[int], requests.Response | None]
    clients: int
    answers: list[tuple[int, int, dict]] = field(default_factory=list)  # (client, status, body)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def _run(self, client: int) -> None:
        while not self.stop.is_set():
            try:
                response = self.command(client)
            except requests.RequestException:
                continue  # no answer at all (connection refused or cut): not acknowledged
            if response is not None:
                self.answers.append((client, response.status_code, _json(response)))

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def accepted(self, status: int) -> list[dict]:
        return [body for _, code, body in self.answers if code == status]

    def count(self, status: int) -> int:
        return sum(1 for _, code, _ in self.answers if code == status)


def _json(response: requests.Response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"raw": response.text[:300]}


def _customers(stack, n: int) -> list[str]:
    return [register_verified(stack.gateway_url, stack.var / "mail")[1] for _ in range(n)]


def _db(stack, service: str):
    return pymongo.MongoClient(stack.env["MONGO_URI"], serverSelectionTimeoutMS=5000)[f"faults_{service}"]


def _all_published(stack, service: str) -> bool:
    return _db(stack, service)["event_commits"].count_documents({"published_at": None}) == 0


def _healthy(stack) -> bool:
    health = stack.health()
    return bool(health) and health.get("status") == "up"


def _only_clean_answers(load: Load, ok: int) -> None:
    """Every answer is the success or a clear 503 error in the API's shape; never a 500."""
    for _, status, body in load.answers:
        assert status in (ok, 503), (status, body)
        if status == 503:
            assert body["error"]["code"] == "service_unavailable" and body["error"]["message"], body


# --- kill -9 under load -----------------------------------------------------
def test_billing_killed_while_orders_come_in_keeps_every_order_once(fault_stack):
    stack, base = fault_stack, f"{fault_stack.gateway_url}/api/v1"
    tokens = _customers(stack, 3)
    orders_each = 5
    done: dict[int, list[dict]] = {i: [] for i in range(len(tokens))}
    keys = {i: [f"order-{uuid.uuid4().hex}" for _ in range(orders_each)] for i in range(len(tokens))}

    def order(client: int) -> requests.Response | None:
        """One idempotent order, as a careful client retries it: the same key until it is answered."""
        if len(done[client]) == orders_each:
            return None
        headers = bearer(tokens[client])
        cart = requests.get(f"{base}/cart/items", headers=headers, timeout=30)
        if cart.status_code == 200 and not cart.json()["items"]:
            requests.post(f"{base}/cart/items", headers=headers, json=HOSTING, timeout=30)
        key = keys[client][len(done[client])]
        placed = requests.post(f"{base}/cart/checkout", json={"payment_method": "bank_transfer"}, timeout=30,
                               headers={**headers, "Idempotency-Key": key})  # fmt: skip
        if placed.status_code == 200:
            done[client].append(placed.json())
        return placed

    with Load(order, len(tokens)) as load:
        wait_for(lambda: sum(map(len, done.values())) >= 3, timeout=120, what="the first orders")
        os.killpg(stack.pid("billing"), 9)
        (stack.run_dir / "billing.pid").unlink(missing_ok=True)
        stack.start_process("billing", stack.service_argv("billing"))
        wait_for(lambda: all(len(d) == orders_each for d in done.values()), timeout=240, what="every order")
    assert load.count(200) == orders_each * len(tokens)
    numbers = []
    for client, token in enumerate(tokens):
        listed = requests.get(f"{base}/invoices", params={"per_page": 100}, headers=bearer(token), timeout=30).json()
        assert listed["total"] == orders_each  # one invoice per acknowledged order, none twice
        assert {i["invoice_id"] for i in listed["items"]} == {o["invoice_id"] for o in done[client]}
        numbers += [i["number"] for i in listed["items"]]
    assert len(set(numbers)) == len(numbers) == orders_each * len(tokens)
    wait_for(lambda: _all_published(stack, "billing"), timeout=60, what="billing's outbox to empty")


# --- RabbitMQ restarted under load ------------------------------------------
def _open_ticket(stack, tokens: list[str]) -> Callable[[int], requests.Response]:
    def command(client: int) -> requests.Response:
        body = {"department": "technical", "priority": "low", "subject": f"Awaria {uuid.uuid4().hex[:6]}",
                "message": "Proszę o sprawdzenie."}  # fmt: skip
        return requests.post(f"{stack.gateway_url}/api/v1/tickets", json=body, headers=bearer(tokens[client]),
                             timeout=30)  # fmt: skip

    return command


def _listed_tickets(stack, tokens: list[str]) -> dict[str, dict]:
    listed = {}
    for token in tokens:
        page = requests.get(f"{stack.gateway_url}/api/v1/tickets", params={"per_page": 100, "status": "all"},
                            headers=bearer(token), timeout=30).json()  # fmt: skip
        listed.update({t["ticket_id"]: t for t in page["items"]})
    return listed


def test_rabbitmq_restarted_under_load_loses_nothing_acknowledged(fault_stack):
    stack = fault_stack
    tokens = _customers(stack, 3)
    with Load(_open_ticket(stack, tokens), len(tokens)) as load:
        wait_for(lambda: load.count(201) >= 3, timeout=60, what="tickets before the restart")
        stack.rabbit.stop()
        before_restart = load.count(201)
        stack.rabbit.start()
        wait_for(lambda: _healthy(stack), timeout=120, what="every service to reconnect")
        wait_for(lambda: load.count(201) >= before_restart + 6, timeout=120, what="tickets after the restart")
    _only_clean_answers(load, 201)
    accepted = {t["ticket_id"] for t in load.accepted(201)}
    assert accepted <= set(_listed_tickets(stack, tokens))
    wait_for(lambda: _all_published(stack, "support"), timeout=60, what="support's outbox to empty")


# --- MongoDB restarted under load -------------------------------------------
def test_mongodb_down_gives_clear_503s_and_nothing_half_written(fault_stack):
    stack = fault_stack
    tokens = _customers(stack, 2)
    with Load(_open_ticket(stack, tokens), len(tokens)) as load:
        wait_for(lambda: load.count(201) >= 2, timeout=60, what="tickets before the database stops")
        stack.mongo.stop()
        wait_for(lambda: load.count(503) >= 3, timeout=90, what="requests answered while the database is down")
        stack.mongo.start()
        wait_for(lambda: _healthy(stack), timeout=120, what="the services to reach the database again")
        after = load.count(201)
        wait_for(lambda: load.count(201) >= after + 4, timeout=120, what="tickets after the restart")
    _only_clean_answers(load, 201)
    listed = _listed_tickets(stack, tokens)
    accepted = {t["ticket_id"] for t in load.accepted(201)}
    assert accepted <= set(listed)
    for ticket_id in listed:  # every stored ticket is whole: it opens, with its first message
        detail = requests.get(f"{stack.gateway_url}/api/v1/tickets/{ticket_id}", headers=bearer(tokens[0]), timeout=30)
        if detail.status_code == 404:
            detail = requests.get(f"{stack.gateway_url}/api/v1/tickets/{ticket_id}", headers=bearer(tokens[1]),
                                  timeout=30)  # fmt: skip
        assert detail.status_code == 200 and detail.json()["messages"], detail.text
    wait_for(lambda: _all_published(stack, "support"), timeout=60, what="support's outbox to empty")
