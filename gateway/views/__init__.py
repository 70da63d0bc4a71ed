"""Views, one module per area, found at start-up.

`pages` (HTML for people, in pages.py) and `api` (JSON under /api/v1, in
api.py) are the shared blueprints: an area module adds routes to them (e.g.
gateway/views/billing_api.py). A module may also export its own `blueprint`
(e.g. the staff desk under /staff). Nothing else needs registering.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint


def discover() -> list[Blueprint]:
    modules = [
        importlib.import_module(f"{__name__}.{m.name}")
        for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    ]
    blueprints: list[Blueprint] = []
    for module in modules:
        for name in ("pages", "api", "blueprint"):
            found = module.__dict__.get(name)
            if isinstance(found, Blueprint) and found.import_name == module.__name__ and found not in blueprints:
                blueprints.append(found)
    return blueprints
