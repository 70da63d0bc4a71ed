"""A tiny service for the dead-letter test: one consumer that fails on demand."""

from __future__ import annotations

from kernel import db
from kernel.events import Event
from kernel.service import EventSourcedService, consumes

SOURCE = "poisonsource"


class PoisonService(EventSourcedService):
    name = "poisontest"

    @consumes(SOURCE, "thing_happened")
    def on_thing(self, event: Event) -> None:
        db.database(self.name)["attempts"].insert_one({"event_id": event.event_id})
        if event.data.get("fail"):
            raise RuntimeError("this handler always fails on this event")
        db.database(self.name)["handled"].insert_one({"_id": event.event_id, "n": event.data["n"]})
