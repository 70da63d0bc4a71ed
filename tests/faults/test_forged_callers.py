"""Nobody on the broker is believed by what it says about itself (issue #13).

On the running stack (real RabbitMQ, real database): RPCs sent straight to the
services' queues with a missing, forged, expired or misdirected caller context,
or with a signed one that may not make the call, are refused before any work
and change nothing; and a command whose caller stopped waiting (the service was
frozen past the gateway's deadline) is not run when the service comes back.
"""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import requests
from itsdangerous import URLSafeSerializer
from nameko.exceptions import IncorrectSignature, RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from kernel import caller
from kernel.caller import SignedClusterRpcProxy
from kernel.errors import CommandError
from tests.e2e.helpers import bearer, register_verified, wait_for

STAFF_CTX = {"actor": {"type": "staff", "id": "forger"}}
HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}


def _customer(stack) -> tuple[str, str]:
    _, token = register_verified(stack.gateway_url, stack.var / "mail")
    account_id = requests.get(f"{stack.gateway_url}/api/v1/profile", headers=bearer(token), timeout=15).json()
    return token, account_id["account_id"]


def _raw_call(stack, service: str, method: str, *args, token: str | None = None, **kwargs):
    """A call the way anyone with broker credentials can send it: nameko's own proxy, any headers."""
    context = {"caller": token} if token else {}
    config = {"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}
    with ClusterRpcProxy(config, context_data=context, timeout=30) as cluster:
        return getattr(cluster[service], method)(*args, **kwargs)


def _credit(stack, account_id: str) -> int:
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, STAFF_CTX) as cluster:
        return cluster.billing.get_credit(account_id)["credit"]


def test_a_context_that_is_missing_forged_expired_or_for_another_method_is_refused(stack):
    _, account_id = _customer(stack)
    target = "billing.add_credit"
    forged = URLSafeSerializer("not-our-key", salt="panel.rpc-caller").dumps({"ctx": STAFF_CTX, "to": target,
                                                                                "exp": 2e9})  # fmt: skip
    cases = {
        "caller_unsigned": None,
        "caller_forged": forged,
        "caller_expired": caller.sign(STAFF_CTX, target, timeout=-1),
        "caller_wrong_target": caller.sign(STAFF_CTX, "billing.get_credit", timeout=30),
    }
    for code, token in cases.items():
        with pytest.raises(CommandError) as refused:
            # the old way of claiming staff: a ctx argument saying so
            _raw_call(stack, "billing", "add_credit", account_id, 10_000, token=token, ctx=STAFF_CTX)
        assert refused.value.code == code
    assert _credit(stack, account_id) == 0
    # the same call signed for what it is goes through: the refusals above were the context's
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, STAFF_CTX) as cluster:
        cluster.billing.add_credit(account_id, 10_000)
    assert _credit(stack, account_id) == 10_000


def test_a_signed_customer_may_not_act_as_staff_nor_on_another_account(stack):
    token, account_id = _customer(stack)
    _, other_id = _customer(stack)
    me = {"actor": {"type": "customer", "id": account_id}}
    config = {"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}
    with SignedClusterRpcProxy(config, me) as cluster:
        for call in (
            lambda: cluster.billing.add_credit(account_id, 10_000),
            lambda: cluster.billing.refund_invoice("any"),
            lambda: cluster.support.staff_queue(),
            lambda: cluster.accounts.find_customers("example"),
            lambda: cluster.billing.list_invoices(other_id),
            lambda: cluster.support.list_tickets(other_id),
            lambda: cluster.accounts.get_profile(other_id),
        ):
            with pytest.raises(CommandError) as refused:
                call()
            assert refused.value.code == "caller_not_allowed"
        # the old `staff=True` switch of attachments is no argument any more
        with pytest.raises((IncorrectSignature, RemoteError)):
            cluster.support.get_attachment(None, "ticket", "attachment", staff=True)
        assert cluster.billing.list_invoices(account_id)["total"] == 0  # its own account: allowed
    assert _credit(stack, account_id) == 0


def test_arguments_of_the_wrong_type_are_refused_by_the_service_naming_them(stack):
    _, account_id = _customer(stack)
    me = {"actor": {"type": "customer", "id": account_id}}
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, me) as cluster:
        for kwargs, field in (({"page": "2"}, "page"), ({"page": 2**70}, "page"), ({"status": "\ud800"}, "status"),
                              ({"status": ["paid"]}, "status")):  # fmt: skip
            with pytest.raises(CommandError) as refused:
                cluster.billing.list_invoices(account_id, **kwargs)
            assert refused.value.code == "invalid_input" and field in refused.value.fields


def _freeze(stack, service: str) -> int:
    pid = stack.pid(service)
    os.killpg(pid, signal.SIGSTOP)
    return pid


def test_a_command_the_caller_gave_up_on_is_not_run_when_the_service_comes_back(stack):
    """Billing frozen during checkouts: the gateway answers 503 after its deadline; once billing runs
    again, none of those checkouts becomes an order (without the deadline, the request waited in the
    durable queue and was applied after the customer had been told it failed)."""
    token, account_id = _customer(stack)
    api = requests.Session()
    api.headers.update(bearer(token))
    base = f"{stack.gateway_url}/api/v1"
    assert api.post(f"{base}/cart/items", json=HOSTING, timeout=30).status_code == 201
    pid = _freeze(stack, "billing")
    try:
        answers = [
            api.post(
                f"{base}/cart/checkout",
                json={"payment_method": "bank_transfer"},
                timeout=60,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ).status_code  # fmt: skip
            for _ in range(2)
        ]
    finally:
        os.killpg(pid, signal.SIGCONT)
    assert answers == [503, 503]
    # billing answers again, and it has read its queue in order: the abandoned checkouts are behind it
    wait_for(lambda: api.get(f"{base}/cart/items", timeout=15).status_code == 200, timeout=30, what="billing back")
    wait_for(lambda: _billing_log_mentions(stack, "caller_expired") or _queue_empty(stack), timeout=30,
             what="the abandoned checkouts handled")  # fmt: skip
    assert api.get(f"{base}/invoices", timeout=15).json()["total"] == 0
    assert len(api.get(f"{base}/cart/items", timeout=15).json()["items"]) == 1  # the cart is still there to retry


def _billing_log_mentions(stack, text: str) -> bool:
    return text in (stack.log_dir / "billing.log").read_text(errors="replace")


def _queue_empty(stack) -> bool:
    from tests.conftest import RABBIT_API

    vhost = stack.env["AMQP_URI"].rsplit("/", 1)[1]
    queue = requests.get(f"{RABBIT_API}/queues/{vhost}/rpc-billing", auth=("guest", "guest"), timeout=10).json()
    return queue.get("messages", 1) == 0
