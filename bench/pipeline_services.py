"""Two small services for the event pipeline benchmark, built only from the kernel.

producer: an RPC command stores an event (projected, published with confirms).
consumer: consumes it once (`consumes`), stores its own event and projects it with
the moment it was projected, so the benchmark can tell throughput and lag.

And the same two without a database (the floor): the RPC command publishes the event with confirms
through Nameko's dispatcher, the consumer's handler (the kernel's queue setup) notes when it arrived, in
memory. Whatever the kernel does with the database comes on top of what this costs.
"""

from __future__ import annotations

import time
from typing import ClassVar

import mongoengine as me
from nameko.events import EventDispatcher
from nameko.rpc import rpc

from kernel import queues
from kernel.aggregate import Aggregate, execute
from kernel.events import Event, NewEvent, command_meta
from kernel.projections import Projection
from kernel.service import EventSourcedService, consumes


class Item(Aggregate):
    def on_item_recorded(self, data, event) -> None:
        self.n = data["n"]


class ItemView(me.Document):
    id = me.StringField(primary_key=True)
    n = me.IntField()
    meta = {"db_alias": "benchproducer", "collection": "items_view"}


class CopyView(me.Document):
    id = me.StringField(primary_key=True)
    n = me.IntField()
    sent_at = me.FloatField()
    projected_at = me.FloatField()
    meta = {"db_alias": "benchconsumer", "collection": "copies_view"}


items = Projection("items", "benchproducer", [ItemView])
copies = Projection("copies", "benchconsumer", [CopyView])


@items.on("item_recorded")
def _item_recorded(event: Event) -> None:
    ItemView.objects(id=event.stream_id).update_one(set__n=event.data["n"], upsert=True)


@copies.on("item_copied")
def _item_copied(event: Event) -> None:
    CopyView.objects(id=event.stream_id).update_one(
        set__n=event.data["n"], set__sent_at=event.data["sent_at"], set__projected_at=time.time(), upsert=True
    )


def _record(n: int, sent_at: float, kind: str) -> list[NewEvent]:
    return [NewEvent(kind, {"n": n, "sent_at": sent_at})]


class ProducerService(EventSourcedService):
    name = "benchproducer"
    projections = [items]

    @rpc
    def record(self, run: str, n: int, sent_at: float) -> int:
        stored = execute(self.events, Item, f"item-{run}-{n}", lambda _: _record(n, sent_at, "item_recorded"),
                         command_meta(None))[1]  # fmt: skip
        return stored[0].version


class ConsumerService(EventSourcedService):
    name = "benchconsumer"
    projections = [copies]

    @consumes("benchproducer", "item_recorded")
    def on_item_recorded(self, event: Event) -> None:
        data = event.data
        execute(self.events, Item, f"copy-{event.stream_id}",
                lambda _: _record(data["n"], data["sent_at"], "item_copied"), command_meta({"causation_id": event.event_id}))  # fmt: skip


class FloorProducerService:
    name = "benchfloorproducer"
    dispatch = EventDispatcher()

    @rpc
    def record(self, run: str, n: int, sent_at: float) -> int:
        self.dispatch("item_recorded", {"run": run, "n": n, "sent_at": sent_at})
        return n


class FloorConsumerService:
    name = "benchfloorconsumer"
    arrived: ClassVar[list[tuple[float, float]]] = []  # (sent_at, arrived_at) of each event, this process only

    @queues.event_handler("benchfloorproducer", "item_recorded")
    def on_item_recorded(self, message: dict) -> None:
        FloorConsumerService.arrived.append((message["sent_at"], time.time()))

    @rpc
    def arrivals(self, since: float) -> list[list[float]]:
        return [[sent, arrived] for sent, arrived in self.arrived if sent >= since]
