"""Billing's application layer: one module per concern, each of plain functions.

A function takes what it needs explicitly (`Deps`: the event store, the remote callers, the clock),
decides through the aggregates in `services.billing.domain`, reads the read models in
`services.billing.projections`, and returns plain data. `services.billing.service` only exposes
them as Nameko entrypoints.
"""

from __future__ import annotations

import functools
import os

from kernel import app

RPC_TIMEOUT = float(os.environ.get("BILLING_RPC_TIMEOUT", "5"))
# A customer's own racing commands (parallel payments, checkouts) are decided again this many times, then 409.
CONFLICT_RETRIES = 10
SYSTEM_CTX = {"actor": {"type": "system", "id": "billing"}}

Deps = app.Deps
# Calls to accounts and domains, each given RPC_TIMEOUT seconds (kernel.app.Remote).
Remote = functools.partial(app.Remote, timeout=RPC_TIMEOUT)
