"""One page of a read model's query, the way every service's list methods answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def page_number(value: Any, default: int, maximum: int) -> int:
    """A page number or size from the caller: `default` when it is not a number, else within 1..maximum."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, maximum))


def one_page(found: Any, page: int, per_page: int, item: Callable[[Any], Any]) -> dict[str, Any]:
    """One page of a query's documents, each turned into its dict by `item`, with the paging figures."""
    total = found.count()
    items = [item(v) for v in found.skip((page - 1) * per_page).limit(per_page)]
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": max(1, -(-total // per_page))}
