"""Operational state beside the events: ticket number claims and the plans a
customer holds (learnt from billing's events, for the relevance of news)."""

from __future__ import annotations

import secrets

import mongoengine as me

from services.support.projections import ALIAS


class TicketNumber(me.Document):
    """A ticket number taken before the ticket's first event: `_id` makes it unique."""

    id = me.StringField(primary_key=True)  # "#482913"
    ticket_id = me.StringField(required=True)
    meta = {"db_alias": ALIAS, "collection": "ticket_numbers", "auto_create_index": False}


class CustomerService(me.Document):
    """One active hosting service of a customer: which plan it is on."""

    id = me.StringField(primary_key=True)  # billing's service_id
    account_id = me.StringField(required=True)
    plan = me.StringField(required=True)
    meta = {"db_alias": ALIAS, "collection": "customer_services", "indexes": ["account_id"], "auto_create_index": False}


OPERATIONAL_DOCUMENTS = (TicketNumber, CustomerService)


def random_number() -> str:
    """Six random digits, never starting with 0, shown as `#482913`."""
    return f"#{100000 + secrets.randbelow(900000)}"


def plans_of(account_id: str) -> list[str]:
    return sorted({s.plan for s in CustomerService.objects(account_id=account_id).only("plan")})
