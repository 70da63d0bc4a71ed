"""Two tiny services for tests/kernel/test_private_fields.py, run with `nameko run`.

`accounts` decides with the real Account aggregate, so the real private-field
list applies; `privsink` records every message it receives as it arrived, and
has one consumer that always fails, so its dead letter shows what was kept.
"""

from __future__ import annotations

import json

from nameko.events import event_handler
from nameko.rpc import rpc

from kernel import db
from kernel.aggregate import execute
from kernel.events import Event, command_meta
from kernel.service import EventSourcedService, consumes
from services.accounts.domain import Account, account_stream


class AccountsProbe(EventSourcedService):
    name = "accounts"

    @rpc
    def register(self, account_id: str, email: str, password_hash: str) -> None:
        profile = {"first_name": "Jan", "last_name": "Kowal", "phone": "", "language": "pl"}
        execute(self.events, Account, account_stream(account_id),
                lambda a: a.register(email, password_hash, profile), command_meta({}))  # fmt: skip

    @rpc
    def enable_two_factor(self, account_id: str, secret: str, code: str, recovery_codes: list[str]) -> None:
        execute(self.events, Account, account_stream(account_id),
                lambda a: a.enable_two_factor(secret, code, recovery_codes), command_meta({}))  # fmt: skip


class SinkProbe(EventSourcedService):
    name = "privsink"

    @event_handler("accounts", "account_registered")
    def record_registered(self, message: dict) -> None:
        self._record("account_registered", message)

    @event_handler("accounts", "email_verification_requested")
    def record_verification(self, message: dict) -> None:
        self._record("email_verification_requested", message)

    @event_handler("accounts", "two_factor_enabled")
    def record_two_factor(self, message: dict) -> None:
        self._record("two_factor_enabled", message)

    def _record(self, event_type: str, message: dict) -> None:
        db.database(self.name)["received"].insert_one({"type": event_type, "raw": json.dumps(message)})

    @consumes("accounts", "account_registered", attempts=1)
    def always_fails(self, event: Event) -> None:
        raise RuntimeError("set aside on purpose")
