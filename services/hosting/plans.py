"""What each of billing's hosting plans allows on the server (by plan code), like a server module's
package in WHMCS. A plan missing here gets the smallest limits. Enforced: PHP workers and memory,
upload size (nginx and PHP), database connections; disk is measured and shown against `disk_mb`, not
enforced (no filesystem quotas on the local server: README, Hosting provisioning)."""

from __future__ import annotations

from typing import Any

DEFAULT = {"disk_mb": 10_240, "php_workers": 2, "php_memory_mb": 128, "upload_mb": 32, "db_connections": 10}
PLANS: dict[str, dict[str, int]] = {
    "hosting-start": DEFAULT,
    "hosting-biznes": {"disk_mb": 51_200, "php_workers": 5, "php_memory_mb": 256, "upload_mb": 128,
                       "db_connections": 30},
    "hosting-pro": {"disk_mb": 204_800, "php_workers": 10, "php_memory_mb": 512, "upload_mb": 512,
                    "db_connections": 100},
}  # fmt: skip


def limits(plan: str) -> dict[str, Any]:
    return dict(PLANS.get(plan, DEFAULT))
