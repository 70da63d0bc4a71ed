"""Each process has its own broker user with only the rights its code needs (issue #13).

Against the running stack's RabbitMQ: the notifications service's credentials cannot send
a request to billing's RPC methods, consume billing's RPC queue or publish on billing's
events exchange, while what notifications really does (publish its own events, reply to a
caller) is allowed; and every service and the gateway are connected as their own user.
"""

from __future__ import annotations

import json
import uuid

import pika
import pytest
import requests
from pika.exceptions import ChannelClosedByBroker

from kernel.broker_users import USERS
from tests.conftest import RABBIT_API
from tests.e2e.helpers import wait_for


def _connection(stack, user: str) -> pika.BlockingConnection:
    name = stack.broker_user_name(user)
    password = json.loads((stack.var / "broker_users.json").read_text())[name]
    vhost = stack.env["AMQP_URI"].rsplit("/", 1)[1]
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, vhost,
                                                             pika.PlainCredentials(name, password)))  # fmt: skip


def _publish(stack, user: str, exchange: str, routing_key: str) -> None:
    """Publish one confirmed message as `user`; ChannelClosedByBroker (403) when refused."""
    connection = _connection(stack, user)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, b'{"args": [], "kwargs": {}}')
    finally:
        if connection.is_open:
            connection.close()


def _refused(action) -> int:
    with pytest.raises(ChannelClosedByBroker) as closed:
        action()
    return closed.value.reply_code


def test_the_notifications_user_cannot_call_billing_nor_publish_its_events(stack):
    assert _refused(lambda: _publish(stack, "notifications", "nameko-rpc", "billing.add_credit")) == 403
    assert _refused(lambda: _publish(stack, "notifications", "billing.events", "invoice_paid")) == 403

    def consume_billings_requests():
        connection = _connection(stack, "notifications")
        try:
            connection.channel().basic_get("rpc-billing")
        finally:
            if connection.is_open:
                connection.close()

    assert _refused(consume_billings_requests) == 403
    # what notifications does itself is allowed: its own events, replies to a caller's reply queue
    _publish(stack, "notifications", "notifications.events", "mail_sent_probe")
    _publish(stack, "notifications", "nameko-rpc", str(uuid.uuid4()))
    # and billing's own user may publish billing's events: the refusals above are the user's, not the names'
    _publish(stack, "billing", "billing.events", "probe_only")


def test_every_process_is_connected_as_its_own_user_never_the_operators(stack):
    vhost = stack.env["AMQP_URI"].rsplit("/", 1)[1]
    expected = {stack.broker_user_name(user) for user in USERS}

    def connected_users() -> set[str] | None:  # the management API lists connections a few seconds late
        answer = requests.get(f"{RABBIT_API}/vhosts/{vhost}/connections", auth=("guest", "guest"), timeout=10)
        users = {connection["user"] for connection in answer.json()}
        return users if expected <= users else None

    wait_for(connected_users, timeout=30, what="every service and the gateway connected as its own user")
    rights = requests.get(f"{RABBIT_API}/users/{stack.broker_user_name('notifications')}/permissions",
                          auth=("guest", "guest"), timeout=10).json()  # fmt: skip
    assert [r["write"] for r in rights if r["vhost"] == vhost] != [".*"]
