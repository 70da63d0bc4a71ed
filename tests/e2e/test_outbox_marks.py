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
    stream = {"stream_id": f"account-{account_id}"}
    stored = commits.count_documents(stream)
    assert stored >= 2  # registered, e-mail verified, logged in
    wait_for(lambda: commits.count_documents({**stream, "published_at": None}) == 0, timeout=30,
             what="every commit of the account marked published")  # fmt: skip
    leased = commits.count_documents({**stream, "publish_lease_until": {"$ne": None}})
    assert leased == 0, f"{leased} of {stored} commits were published again by the outbox sweep"
