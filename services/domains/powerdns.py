"""The PowerDNS authoritative server's HTTP API (v1), as the domains service uses it.

No well-kept Python client exists for the authoritative API (the PyPI ones are unmaintained or
cover the recursor), so this is plain HTTP with `requests`: a zone is created with all its RRsets,
or brought to exactly the wanted RRsets with one PATCH (REPLACE what we want, DELETE what we no
longer have). Both are idempotent: applying the same zone twice changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import requests


class PowerDnsError(Exception):
    """PowerDNS did not answer, or refused; the change stays pending and is applied later."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def _records(rrset: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"content": c, "disabled": False} for c in rrset["records"]]


class PowerDns:
    def __init__(self, url: str | None = None, key: str | None = None, timeout: float | None = None):
        self.url = (url or os.environ.get("PDNS_API_URL", "http://127.0.0.1:8081")).rstrip("/")
        self.key = key or os.environ.get("PDNS_API_KEY", "panel-dev-pdns-key")
        self.timeout = timeout or float(os.environ.get("PDNS_TIMEOUT", "3"))
        self.zones = f"{self.url}/api/v1/servers/{os.environ.get('PDNS_SERVER_ID', 'localhost')}/zones"

    def _call(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        try:
            answer = requests.request(method, self.zones + path, headers={"X-API-Key": self.key},
                                      timeout=self.timeout, **kwargs)  # fmt: skip
        except requests.RequestException as exc:
            raise PowerDnsError("dns_server_unavailable", type(exc).__name__) from None
        if answer.status_code >= 500:
            raise PowerDnsError("dns_server_unavailable", str(answer.status_code))
        return answer

    def _refused(self, answer: requests.Response) -> PowerDnsError:
        return PowerDnsError("dns_server_refused", f"{answer.status_code} {answer.text[:200]}")

    def current(self, zone: str) -> list[dict[str, Any]] | None:
        """The zone's RRsets as PowerDNS holds them, or None when it has no such zone."""
        answer = self._call("GET", f"/{zone}.")
        if answer.status_code == 404 or (answer.status_code == 422 and "not found" in answer.text.lower()):
            return None
        if answer.status_code != 200:
            raise self._refused(answer)
        return answer.json().get("rrsets", [])

    def apply(self, zone: str, rrsets: list[dict[str, Any]]) -> None:
        """Make the zone hold exactly `rrsets` ({name, type, ttl, records: [content]})."""
        held = self.current(zone)
        if held is None:
            body = {"name": f"{zone}.", "kind": "Native", "nameservers": [],
                    "rrsets": [{**r, "records": _records(r)} for r in rrsets]}  # fmt: skip
            answer = self._call("POST", json=body)
            if answer.status_code == 409:  # created meanwhile by another worker: bring it up to date below
                held = self.current(zone) or []
            elif answer.status_code != 201:
                raise self._refused(answer)
            else:
                return
        wanted = {(r["name"], r["type"]) for r in rrsets}
        changes = [{**r, "changetype": "REPLACE", "records": _records(r)} for r in rrsets]
        changes += [{"name": r["name"], "type": r["type"], "changetype": "DELETE"} for r in held
                    if (r["name"], r["type"]) not in wanted]  # fmt: skip
        answer = self._call("PATCH", f"/{zone}.", json={"rrsets": changes})
        if answer.status_code != 204:
            raise self._refused(answer)

    def delete(self, zone: str) -> None:
        answer = self._call("DELETE", f"/{zone}.")
        if answer.status_code not in (204, 404):
            raise self._refused(answer)
