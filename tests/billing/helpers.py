"""A real kernel EventsApi for billing with a dispatch that records what would be published."""

from __future__ import annotations

from typing import Any
from unittest import mock

from nameko.testing.services import worker_factory

from kernel.dependencies import EventsApi
from services.billing.service import BillingService
from tests.fakes import RecordingDispatch, recording_events_api


def events_api(published: RecordingDispatch) -> EventsApi:
    return recording_events_api(BillingService, published)


def profile(account_id: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "email": f"{account_id}@example.pl",
        "first_name": "Łucja",
        "last_name": "Żółkiewska",
        "billing_address": {
            "company": "Zażółć gęślą jaźń sp. z o.o.",
            "nip": "5260250274",
            "street": "ul. Źródlana 5",
            "postcode": "00-950",
            "city": "Łódź",
            "country": "PL",
        },  # fmt: skip
    }


def billing_worker(published: RecordingDispatch, accounts: Any = None, domains: Any = None) -> BillingService:
    if accounts is None:
        accounts = mock.Mock()
        accounts.get_profile.side_effect = profile
    return worker_factory(
        BillingService, events=events_api(published), accounts=accounts, domains=domains or mock.Mock()
    )
