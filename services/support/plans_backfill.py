"""One-off, for an installation from before the plans a customer holds were events:
`python -m services.support.plans_backfill`.

Support used to keep them in the `customer_services` collection, beside its events, and did not hear of
plan changes. This reads billing's stored events (read only, in the order billing stored them: it needs
access to billing's database, like `make rebuild`) and lets support learn from every service event the way
its consumers do (services.support.app.plans.learn). What support's consumers already recorded decides
nothing again, so running it twice, or while support runs, is harmless. The new events are stored and
projected here; the running support service's outbox sweep publishes them (so the gateway's view refreshes
the news of those accounts). Then the old collection is dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from kernel import db
from kernel.app import Deps
from kernel.contracts import BILLING
from kernel.dependencies import EventsApi, prepare_storage
from kernel.events import Event
from kernel.eventstore import EventStore
from kernel.service import parsed
from services.support.app.plans import DROPPED_BY, HELD_BY, learn
from services.support.service import SupportService

OLD_COLLECTION = "customer_services"


class LeftToTheOutbox(EventsApi):
    """Stores and projects; publishing is left to the running service's outbox sweep (this process has
    no broker connection of its own)."""

    def _publish(self, events: list[Event]) -> bool:
        return False


def backfill(deps: Deps, billing_events: Iterable[Event]) -> int:
    """Learn from billing's service events (in billing's order); how many support events it recorded."""
    recorded = 0
    for event in billing_events:
        if event.type in HELD_BY or event.type in DROPPED_BY:
            recorded += len(learn(deps, parsed(BILLING, event.type, event)))
    return recorded


def migrate() -> int:
    """The backfill on the connected `support` and `billing` databases, then the old collection dropped."""
    store, projections = prepare_storage(SupportService.name, SupportService)
    deps = Deps(LeftToTheOutbox(SupportService.name, store, projections, dispatch=None))
    recorded = backfill(deps, EventStore(BILLING).all_events())
    db.database(SupportService.name).drop_collection(OLD_COLLECTION)
    return recorded


def main() -> int:
    db.connect(SupportService.name)
    db.connect(BILLING)
    recorded = migrate()
    print(f"support: {recorded} plan events recorded from billing's service events; {OLD_COLLECTION} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
