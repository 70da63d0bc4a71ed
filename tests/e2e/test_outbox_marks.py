"""The running services mark what they published in batches (kernel.eventstore.EventStore.batch_marks, flushed
by the EventSourcing dependency every OUTBOX_MARK_MS): a customer's commits end up marked published by the
service that stored them, not by the outbox sweep, which would have leased them first (publish_lease_until)."""

from __future__ import annotations

import pymongo

from tests.e2e.helpers import wait_for
from tests.e2e.test_checkout_races import _customer


def test_a_services_published_commits_are_marked_by_the_service_not_by_the_sweep(stack):
    _, account_id = _customer(stack)
    commits = pymongo.MongoClient(stack.env["MONGO_URI"])[f"{stack.db_prefix}accounts"]["event_commits"]
    stream = {"stream_id": {"$eq": f"account-{account_id}"}}

    def marks() -> list[tuple]:  # compared here: servers differ on matching an explicit null
        return [(c.get("published_at"), c.get("publish_lease_until")) for c in commits.find(stream)]

    assert len(marks()) >= 2  # registered, e-mail verified, logged in
    wait_for(lambda: all(published for published, _ in marks()), timeout=30,
             what="every commit of the account marked published")  # fmt: skip
    leased = [lease for _, lease in marks() if lease is not None]
    assert not leased, f"{len(leased)} of {len(marks())} commits were published again by the outbox sweep"
