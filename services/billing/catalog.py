"""The catalogue: hosting plans with billing cycles and net prices in grosze.

Plans are plain documents, not events: a price list is reference data that staff
edit, and every invoice freezes the price it used in its own events, so history
never depends on the catalogue's current state.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
from typing import Any

import mongoengine as me
from nameko.extensions import DependencyProvider

from kernel.money import CURRENCY, DEFAULT_VAT_RATE, vat_of

ALIAS = "billing"
CYCLES: dict[str, int] = {"monthly": 1, "quarterly": 3, "yearly": 12}  # cycle -> months
CYCLE_NAMES = {
    "pl": {"monthly": "miesięcznie", "quarterly": "kwartalnie", "yearly": "rocznie"},
    "en": {"monthly": "monthly", "quarterly": "quarterly", "yearly": "yearly"},
}
LANGUAGES = ("pl", "en")


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day `months` later, clamped to the month's end (31 Jan + 1 -> 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Plan(me.Document):
    id = me.StringField(primary_key=True)  # plan code, e.g. "hosting-start"
    name = me.DictField()  # {pl, en}
    description = me.DictField()  # {pl, en}
    features = me.DictField()  # {pl: [..], en: [..]}
    prices = me.DictField()  # {cycle: net grosze}
    vat_rate = me.IntField(default=DEFAULT_VAT_RATE)
    active = me.StringField(default="yes")  # a string: the stand-in database returns booleans as 1/0
    sort = me.IntField(default=0)
    meta = {"db_alias": ALIAS, "collection": "plans", "auto_create_index": False}

    def public(self, language: str = "pl") -> dict[str, Any]:
        lang = language if language in LANGUAGES else "pl"
        return {
            "code": self.id,
            "name": self.name.get(lang) or self.name.get("pl", self.id),
            "description": self.description.get(lang, ""),
            "features": list(self.features.get(lang, [])),
            "vat_rate": self.vat_rate,
            "currency": CURRENCY,
            "cycles": [
                {
                    "cycle": cycle,
                    "label": CYCLE_NAMES[lang][cycle],
                    "months": CYCLES[cycle],
                    "net": net,
                    "vat": vat_of(net, self.vat_rate),
                    "gross": net + vat_of(net, self.vat_rate),
                }
                for cycle, net in sorted(self.prices.items(), key=lambda kv: CYCLES.get(kv[0], 99))
                if cycle in CYCLES
            ],  # fmt: skip
        }


DEMO_PLANS: list[dict[str, Any]] = [
    {
        "id": "hosting-start",
        "sort": 1,
        "name": {"pl": "Hosting Start", "en": "Hosting Start"},
        "description": {"pl": "Na stronę wizytówkę i pocztę firmową.", "en": "For a business card site and mail."},
        "features": {
            "pl": ["10 GB SSD", "5 kont e-mail", "Certyfikat SSL", "Codzienna kopia zapasowa"],
            "en": ["10 GB SSD", "5 mailboxes", "SSL certificate", "Daily backup"],
        },
        "prices": {"monthly": 1500, "quarterly": 4200, "yearly": 15000},
        "vat_rate": 23,
    },
    {
        "id": "hosting-biznes",
        "sort": 2,
        "name": {"pl": "Hosting Biznes", "en": "Hosting Business"},
        "description": {"pl": "Dla sklepów i firmowych serwisów.", "en": "For shops and company sites."},
        "features": {
            "pl": [
                "50 GB SSD",
                "Nielimitowane skrzynki",
                "Certyfikat SSL",
                "Kopie co 6 godzin",
                "Priorytetowe wsparcie",
            ],
            "en": ["50 GB SSD", "Unlimited mailboxes", "SSL certificate", "Backups every 6 hours", "Priority support"],
        },
        "prices": {"monthly": 3999, "quarterly": 11499, "yearly": 39999},
        "vat_rate": 23,
    },
    {
        "id": "hosting-pro",
        "sort": 3,
        "name": {"pl": "Hosting Pro", "en": "Hosting Pro"},
        "description": {"pl": "Wydajność serwera dedykowanego bez administrowania.", "en": "Dedicated power, managed."},
        "features": {
            "pl": ["200 GB NVMe", "Dedykowane zasoby", "Certyfikat SSL EV", "Kopie co godzinę", "Opiekun klienta"],
            "en": ["200 GB NVMe", "Dedicated resources", "EV SSL certificate", "Hourly backups", "Account manager"],
        },
        "prices": {"monthly": 9900, "quarterly": 28500, "yearly": 99000},
        "vat_rate": 23,
    },
]


def seed_demo_catalog() -> int:
    """Insert the demo plans that are missing; never overwrites staff edits. Returns how many were added."""
    added = 0
    for data in DEMO_PLANS:
        try:
            Plan(**data).save(force_insert=True)
            added += 1
        except me.NotUniqueError:
            pass
    return added


def get_catalog(language: str = "pl") -> list[dict[str, Any]]:
    return [plan.public(language) for plan in Plan.objects(active="yes").order_by("sort")]


def find_plan(code: str) -> Plan | None:
    if not isinstance(code, str) or not code:
        return None
    return Plan.objects(id=code, active="yes").first()


class DemoCatalog(DependencyProvider):
    """Seeds the demo plans when billing starts with an empty catalogue (`make up`, the test
    stack, a fresh install); DEMO_CATALOG=no leaves an empty catalogue empty."""

    def start(self) -> None:  # after every setup(): the database is connected by then
        if os.environ.get("DEMO_CATALOG", "yes") != "no" and not Plan.objects.count():
            seed_demo_catalog()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
