"""Who is calling: a signed caller context on every RPC, checked before any work.

Nobody on the broker is trusted by what it says about itself. The gateway (for
a logged-in person), the staff command line and a service acting for the
system sign the caller context of each call with a key from
`RPC_SIGNING_KEYS`; the token names the one method it is for and a deadline
(the caller's own), so it cannot be moved to another method and a command the
caller stopped waiting for is not run later. The AMQP message carries the same
deadline as its expiration, so the broker drops it first.

Service side, `rpc` (used instead of nameko's) refuses a call before spawning a
worker when the context is missing, forged, expired or for another method;
when the method is limited to some actors (`@rpc(actors=STAFF)`) and the
caller is not one; when a customer or contact names an `account_id` that is not
their own; and when an argument does not match the method's type hints (checked
with pydantic, strictly: a string where an int is expected is refused, not
converted), is a string that is not valid Unicode, or an int that does not fit
64 bits. The method's `ctx` parameter, if it has one, receives the verified
context: what a caller passes there is ignored.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from nameko.exceptions import ContainerBeingKilled, IncorrectSignature, MalformedRequest
from nameko.rpc import MethodProxy, RpcProxy
from nameko.rpc import Rpc as NamekoRpc
from nameko.standalone.rpc import ClusterRpcProxy
from pydantic import ConfigDict, ValidationError, create_model

from kernel.errors import CommandError, Conflict, Expired, Forbidden, Invalid
from kernel.queues import TransientReplyListener, applied_before, redelivered, type_rpc_queue

log = logging.getLogger(__name__)

CALLER_HEADER = "caller"  # travels as the AMQP header `nameko.caller`
STAFF = ("staff",)
OPERATOR = ("operator",)  # the operator's own command line (`make staff`)
STAFF_OR_SYSTEM = ("staff", "system")
SYSTEM = ("system",)
# Callers acting for one account: their `account_id` arguments must name it.
ACCOUNT_BOUND = ("customer", "contact", "anonymous")
INT64 = (-(2**63), 2**63 - 1)


def CallerRefused(code: str, meaning: type[CommandError] = Forbidden) -> CommandError:  # noqa: N802 (raised like a class)
    """A call refused before any work: no valid signed context, or not this caller's to make."""
    return meaning(code)


# --- keys and tokens ---------------------------------------------------------
def signing_keys() -> list[str]:
    """RPC_SIGNING_KEYS: comma-separated; the first signs, every one verifies (two during a rotation)."""
    keys = [key.strip() for key in os.environ.get("RPC_SIGNING_KEYS", "").split(",") if key.strip()]
    if not keys:
        raise RuntimeError("RPC_SIGNING_KEYS is not set: every RPC's caller context is signed with it")
    return keys


@functools.lru_cache(maxsize=8)
def _serializer(keys: tuple[str, ...]) -> URLSafeSerializer:
    # itsdangerous signs with the LAST key of the list and verifies with all of them
    return URLSafeSerializer(list(reversed(keys)), salt="panel.rpc-caller")


def sign(ctx: dict[str, Any], target: str, timeout: float) -> str:
    """A token for one call of `target` ("service.method") by `ctx`, valid `timeout` seconds."""
    payload = {"ctx": ctx, "to": target, "exp": time.time() + timeout}
    return _serializer(tuple(signing_keys())).dumps(payload)


def verify(token: Any, target: str) -> dict[str, Any]:
    """The caller context of a token made for `target`; CallerRefused when it is not one."""
    if not isinstance(token, str) or not token:
        raise CallerRefused("caller_unsigned")
    try:
        payload = _serializer(tuple(signing_keys())).loads(token)
    except BadSignature:
        raise CallerRefused("caller_forged") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("ctx"), dict):
        raise CallerRefused("caller_forged")
    if payload.get("to") != target:
        raise CallerRefused("caller_wrong_target")
    if not isinstance(payload.get("exp"), int | float) or payload["exp"] < time.time():
        raise CallerRefused("caller_expired", Expired)
    return payload["ctx"]


def system_ctx(name: str, **extra: Any) -> dict[str, Any]:
    return {"actor": {"type": "system", "id": name}, "correlation_id": str(uuid.uuid4()), **extra}


