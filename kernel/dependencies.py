"""Nameko dependency giving a worker the event store, projections and outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import Any

from nameko.events import EventDispatcher
from nameko.rpc import Rpc
from pymongo.errors import DuplicateKeyError

from kernel import clock, contracts, db, settings
from kernel.contracts import registry
from kernel.events import Event, NewEvent
from kernel.eventstore import EventStore
from kernel.projections import Projection

log = logging.getLogger(__name__)
PrivateFields = Mapping[str, tuple[str, ...]]


def public_message(event: Event, private_fields: PrivateFields) -> dict[str, Any]:
    """The event as published: its type's private `data` keys left out (the store keeps them)."""
    message = event.to_message()
    hidden = private_fields.get(event.type)
    if hidden:
        message["data"] = {k: v for k, v in event.data.items() if k not in hidden}
    return message


class EventsApi:
    """What a worker sees as `self.events`."""

    def __init__(self, service: str, store: EventStore, projections: list[Projection], dispatch,
                 private_fields: PrivateFields | None = None, call_id: str | None = None):  # fmt: skip
        self.service = service
        self.call_id = call_id  # the RPC this worker serves: stored in the meta (kernel.queues.applied_before)
        self.store = store
        self.projections = projections
        self._dispatch = dispatch
        # event type -> data keys never published (kernel.contracts.PRIVATE_FIELDS by default)
        self.private_fields = contracts.PRIVATE_FIELDS.get(service, {}) if private_fields is None else private_fields
        # every event type must have a contract (kernel.contracts.<service>), unless the service
        # declares none at all (a test's or a benchmark's own service)
        self.checks_contracts = registry.declares(service)

    def load(self, stream_id: str) -> list[Event]:
        return self.store.load(stream_id)

    def append(self, stream_id: str, expected_version: int, new_events: list[NewEvent], meta: dict) -> list[Event]:
        """Store, project, then publish with confirms.

        Once stored the command has succeeded, whatever follows: a failed
        projection or publish is logged and left to the outbox sweep, never
        raised, or the caller would retry a command that already happened.
        Before anything is stored every event's data must match its contract (ContractError).
        """
        meta = {**meta, "call_id": self.call_id} if self.call_id else meta
        events = self.store.append(stream_id, expected_version, self.checked(new_events), meta)
        if self._project(events):
            self._publish(events)
        return events

    def checked(self, new_events: list[NewEvent]) -> list[NewEvent]:
        """The events with their contract's version, or ContractError (an unknown field, a wrong type,
        a missing field, an event type with no contract): a programming error, never stored."""
        if not self.checks_contracts:
            return new_events
        return [self._checked(new) for new in new_events]

    def _checked(self, new: NewEvent) -> NewEvent:
        payload = registry.check(self.service, new.type, new.data)
        return dataclasses.replace(new, contract_version=payload.VERSION)

    def publish_pending(self) -> int:
        older_than = clock.now() - dt.timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
        published = 0
        for events in self.store.claim_unpublished(older_than):
            if self._project(events) and self._publish(events):
                published += len(events)
        return published

    def first_time(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handles `event_id`; False if it already did."""
        try:
            db.database(self.service)["processed_events"].insert_one(
                {"_id": f"{consumer}:{event_id}", "at": clock.now()}
            )
        except DuplicateKeyError:
            return False
        return True

    def forget(self, consumer: str, event_id: str) -> None:
        db.database(self.service)["processed_events"].delete_one({"_id": f"{consumer}:{event_id}"})

    def _project(self, events: list[Event]) -> bool:
        try:
            for projection in self.projections:
                projection.apply_all(events, self.store)
        except Exception:  # the sweep projects it again before publishing
            log.exception("projecting %s v%s failed; left in the outbox", events[0].stream_id, events[0].version)
            return False
        return True

    def _publish(self, events: list[Event]) -> bool:
        try:
            for event in events:
                self._dispatch(event.type, public_message(event, self.private_fields))
        except Exception:  # broker down or unconfirmed: the sweep retries
            log.exception("publishing %s v%s failed; left in the outbox", events[0].stream_id, events[0].version)
            return False
        self.store.mark_published(events)
        return True


def prepare_storage(service: str, service_cls: type) -> tuple[EventStore, list[Projection]]:
    """The service's event store and projections, with every index it owns in place."""
    projections: list[Projection] = list(getattr(service_cls, "projections", []))
    for projection in projections:  # a handler for an event its service never publishes is a mistake
        registry.require(service, projection.handlers, f"projection {projection.name}")
    store = EventStore(service)
    store.ensure_indexes()
    documents = list(getattr(service_cls, "documents", []))
    for projection in projections:
        documents.extend(projection.documents)
    for document in documents:
        document.ensure_indexes()
    return store, projections


class EventSourcing(EventDispatcher):
    """Connects the service's database and exposes EventsApi to workers. Published commits are marked in
    the store in one write every OUTBOX_MARK_MS (EventStore.batch_marks), and at stop."""

    def setup(self) -> None:
        super().setup()
        service = self.container.service_name
        config: dict[str, Any] = self.container.config
        db.connect(service, config.get("MONGO_URI") or settings.MONGO_URI, config.get("MONGO_DB"))
        self.store, self.projections = prepare_storage(service, self.container.service_cls)
        self.store.batch_marks()

    def start(self) -> None:
        super().start()
        self.container.spawn_managed_thread(self._mark_published_commits, identifier="outbox-marks")

    def stop(self) -> None:
        self._flush_marks()
        super().stop()

    def _mark_published_commits(self) -> None:
        while True:
            time.sleep(settings.OUTBOX_MARK_MS / 1000)  # green under nameko's eventlet
            self._flush_marks()

    def _flush_marks(self) -> None:
        try:
            self.store.flush_marks()
        except Exception:  # the database is away: the notes stay for the next flush
            log.exception("marking published commits failed; tried again")

    def get_dependency(self, worker_ctx) -> EventsApi:
        dispatch = super().get_dependency(worker_ctx)
        call_id = (worker_ctx.data or {}).get("call_id") if isinstance(worker_ctx.entrypoint, Rpc) else None
        return EventsApi(self.container.service_name, self.store, self.projections, dispatch, call_id=call_id)
