"""Every message the UI shows, Polish first: key -> (pl, en).

Each area keeps its own module here exporting MESSAGES; they are merged at
import, and a key defined twice is an error rather than a silent override.
"""

from __future__ import annotations

import importlib
import pkgutil

MESSAGES: dict[str, tuple[str, str]] = {}

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    for _key, _texts in importlib.import_module(f"{__name__}.{_module}").MESSAGES.items():
        if _key in MESSAGES:
            raise RuntimeError(f"message {_key!r} is defined twice (second time in gateway.messages.{_module})")
        MESSAGES[_key] = _texts