# --- the calling side ----------------------------------------------------------
class SignedMethodProxy(MethodProxy):
    """One call to `service.method`, carrying `ctx` signed for it and expiring after `timeout`."""

    def __init__(self, worker_ctx, service_name: str, method_name: str, reply_listener, ctx: dict[str, Any],
                 timeout: float, **options: Any):  # fmt: skip
        super().__init__(worker_ctx, service_name, method_name, reply_listener, expiration=timeout, **options)
        self.caller_ctx, self.timeout = ctx, timeout

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        # a `ctx` given to the call itself (by a holder of the key: tools, tests) is the one signed
        self.caller_ctx = kwargs.pop("ctx", None) or self.caller_ctx
        return super()._call(*args, **kwargs)

    def get_message_headers(self, worker_ctx) -> dict[str, Any]:
        headers = super().get_message_headers(worker_ctx)
        target = f"{self.service_name}.{self.method_name}"
        headers[self._get_header_name(CALLER_HEADER)] = sign(self.caller_ctx, target, self.timeout)
        return headers


class SignedServiceProxy:
    def __init__(self, worker_ctx, service_name: str, reply_listener, ctx: Callable[[], dict], timeout: float):
        self._worker_ctx, self._service_name, self._reply_listener = worker_ctx, service_name, reply_listener
        self._ctx, self._timeout = ctx, timeout

    def __getattr__(self, method: str) -> SignedMethodProxy:
        return SignedMethodProxy(self._worker_ctx, self._service_name, method, self._reply_listener,
                                 self._ctx(), self._timeout)  # fmt: skip


class ServiceRpc(RpcProxy):
    """A service's RpcProxy to another service: its calls are signed as the system acting for this service."""

    rpc_reply_listener = TransientReplyListener()

    def __init__(self, target_service: str, timeout: float = 30, **options: Any):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx) -> SignedServiceProxy:
        service = self.container.service_name
        correlation = (worker_ctx.data.get("correlation_id") if worker_ctx.data else None) or str(uuid.uuid4())
        return SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                  lambda: {**system_ctx(service), "correlation_id": correlation}, self.timeout)  # fmt: skip


class SignedClusterRpcProxy(ClusterRpcProxy):
    """A standalone proxy (gateway, staff command, tools, tests) whose calls are signed."""

    def __init__(self, config: dict[str, Any], ctx: Callable[[], dict] | dict[str, Any] | None = None,
                 timeout: float = 30, **kwargs: Any):  # fmt: skip
        super().__init__(config, timeout=timeout, **kwargs)
        self.timeout = timeout
        ctx = ctx or {"actor": {"type": "system", "id": "ops"}}
        self._ctx = ctx if callable(ctx) else (lambda: {"correlation_id": str(uuid.uuid4()), **ctx})
        self._proxy = _SignedCluster(self)

    def call_async(self, service: str, method: str, ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Send `service.method(*args, **kwargs)` as `ctx`; returns nameko's RpcReply."""
        proxy = SignedMethodProxy(self._worker_ctx, service, method, self._reply_listener, ctx, self.timeout)
        return proxy.call_async(*args, **kwargs)


class _SignedCluster:
    def __init__(self, runner: SignedClusterRpcProxy):
        self._runner = runner

    def __getattr__(self, service: str) -> SignedServiceProxy:
        runner = self._runner
        return SignedServiceProxy(runner._worker_ctx, service, runner._reply_listener, runner._ctx, runner.timeout)

    def __getitem__(self, service: str) -> SignedServiceProxy:
        return getattr(self, service)


@contextmanager
def rpc_proxy(amqp_uri: str, actor: dict[str, Any] | None = None, timeout: float = 30,
              **ctx: Any) -> Iterator[_SignedCluster]:  # fmt: skip
    """`with rpc_proxy(uri, actor={"type": "staff", "id": ...}) as cluster: cluster.billing.m(...)`.

    For the staff command, tools and tests; `actor=None` acts as the system."""
    base = {"actor": actor or {"type": "system", "id": "ops"}, **ctx}
    runner = SignedClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, base, timeout)
    with runner as cluster:
        yield cluster


