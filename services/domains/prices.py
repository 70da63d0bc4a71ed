"""The TLDs we sell and their net prices in grosze per year (VAT added on the invoice).

A price list is configuration: DOMAIN_PRICES_FILE may name a JSON file
{tld: {"register": net, "transfer": net, "renew": net}} that replaces this one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CURRENCY = "PLN"
VAT_RATE = 23
MIN_YEARS, MAX_YEARS = 1, 10
OPERATIONS = ("register", "transfer", "renew")

DEFAULT_PRICES: dict[str, dict[str, int]] = {
    "pl": {"register": 4900, "transfer": 4900, "renew": 8900},
    "com.pl": {"register": 3900, "transfer": 3900, "renew": 6900},
    "net.pl": {"register": 3900, "transfer": 3900, "renew": 6900},
    "org.pl": {"register": 3900, "transfer": 3900, "renew": 6900},
    "eu": {"register": 3500, "transfer": 3500, "renew": 4500},
    "com": {"register": 5900, "transfer": 5900, "renew": 6500},
    "net": {"register": 6500, "transfer": 6500, "renew": 7500},
    "org": {"register": 5900, "transfer": 5900, "renew": 6900},
}


@dataclass(frozen=True)
class TldPrice:
    tld: str
    register: int
    transfer: int
    renew: int

    def net(self, operation: str, years: int) -> int:
        """Net for `years`: a transfer includes one year; further years cost a renewal each."""
        if operation == "transfer":
            return self.transfer + self.renew * (years - 1)
        return getattr(self, operation) * years


@cache
def price_list() -> dict[str, TldPrice]:
    path = os.environ.get("DOMAIN_PRICES_FILE")
    table = json.loads(Path(path).read_text()) if path else DEFAULT_PRICES
    return {tld: TldPrice(tld, *(int(prices[op]) for op in OPERATIONS)) for tld, prices in table.items()}


def tlds() -> list[str]:
    """Supported TLDs, longest first (so `com.pl` is matched before `pl`)."""
    return sorted(price_list(), key=lambda t: (-t.count("."), t))


def price_of(tld: str) -> TldPrice:
    return price_list()[tld]


def public_prices() -> list[dict[str, int | str]]:
    """The price list as shown to customers, in the configured order."""
    return [{"tld": p.tld, "register": p.register, "transfer": p.transfer, "renew": p.renew, "vat_rate": VAT_RATE,
             "currency": CURRENCY} for p in price_list().values()]  # fmt: skip
