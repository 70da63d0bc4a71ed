"""Every service's event contracts in one map: (source service, event type) -> model.

The publisher checks new events with `check` (EventsApi.append), consumers read messages with
`parse`: the published view of a contract, without the private fields the store keeps and the
broker never carries (kernel.contracts.PRIVATE_FIELDS). A source this map does not know (a test's
or a benchmark's own service) has no contracts: its events are neither checked nor parsed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError, create_model

from kernel.contracts import PRIVATE_FIELDS, accounts, billing, domains, hosting, notifications, support
from kernel.contracts.base import Contract, ContractError

CONTRACTS: dict[tuple[str, str], type[Contract]] = {
    (module.SOURCE, event_type): model
    for module in (accounts, billing, domains, hosting, notifications, support)
    for event_type, model in module.EVENTS.items()
}
SOURCES = frozenset(source for source, _ in CONTRACTS)


def declares(source: str) -> bool:
    """True for a service whose every event type must have a contract."""
    return source in SOURCES


def contracts_of(source: str) -> Mapping[str, type[Contract]] | None:
    """event type -> contract of one service, or None for a service with none."""
    if not declares(source):
        return None
    return {event_type: model for (s, event_type), model in CONTRACTS.items() if s == source}


def contract(source: str, event_type: str) -> type[Contract]:
    try:
        return CONTRACTS[(source, event_type)]
    except KeyError:
        raise ContractError(f"{source} declares no event type {event_type!r} (kernel/contracts/{source}.py)") from None


def require(source: str, event_types: Iterable[str], where: str) -> None:
    """ContractError naming every type in `event_types` that `source` does not declare (a handler
    bound to an event that never comes), when `source` declares contracts at all."""
    missing = sorted(t for t in set(event_types) if (source, t) not in CONTRACTS) if declares(source) else []
    if missing:
        raise ContractError(f"{where}: {source} declares no event type {', '.join(missing)} (kernel/contracts/)")


@functools.cache
def published(source: str, event_type: str) -> type[Contract]:
    """The contract as consumers see it: the private fields left out (a message carrying one is refused)."""
    model = contract(source, event_type)
    hidden = set(PRIVATE_FIELDS.get(source, {}).get(event_type, ()))
    if not hidden:
        return model
    kept = {name: (field.annotation, field) for name, field in model.model_fields.items() if name not in hidden}
    view = create_model(f"{model.__name__}Published", __base__=Contract, __module__=model.__module__, **kept)
    view.TYPE, view.VERSION = model.TYPE, model.VERSION
    return view


def _validated(model: type[Contract], source: str, event_type: str, data: Any) -> Contract:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError(f"{source}.{event_type} v{model.VERSION}: {exc}") from None


def check(source: str, event_type: str, data: Any) -> Contract:
    """The event's data as its contract reads it (all of it, private fields too), or ContractError."""
    return _validated(contract(source, event_type), source, event_type, data)


def parse(source: str, event_type: str, data: Any) -> Contract:
    """A published message's data as its contract's published view reads it, or ContractError."""
    return _validated(published(source, event_type), source, event_type, data)
