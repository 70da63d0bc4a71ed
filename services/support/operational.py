"""Operational state beside the events: ticket number claims. (The plans a customer holds are events
now: services.support.app.plans; an installation that kept them in `customer_services` fills the events
once with `python -m services.support.plans_backfill`.)"""

from __future__ import annotations

import secrets

import mongoengine as me

from services.support.projections import ALIAS


class TicketNumber(me.Document):
    """A ticket number taken before the ticket's first event: `_id` makes it unique."""

    id = me.StringField(primary_key=True)  # "#482913"
    ticket_id = me.StringField(required=True)
    meta = {"db_alias": ALIAS, "collection": "ticket_numbers", "auto_create_index": False}


OPERATIONAL_DOCUMENTS = (TicketNumber,)


def random_number() -> str:
    """Six random digits, never starting with 0, shown as `#482913`."""
    return f"#{100000 + secrets.randbelow(900000)}"
