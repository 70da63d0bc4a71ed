"""What every registrar answers with: availability, and the error a refusal or a silence becomes.

Kept apart from `registrar` (the interface, the sandbox and the choice of registrar) so that a registrar
module such as `epp` imports these without importing the module that chooses it.
"""

from __future__ import annotations

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
