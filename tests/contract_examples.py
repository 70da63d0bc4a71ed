"""Valid event data built from the contracts (kernel.contracts), for tests.

`example` fills every field, optional ones too (the round trip of each contract). `event_data` is
for a test that fabricates a message a service would receive: it gives what the test is about and
the rest is filled with neutral values (None where allowed, empty lists, False); nested shapes
given in part (an invoice line with only its kind and gross) are completed the same way. Whatever
comes out is checked by the contract, so a key the event does not have is still refused.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from kernel.contracts import registry
from kernel.contracts.base import Contract, ContractError

MOMENT = "2026-11-02T10:00:00"
_SCALARS = {str: "tekst-1", int: 7}


def _parts(annotation: Any) -> tuple[Any, tuple[Any, ...], tuple[Any, ...]]:
    """(origin, args, Annotated metadata) of a type, looking through Annotated."""
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        origin, inner, _ = _parts(args[0])
        return origin, inner, args[1:]
    return get_origin(annotation), get_args(annotation), ()


def _value(annotation: Any, metadata: tuple[Any, ...], full: bool, given: Any = ...) -> Any:
    origin, args, more = _parts(annotation)
    metadata = (*metadata, *more)
    if origin in (Union, types.UnionType):
        chosen = [a for a in args if a is not type(None)]
        if given is ... and type(None) in args and (not full or not chosen):
            return None
        return _value(chosen[0], metadata, full, given)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if given is ...:
            return _fields(annotation, full, {})
        return _fields(annotation, full, given) if isinstance(given, dict) else given
    if origin is list and given is not ...:
        return [_value(args[0], (), full, item) for item in given] if isinstance(given, list) else given
    if given is not ...:
        return given
    if any(getattr(getattr(m, "func", None), "__name__", "") == "_iso" for m in metadata):
        return MOMENT
    if any(getattr(m, "pattern", None) for m in metadata):  # a currency code
        return "PLN"
    if origin is Literal:
        return args[0]
    if origin is list:
        return [_value(args[0], (), full)] if full else []
    if origin is dict:
        return {_value(args[0], (), full): _value(args[1], (), full)} if full else {}
    if annotation is bool:
        return full
    if annotation is None or annotation is type(None):
        return None
    return _SCALARS.get(annotation, "wartość")


def _fields(model: type[BaseModel], full: bool, given: dict[str, Any]) -> dict[str, Any]:
    """Every required field (and with `full` every optional one), `given` laid over them."""
    out = {}
    for name, field in model.model_fields.items():
        if name in given or full or field.is_required():
            out[name] = _value(field.annotation, tuple(field.metadata), full, given.get(name, ...))
    return {**given, **out}


def example(source: str, event_type: str, **overrides: Any) -> Contract:
    """The contract's example with every field filled (checked), `overrides` laid over it."""
    return registry.check(source, event_type, _fields(registry.contract(source, event_type), True, overrides))


def event_data(event_type: str, **given: Any) -> dict[str, Any]:
    """Data of a real-looking event as published (no private fields): `given`, the rest neutral;
    refused (ContractError) when it cannot be real. Event types are unique across services."""
    [source] = [s for s, t in registry.CONTRACTS if t == event_type] or [None]
    if source is None:
        raise ContractError(f"no service declares {event_type!r}")
    data = _fields(registry.published(source, event_type), False, given)
    registry.parse(source, event_type, data)
    return data


def example_data(source: str, event_type: str, **overrides: Any) -> dict[str, Any]:
    """The `data` of `example` as the store keeps it (private fields included)."""
    return example(source, event_type, **overrides).data()
