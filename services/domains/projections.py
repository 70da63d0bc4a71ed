"""Domains read model: one row per domain, fed by its `domain-<id>` stream."""

from __future__ import annotations

from typing import Any

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection
from services.domains.dns import zones
from services.domains.domain import parse

ALIAS = "domains"


def ts(value: Any) -> str | None:
    """Fixed-width ISO strings: sortable, and stored the same by every MongoDB-compatible server."""
    moment = parse(value)
    return moment.isoformat(timespec="milliseconds") if moment else None


def yes(value: bool) -> str:
    return "yes" if value else "no"  # booleans come back as 1/0 from the stand-in database


class DomainView(me.Document):
    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    name = me.StringField(required=True)  # ASCII (punycode)
    unicode_name = me.StringField()
    tld = me.StringField()
    kind = me.StringField()  # registration | transfer
    years = me.IntField(default=1)
    status = me.StringField()
    invoice_id = me.StringField(null=True)
    expires_at = me.StringField(null=True)
    nameservers = me.ListField(me.StringField())
    locked = me.StringField(default="yes")
    auto_renew = me.StringField(default="yes")
    failure_code = me.StringField(null=True)
    failure_temporary = me.StringField(default="no")
    retry_at = me.StringField(null=True)
    renewal_invoice_id = me.StringField(null=True)
    renewal_pending = me.StringField(default="no")
    created_at = me.StringField()
    updated_at = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "domains", "indexes": [("account_id", "status"), "name", "status",
                                                                    "invoice_id"], "auto_create_index": False}  # fmt: skip

    def public(self) -> dict[str, Any]:
        return {
            "domain_id": self.id,
            "name": self.name,
            "unicode_name": self.unicode_name,
            "tld": self.tld,
            "kind": self.kind,
            "years": self.years,
            "status": self.status,
            "expires_at": self.expires_at + "Z" if self.expires_at else None,
            "nameservers": list(self.nameservers),
            "locked": self.locked == "yes",
            "auto_renew": self.auto_renew == "yes",
            "failure": {"code": self.failure_code, "temporary": self.failure_temporary == "yes",
                        "retry_at": self.retry_at + "Z" if self.retry_at else None} if self.failure_code else None,
            "renewal_invoice_id": self.renewal_invoice_id,
            "created_at": self.created_at + "Z" if self.created_at else None,
        }  # fmt: skip


domains = Projection("domains", ALIAS, [DomainView])


def _set(event: Event, **fields: Any) -> None:
    if "status" in event.data:
        fields["status"] = event.data["status"]
    DomainView.objects(id=event.data["domain_id"]).update_one(**{f"set__{k}": v for k, v in fields.items()},
                                                              set__updated_at=ts(event.occurred_at))  # fmt: skip


@domains.on("domain_ordered")
def _ordered(event: Event) -> None:
    d = event.data
    if DomainView.objects(id=d["domain_id"]).first():
        return
    DomainView(id=d["domain_id"], account_id=d["account_id"], name=d["name"], unicode_name=d["unicode_name"],
               tld=d["tld"], kind=d["kind"], years=d["years"], status="pending", invoice_id=d.get("invoice_id"),
               nameservers=list(d.get("nameservers") or []), created_at=ts(event.occurred_at),
               updated_at=ts(event.occurred_at)).save()  # fmt: skip


@domains.on("domain_registration_requested", "domain_cancelled", "domain_expired", "domain_transferred_away")
def _status(event: Event) -> None:
    _set(event)


@domains.on("domain_transfer_requested")
def _transfer_requested(event: Event) -> None:
    _set(event, failure_code=None, failure_temporary="no", retry_at=None)


@domains.on("domain_registration_failed")
def _failed(event: Event) -> None:
    d = event.data
    _set(event, failure_code=d["code"], failure_temporary=yes(d["temporary"]), retry_at=ts(d.get("retry_at")))


@domains.on("domain_transfer_rejected")
def _rejected(event: Event) -> None:
    _set(event, failure_code=event.data["reason"], failure_temporary="no", retry_at=None)


@domains.on("domain_registered", "domain_transferred_in")
def _active(event: Event) -> None:
    extra = {"nameservers": list(event.data["nameservers"])} if event.data.get("nameservers") else {}
    _set(event, expires_at=ts(event.data["expires_at"]), failure_code=None, failure_temporary="no", retry_at=None,
         **extra)  # fmt: skip


@domains.on("domain_renewal_invoiced")
def _renewal_invoiced(event: Event) -> None:
    _set(event, renewal_invoice_id=event.data["invoice_id"])


@domains.on("domain_renewal_requested")
def _renewal_requested(event: Event) -> None:
    _set(event, renewal_pending="yes")


@domains.on("domain_renewed")
def _renewed(event: Event) -> None:
    _set(event, expires_at=ts(event.data["expires_at"]), renewal_pending="no", renewal_invoice_id=None)


@domains.on("nameservers_changed")
def _nameservers(event: Event) -> None:
    _set(event, nameservers=list(event.data["nameservers"]))


@domains.on("domain_lock_changed")
def _lock(event: Event) -> None:
    _set(event, locked=yes(event.data["locked"]))


@domains.on("auto_renew_changed")
def _auto_renew(event: Event) -> None:
    _set(event, auto_renew=yes(event.data["auto_renew"]))


PROJECTIONS: list[Projection] = [domains, zones]