# --- the receiving side ----------------------------------------------------------
class Rpc(NamekoRpc):
    """nameko's `@rpc`, refusing a call whose signed caller context does not allow it (see module doc).

    `@rpc` admits any signed caller; `@rpc(actors=STAFF)` only those actor types."""

    def __init__(self, actors: tuple[str, ...] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.actors = actors

    def setup(self) -> None:
        super().setup()
        type_rpc_queue(self.rpc_consumer)  # quorum or classic (kernel.queues)

    def handle_message(self, body: Any, message: Any) -> None:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("args"), list)
            or not isinstance(body.get("kwargs"), dict)
        ):
            raise MalformedRequest("Message missing `args` or `kwargs`")
        context_data = self.unpack_message_headers(message)
        target = f"{self.container.service_name}.{self.method_name}"
        try:
            ctx = verify(context_data.pop(CALLER_HEADER, None), target)
        except CommandError as refused:
            log.warning("refused %s: %s", target, refused.code)
            raise
        arguments = admit(self.container.service_cls, self.method_name, ctx, body["args"], body["kwargs"])
        context_data["correlation_id"] = ctx.get("correlation_id")
        context_data["call_id"] = call_id = message.properties.get("correlation_id")
        if redelivered(message) and applied_before(self.container.service_name, call_id):
            log.warning("refused %s: delivered again after it was applied (its ack was lost with the broker)", target)
            raise Conflict("already_applied")
        handle_result = functools.partial(self.handle_result, message)
        try:
            self.container.spawn_worker(self, (), arguments, context_data=context_data, handle_result=handle_result)
        except ContainerBeingKilled:  # let another instance take it
            self.rpc_consumer.requeue_message(message)


rpc = Rpc.decorator


def admit(service_cls: type, method: str, ctx: dict[str, Any], args: list, kwargs: dict) -> dict[str, Any]:
    """The call's arguments by name, once `ctx` (verified) may make it and they match the method's types.

    What the entrypoint checks before a worker runs; callable alone, so unit tests check the rules too."""
    actor = ctx.get("actor") if isinstance(ctx.get("actor"), dict) else {}
    actors = next((e.actors for e in getattr(getattr(service_cls, method), "nameko_entrypoints", ())
                   if isinstance(e, Rpc)), None)  # fmt: skip
    if actors is not None and actor.get("type") not in actors:
        log.warning("refused %s.%s to a %s actor", service_cls.__name__, method, actor.get("type"))
        raise CallerRefused("caller_not_allowed")
    signature = _signature(service_cls, method)
    kwargs = {k: v for k, v in kwargs.items() if k != "ctx"}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise IncorrectSignature(str(exc)) from None
    arguments = dict(bound.arguments)
    _check_account(actor, arguments)
    _check_values(service_cls, method, arguments)
    if "ctx" in signature.parameters:
        arguments["ctx"] = ctx
    return arguments


def _check_account(actor: dict[str, Any], arguments: dict[str, Any]) -> None:
    if actor.get("type") not in ACCOUNT_BOUND or "account_id" not in arguments:
        return
    own = {"customer": actor.get("id"), "contact": actor.get("account_id")}.get(actor.get("type"))
    if arguments["account_id"] != own or own is None:
        log.warning("refused a %s acting on another account", actor.get("type"))
        raise CallerRefused("caller_not_allowed")


@functools.lru_cache(maxsize=512)
def _signature(service_cls: type, method: str) -> inspect.Signature:
    signature = inspect.signature(getattr(service_cls, method))
    return signature.replace(parameters=[p for n, p in signature.parameters.items() if n != "self"])


@functools.lru_cache(maxsize=512)
def _arguments_model(service_cls: type, method: str) -> Any:
    """A strict pydantic model of the method's parameters (hints resolved from their module)."""
    function = getattr(service_cls, method)
    hints = typing.get_type_hints(function)
    fields = {}
    for name, parameter in _signature(service_cls, method).parameters.items():
        if name == "ctx" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(strict=True, arbitrary_types_allowed=True)
    return create_model(f"{service_cls.__name__}.{method}", __config__=config, **fields)


def _check_values(service_cls: type, method: str, arguments: dict[str, Any]) -> None:
    problems: dict[str, str] = {}
    for name, value in arguments.items():
        reason = _bad_value(value)
        if reason:
            problems[name] = reason
    if not problems:
        try:
            _arguments_model(service_cls, method).model_validate(arguments)
        except ValidationError as exc:
            for error in exc.errors():
                problems.setdefault(str(error["loc"][0]) if error["loc"] else "_", "invalid_type")
    if problems:
        raise Invalid("invalid_input", problems)


def _bad_value(value: Any, depth: int = 0) -> str | None:
    """Why a JSON value cannot be taken as it is (lone surrogates, ints beyond 64 bits, absurd nesting)."""
    if depth > 32:
        return "too_deep"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "invalid_unicode"
        return None
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else "out_of_range"
    if isinstance(value, dict):
        items = list(value.keys()) + list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    return next((reason for item in items if (reason := _bad_value(item, depth + 1))), None)
