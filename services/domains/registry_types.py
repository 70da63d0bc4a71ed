"""What every registrar answers with: availability, the error a refusal or a silence becomes, and the
expiry arithmetic they share.

Kept apart from `registrar` (the interface, the sandbox and the choice of registrar) so that a registrar
module such as `epp` imports these without importing the module that chooses it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class RegistrarError(Exception):
    """The registry refused or could not answer; `temporary` errors are worth retrying."""

    def __init__(self, code: str, temporary: bool = False):
        super().__init__(code)
        self.code = code
        self.temporary = temporary


@dataclass(frozen=True)
class Availability:
    name: str
    available: bool
    premium: bool = False
    premium_net: int | None = None  # net per year when premium


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    """The same day `years` later (28 February for a 29 February in a common year)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
