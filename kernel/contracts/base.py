"""What every event contract is built from: a strict pydantic model of one event type's `data`.

A contract refuses an unknown key (`extra="forbid"`), a value of the wrong type (strict: no "5" for 5,
no True for 1) and a missing required key. Dates travel as ISO 8601 text (`IsoDateTime`), money as
integer grosze. Nested shapes (`Part`) are as strict as the events that carry them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


class ContractError(Exception):
    """Event data that does not match its contract, or an event type with none: a programming error."""


def _iso(value: str) -> str:
    dt.datetime.fromisoformat(value.removesuffix("Z"))  # ValueError: not ISO 8601
    return value


IsoDateTime = Annotated[str, AfterValidator(_iso)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Language = Literal["pl", "en"]
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class Part(BaseModel):
    """A nested shape inside an event (an invoice line, an address, a DNS record)."""

    model_config = STRICT


class Contract(BaseModel):
    """One event type's `data`. `TYPE` names the event; `VERSION` goes up when a field is renamed,
    removed or changes meaning (a new optional field keeps the version); the store stamps it into
    the event's meta as `v`."""

    model_config = STRICT
    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def data(self) -> dict[str, Any]:
        """The event's `data` as stored and published: the keys the builder gave (no unset defaults)."""
        return self.model_dump(exclude_unset=True)


def by_type(*models: type[Contract]) -> dict[str, type[Contract]]:
    """A service's contracts keyed by event type (each model names its own)."""
    found: dict[str, type[Contract]] = {}
    for model in models:
        if not model.TYPE or model.TYPE in found:
            raise ContractError(f"{model.__name__}: missing or repeated event type {model.TYPE!r}")
        found[model.TYPE] = model
    return found
