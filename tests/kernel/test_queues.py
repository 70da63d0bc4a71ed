"""kernel.queues without a broker: queue arguments by type, which queues take them, several nodes in AMQP_URI."""

from __future__ import annotations

import types

import pytest
from kombu import Exchange, Queue

from kernel import queues


def test_classic_by_default_and_quorum_with_a_delivery_limit(monkeypatch):
    monkeypatch.delenv("AMQP_QUEUE_TYPE", raising=False)
    assert queues.queue_arguments() == {}
    monkeypatch.setenv("AMQP_QUEUE_TYPE", "quorum")
    assert queues.queue_arguments() == {"x-queue-type": "quorum", "x-delivery-limit": queues.DEFAULT_DELIVERY_LIMIT}
    monkeypatch.setenv("AMQP_DELIVERY_LIMIT", "9")
    assert queues.queue_arguments()["x-delivery-limit"] == 9


@pytest.mark.parametrize(("name", "value"), [("AMQP_QUEUE_TYPE", "stream"), ("AMQP_DELIVERY_LIMIT", "0")])
def test_a_wrong_setting_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv("AMQP_QUEUE_TYPE", "quorum")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        queues.queue_arguments()


def test_only_durable_shared_kept_queues_change_type(monkeypatch):
    monkeypatch.setenv("AMQP_QUEUE_TYPE", "quorum")
    exchange = Exchange("nameko-rpc", type="topic")
    request = queues.typed(Queue("rpc-billing", exchange, durable=True))
    reply = queues.typed(Queue("rpc.reply-x", exchange, durable=True, queue_arguments={"x-expires": 300000},
                               auto_delete=True))  # fmt: skip
    exclusive = queues.typed(Queue("live", exchange, durable=False, exclusive=True))
    assert request.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": 5}
    assert reply.queue_arguments == {"x-expires": 300000}
    assert not exclusive.queue_arguments


def test_delivery_count_read_from_the_header():
    assert queues.delivery_count(types.SimpleNamespace(headers={"x-delivery-count": 3})) == 3
    assert queues.delivery_count(types.SimpleNamespace(headers={})) == 0
    assert queues.delivery_count(types.SimpleNamespace(headers=None)) == 0
    assert queues.delivery_count(types.SimpleNamespace(headers={"x-delivery-count": "x"})) == 0


def test_several_nodes_in_one_uri_each_get_the_user():
    uri = "pyamqp://guest:guest@10.0.0.1:5672/vh;pyamqp://guest:guest@10.0.0.2:5673/vh"
    assert queues.broker_urls(uri) == ["pyamqp://guest:guest@10.0.0.1:5672/vh", "pyamqp://guest:guest@10.0.0.2:5673/vh"]
    assert queues.with_user(uri, "panel-billing", "p@ss") == (
        "pyamqp://panel-billing:p%40ss@10.0.0.1:5672/vh;pyamqp://panel-billing:p%40ss@10.0.0.2:5673/vh"
    )
    assert queues.with_user("amqp://a:b@h/", "u", "p") == "amqp://u:p@h:5672/"


def test_every_service_queue_gets_the_type(monkeypatch):
    """The hooks are in place: the services' RPC consumer and event handlers are the typed ones."""
    from kernel.broker_users import service_class
    from kernel.caller import Rpc, ServiceRpc
    from kernel.settings import SERVICES

    assert Rpc.setup is not Rpc.__mro__[1].setup  # the request queue is typed in Rpc.setup
    assert isinstance(ServiceRpc.rpc_reply_listener, queues.TransientReplyListener)
    handlers = [
        entrypoint
        for service in SERVICES
        for value in vars(service_class(service)).values()
        for entrypoint in getattr(value, "nameko_entrypoints", ())
        if type(entrypoint).__name__.endswith("EventHandler")
    ]
    assert handlers and all(isinstance(h, queues.GuardedEventHandler) for h in handlers)


def test_a_redelivered_call_is_known_applied_by_the_call_id_its_events_carry(mongo_alias):
    """The guard against a command run twice when its ack was lost with a broker node: the worker's
    events carry the request's correlation id, and a redelivered request finds them."""
    from kernel.dependencies import EventsApi
    from kernel.events import NewEvent
    from kernel.eventstore import EventStore

    mongo_alias("guarded")
    api = EventsApi("guarded", EventStore("guarded"), [], lambda *a: None, private_fields={}, call_id="call-1")
    api.checks_contracts = False
    api.append("thing-1", 0, [NewEvent("thing_happened", {"n": 1})], {"correlation_id": "c"})
    assert queues.applied_before("guarded", "call-1")
    assert not queues.applied_before("guarded", "call-2") and not queues.applied_before("guarded", None)
    assert queues.redelivered(types.SimpleNamespace(delivery_info={"redelivered": True}, headers={}))
    assert queues.redelivered(types.SimpleNamespace(delivery_info={}, headers={"x-delivery-count": 1}))
    assert not queues.redelivered(types.SimpleNamespace(delivery_info={"redelivered": False}, headers={}))
