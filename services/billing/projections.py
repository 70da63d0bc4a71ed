"""Billing read models, fed by the customer, ledger and offer streams."""

from __future__ import annotations

import logging
from typing import Any

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection
from services.billing.domain import parse

ALIAS = "billing"
log = logging.getLogger(__name__)


def ts(value: Any) -> str | None:
    """Dates are kept as fixed-width ISO strings (sortable, comparable as text): the
    stand-in database turns a datetime written by `$set` on an existing document
    into a string, so strings everywhere behave the same there and on MongoDB."""
    moment = parse(value)
    return moment.isoformat(timespec="milliseconds") if moment else None


def _iso(value: Any) -> str | None:
    return value + "Z" if value else None


def domain_renewal_only(lines: list[dict[str, Any]]) -> bool:
    """An invoice whose every line renews a domain (what the renewals page lists as one)."""
    return bool(lines) and all(line.get("kind") == "domain_renewal" for line in lines)


class InvoiceView(me.Document):
    """One invoice. Created `pending` by its request, numbered by the ledger."""

    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    number = me.StringField(null=True)
    month = me.StringField()
    kind = me.StringField()  # order | renewal
    order_id = me.StringField(null=True)
    service_id = me.StringField(null=True)
    status = me.StringField(default="pending")  # pending (not yet numbered) | unpaid | paid | cancelled | refunded
    lines = me.ListField(me.DictField())
    total_net = me.IntField(default=0)
    total_vat = me.IntField(default=0)
    total_gross = me.IntField(default=0)
    vat_summary = me.ListField(me.DictField())
    paid_amount = me.IntField(default=0)
    currency = me.StringField(default="PLN")
    buyer = me.DictField()
    seller = me.DictField()
    issue_date = me.StringField()
    due_date = me.StringField()
    period_due = me.StringField(null=True)  # renewals: the service due date this invoice renews
    paid_at = me.StringField(null=True)
    payment_method = me.StringField(null=True)
    created_at = me.StringField()
    # issue #16: the buyer's language, the date of sale or service period, the VAT rule's note, the KSeF
    # side {required (yes | no), status: waiting | offline | sent | rejected, ksef_number, qr_link, invoice_hash, code,
    # reason, details}, a correction's own data {invoice_id, number, issue_date, ksef_number, reason, pairs},
    # and an invoice's corrections (their ids)
    language = me.StringField(default="pl")
    sale_date = me.StringField(null=True)
    period = me.DictField(null=True)
    vat_note = me.StringField(default="")
    ksef = me.DictField()
    correction = me.DictField(null=True)
    corrections = me.ListField(me.StringField())
    action = me.DictField(null=True)  # a correction's: the customer action it gives money back for
    settled = me.BooleanField(null=True)  # a correction's action finished (a customer event names it)
    meta = {"db_alias": ALIAS, "collection": "invoices", "indexes": [("account_id", "status"), "number", "service_id",
            "ksef.status", "month"], "auto_create_index": False}  # fmt: skip

    def summary(self) -> dict[str, Any]:
        return {
            "invoice_id": self.id,
            "number": self.number,
            "kind": self.kind,
            "status": self.status,
            "order_id": self.order_id,
            "service_id": self.service_id,
            "total_net": self.total_net,
            "total_vat": self.total_vat,
            "total_gross": self.total_gross,
            "paid_amount": self.paid_amount,
            "amount_due": max(self.total_gross - self.paid_amount, 0) if self.status == "unpaid" else 0,
            "currency": self.currency,
            "issue_date": _iso(self.issue_date),
            "due_date": _iso(self.due_date),
            "paid_at": _iso(self.paid_at),
        }

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "lines": [dict(line) for line in self.lines], "vat_summary": list(self.vat_summary),
                "buyer": dict(self.buyer or {}), "seller": dict(self.seller or {}),
                "payment_method": self.payment_method, **self.invoice_extras()}  # fmt: skip

    def ksef_state(self) -> dict[str, Any]:
        """The KSeF side as shown: `required` a boolean (stored as yes/no: the stand-in database returns
        booleans as 1/0), `offline` too."""
        state = dict(self.ksef or {})
        state["required"] = state.get("required") == "yes"
        if "offline" in state:
            state["offline"] = bool(state["offline"])
        return state

    def invoice_extras(self) -> dict[str, Any]:
        """What issue #16 added to an invoice's detail."""
        return {"language": self.language or "pl", "sale_date": _iso(self.sale_date), "period": self.period or None,
                "vat_note": self.vat_note or "", "ksef": self.ksef_state(), "correction": self.correction or None,
                "corrections": list(self.corrections or []), "correction_numbers": self.correction_numbers()}  # fmt: skip

    def correction_numbers(self) -> dict[str, str]:
        """The numbers of this invoice's corrections (an invoice may have several: a downgrade's, a
        withdrawal's), by id, for the page's links."""
        if not self.corrections:
            return {}
        found = InvoiceView.objects(id__in=list(self.corrections)).only("id", "number")
        return {v.id: v.number for v in found if v.number}


class OrderView(me.Document):
    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    invoice_id = me.StringField(null=True)
    invoice_ids = me.ListField(me.StringField())
    items = me.ListField(me.DictField())
    payment_method = me.StringField()
    total_gross = me.IntField(default=0)
    placed_at = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "orders", "indexes": ["account_id"], "auto_create_index": False}

    def public(self) -> dict[str, Any]:
        return {"order_id": self.id, "invoice_id": self.invoice_id, "invoice_ids": list(self.invoice_ids),
                "items": list(self.items), "payment_method": self.payment_method, "total_gross": self.total_gross,
                "placed_at": _iso(self.placed_at)}  # fmt: skip


class ServiceView(me.Document):
    id = me.StringField(primary_key=True)
    account_id = me.StringField(required=True)
    name = me.StringField()
    plan = me.StringField()
    domain = me.StringField(null=True)
    cycle = me.StringField()
    status = me.StringField()
    next_due_date = me.StringField()
    cancel_at_period_end = me.StringField(default="no")  # yes/no: booleans come back as 1/0 from the stand-in DB
    auto_renew = me.StringField(default="no")  # yes/no, as above: charge the saved card at renewal (issue #15)
    order_id = me.StringField(null=True)
    activated_at = me.StringField()
    updated_at = me.StringField()
    meta = {"db_alias": ALIAS, "collection": "services", "indexes": [("account_id", "status"), "status"],
            "auto_create_index": False}  # fmt: skip

    def public(self) -> dict[str, Any]:
        return {
            "service_id": self.id,
            "name": self.name,
            "plan": self.plan,
            "domain": self.domain,
            "cycle": self.cycle,
            "status": self.status,
            "next_due_date": _iso(self.next_due_date),
            "cancel_at_period_end": self.cancel_at_period_end == "yes",
            "auto_renew": self.auto_renew == "yes",
            "activated_at": _iso(self.activated_at),
        }


class CustomerView(me.Document):
    """Per account: the credit balance, and the ids of its unpaid invoices and of those of them that
    only renew domains (the dashboard's unpaid tile and renewals read these instead of querying
    the invoices). The id sets are kept by `_track_unpaid`; a document without them (written
    before they existed) is filled from the invoice views the next time one of its invoices changes,
    and read as "not known" until then."""

    id = me.StringField(primary_key=True)  # account id
    credit = me.IntField(default=0)
    unpaid_invoice_ids = me.ListField(me.StringField())
    unpaid_domain_renewal_ids = me.ListField(me.StringField())
    meta = {"db_alias": ALIAS, "collection": "customers", "auto_create_index": False}


class OfferView(me.Document):
    id = me.StringField(primary_key=True)  # always "current"
    title = me.StringField()
    text = me.StringField()
    title_en = me.StringField()  # "" or missing (offers set before the English texts): no English banner
    text_en = me.StringField()
    link = me.StringField()
    starts_at = me.StringField()
    ends_at = me.StringField()
    discount_code = me.StringField(null=True)
    discount_percent = me.IntField(default=0)
    meta = {"db_alias": ALIAS, "collection": "offers", "auto_create_index": False}

    def public(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text, "link": self.link, "starts_at": _iso(self.starts_at),
                "ends_at": _iso(self.ends_at), "discount_code": self.discount_code,
                "discount_percent": self.discount_percent, "title_en": self.title_en or "",
                "text_en": self.text_en or ""}  # fmt: skip


billing = Projection("billing", ALIAS, [InvoiceView, OrderView, ServiceView, CustomerView, OfferView])


def _account(event: Event) -> str:
    return event.data["account_id"]


def _request(event: Event, kind: str) -> None:
    d = event.data
    InvoiceView.objects(id=d["invoice_id"]).update_one(
        upsert=True,
        set__account_id=d["account_id"],
        set__month=d["month"],
        set__kind=kind,
        set__order_id=d.get("order_id"),
        set__service_id=d.get("service_id"),
        set__lines=d["lines"],
        set__total_net=d["total_net"],
        set__total_vat=d["total_vat"],
        set__total_gross=d["total_gross"],
        set__vat_summary=d.get("vat_summary", []),
        set__buyer=d.get("buyer", {}),
        set__issue_date=ts(d["issue_date"]),
        set__due_date=ts(d["due_date"]),
        set__period_due=ts(d.get("period_due")),
        set__created_at=ts(event.occurred_at),
    )
    # The status is set apart: the ledger's invoice_issued may have been projected first after a rebuild.
    InvoiceView.objects(id=d["invoice_id"], number=None).update_one(set__status="pending")


@billing.on("order_placed")
def _order_placed(event: Event) -> None:
    d = event.data
    invoice_ids = ([d["invoice_id"]] if d.get("invoice_id") else []) + list(d.get("reused_invoice_ids", []))
    OrderView(id=d["order_id"], account_id=d["account_id"], invoice_id=d.get("invoice_id") or (invoice_ids or [None])[0],
              invoice_ids=invoice_ids, items=d.get("items", []), payment_method=d.get("payment_method"),
              total_gross=d.get("total_gross", 0), placed_at=ts(event.occurred_at)).save()  # fmt: skip
    if d.get("invoice_id"):
        _request(event, "order")


@billing.on("renewal_invoice_requested")
def _renewal_requested(event: Event) -> None:
    _request(event, "renewal")


@billing.on("invoice_issued")
def _issued(event: Event) -> None:
    d = event.data
    InvoiceView.objects(id=d["invoice_id"]).update_one(
        upsert=True, set__account_id=d["account_id"], set__number=d["number"], set__seller=d.get("seller", {}),
        set__buyer=d.get("buyer", {}), set__lines=d["lines"], set__total_net=d["total_net"],
        set__total_vat=d["total_vat"], set__total_gross=d["total_gross"], set__kind=d.get("kind"),
        set__order_id=d.get("order_id"), set__service_id=d.get("service_id"), set__month=d["month"],
        set__issue_date=ts(d["issue_date"]), set__due_date=ts(d["due_date"]),
        set__vat_summary=d.get("vat_summary", []), **_invoice_extras(d),
    )  # fmt: skip
    InvoiceView.objects(id=d["invoice_id"], payment_method=None).update_one(set__payment_method=d.get("payment_method"))
    InvoiceView.objects(id=d["invoice_id"], status="pending").update_one(set__status="unpaid")
    InvoiceView.objects(id=d["invoice_id"], status=None).update_one(set__status="unpaid")
    _track_unpaid(d["invoice_id"])


def _invoice_extras(d: dict[str, Any]) -> dict[str, Any]:
    """An issued invoice's (or correction's) issue #16 fields, as the view's `set__` arguments."""
    return {"set__language": d.get("language") or "pl", "set__sale_date": ts(d.get("sale_date")),
            "set__period": d.get("period"), "set__vat_note": d.get("vat_note") or "",
            "set__ksef__required": "yes" if d.get("ksef") else "no"}  # fmt: skip


@billing.on("ksef_document_prepared")
def _ksef_prepared(event: Event) -> None:
    d = event.data
    InvoiceView.objects(id=d["invoice_id"]).update_one(set__ksef__qr_link=d["qr_link"],
                                                       set__ksef__invoice_hash=d["invoice_hash"])  # fmt: skip
    InvoiceView.objects(id=d["invoice_id"], ksef__status=None).update_one(set__ksef__status="waiting")


@billing.on("invoice_ksef_offline")
def _ksef_offline(event: Event) -> None:
    InvoiceView.objects(id=event.data["invoice_id"], ksef__status__in=[None, "waiting"]).update_one(
        set__ksef__status="offline", set__ksef__offline_since=event.data["at"], set__ksef__reason=event.data["reason"]
    )


@billing.on("invoice_sent_to_ksef")
def _ksef_sent(event: Event) -> None:
    d = event.data
    InvoiceView.objects(id=d["invoice_id"]).update_one(
        set__ksef__status="sent", set__ksef__ksef_number=d["ksef_number"], set__ksef__acquired_at=d["acquired_at"],
        set__ksef__offline=d["offline"], set__ksef__sent_at=ts(event.occurred_at),
    )  # fmt: skip


@billing.on("invoice_rejected_by_ksef")
def _ksef_rejected(event: Event) -> None:
    d = event.data
    InvoiceView.objects(id=d["invoice_id"]).update_one(
        set__ksef__status="rejected", set__ksef__code=d["code"], set__ksef__reason=d["reason"],
        set__ksef__details=d["details"], set__ksef__rejected_at=d["at"],
    )  # fmt: skip


@billing.on("correction_issued")
def _correction_issued(event: Event) -> None:
    d = event.data
    correction = {"invoice_id": d["corrected_invoice_id"], "number": d["corrected_number"],
                  "issue_date": d["corrected_issue_date"], "ksef_number": d["corrected_ksef_number"],
                  "reason": d["reason"], "pairs": d["pairs"]}  # fmt: skip
    InvoiceView.objects(id=d["invoice_id"]).update_one(
        upsert=True, set__account_id=d["account_id"], set__number=d["number"], set__kind="correction",
        set__status="issued", set__month=d["month"], set__lines=d["lines"], set__total_net=d["total_net"],
        set__total_vat=d["total_vat"], set__total_gross=d["total_gross"], set__vat_summary=d["vat_summary"],
        set__buyer=d["buyer"], set__seller=d["seller"], set__issue_date=ts(d["issue_date"]),
        set__due_date=ts(d["issue_date"]), set__correction=correction, set__created_at=ts(event.occurred_at),
        **_invoice_extras(d), **({"set__action": d["action"]} if d.get("action") else {}),
    )  # fmt: skip
    # the whole list is set: the stand-in database's $addToSet does nothing on a missing field
    corrected = InvoiceView.objects(id=d["corrected_invoice_id"]).only("corrections").first()
    known = list(corrected.corrections or []) if corrected else []
    if corrected and d["invoice_id"] not in known:
        InvoiceView.objects(id=d["corrected_invoice_id"]).update_one(set__corrections=[*known, d["invoice_id"]])


UNPAID_SETS = ("unpaid_invoice_ids", "unpaid_domain_renewal_ids")


def _unpaid_sets(invoices: Any) -> dict[str, list[str]]:
    unpaid = [v for v in invoices if v.status == "unpaid"]
    return {"unpaid_invoice_ids": sorted(v.id for v in unpaid),
            "unpaid_domain_renewal_ids": sorted(v.id for v in unpaid if domain_renewal_only(v.lines))}  # fmt: skip


def _track_unpaid(invoice_id: str, attempts: int = 5) -> None:
    """Put the invoice in its account's unpaid sets, or take it out, as its status in InvoiceView
    now says (read after the handler wrote it). Set from state, never counted up or down:
    `$addToSet`/`$pull` are idempotent, so an event offered twice, or the ledger's and the
    customer's events of one invoice applied in either order, leave the same sets. Should another
    worker change the status between the read and the write, the status is read again and the
    membership written again until the two agree, so the last write follows the last status."""
    for _ in range(attempts):
        view = InvoiceView.objects(id=invoice_id).only("account_id", "status", "lines").first()
        if not view or not view.account_id:
            return
        unpaid = view.status == "unpaid"
        renews = unpaid and domain_renewal_only(view.lines)
        changes = {("add_to_set__" if unpaid else "pull__") + "unpaid_invoice_ids": invoice_id,
                   ("add_to_set__" if renews else "pull__") + "unpaid_domain_renewal_ids": invoice_id}  # fmt: skip
        if not CustomerView.objects(id=view.account_id, unpaid_invoice_ids__exists=True).update_one(**changes):
            _fill_unpaid_sets(view.account_id)
            continue
        again = InvoiceView.objects(id=invoice_id).only("status").first()
        if again and again.status == view.status:
            return
    log.warning("unpaid set of invoice %s: its status kept changing; the next event sets it", invoice_id)


def _fill_unpaid_sets(account_id: str) -> None:
    """The account's sets from all its invoice views, once (only where they are missing: a racing
    worker that filled them first makes this upsert collide, and the projection runs the handler again)."""
    invoices = InvoiceView.objects(account_id=account_id, status="unpaid").only("id", "status", "lines")
    sets = _unpaid_sets(invoices)
    CustomerView.objects(id=account_id, unpaid_invoice_ids__exists=False).update_one(
        upsert=True, **{f"set__{k}": v for k, v in sets.items()}
    )


# Handlers set values carried by the events (running totals decided by the
# aggregate) instead of incrementing, so offering an event twice is harmless.
@billing.on("payment_received")
def _payment(event: Event) -> None:
    for allocation in event.data.get("allocations", []):
        InvoiceView.objects(id=allocation["invoice_id"]).update_one(set__paid_amount=allocation["paid_total"])


@billing.on("credit_used")
def _credit_used(event: Event) -> None:
    InvoiceView.objects(id=event.data["invoice_id"]).update_one(set__paid_amount=event.data["paid_total"])
    CustomerView.objects(id=_account(event)).update_one(upsert=True, set__credit=event.data["balance"])


@billing.on("credit_added")
def _credit_added(event: Event) -> None:
    CustomerView.objects(id=_account(event)).update_one(upsert=True, set__credit=event.data["balance"])
    _settle([event.data.get("invoice_id")])


@billing.on("service_withdrawn")
def _withdrawn(event: Event) -> None:
    _settle([part.get("correction_id") for part in event.data.get("refunds") or []])


def _settle(correction_ids: list[str | None]) -> None:
    """The corrections' customer action is finished (see corrections.unsettled_actions)."""
    ids = [i for i in correction_ids if i]
    if ids:
        InvoiceView.objects(id__in=ids, kind="correction").update(set__settled=True)


@billing.on("invoice_paid")
def _paid(event: Event) -> None:
    InvoiceView.objects(id=event.data["invoice_id"]).update_one(
        set__status="paid", set__paid_at=ts(event.data["paid_at"]), set__payment_method=event.data.get("method")
    )
    _track_unpaid(event.data["invoice_id"])


@billing.on("invoice_cancelled")
def _cancelled(event: Event) -> None:
    InvoiceView.objects(id=event.data["invoice_id"]).update_one(set__status="cancelled")
    _track_unpaid(event.data["invoice_id"])


@billing.on("invoice_refunded")
def _refunded(event: Event) -> None:
    InvoiceView.objects(id=event.data["invoice_id"]).update_one(set__status="refunded")
    _track_unpaid(event.data["invoice_id"])


@billing.on("service_activated")
def _activated(event: Event) -> None:
    d = event.data
    ServiceView(id=d["service_id"], account_id=d["account_id"], name=d["name"], plan=d["plan"], domain=d.get("domain"),
                cycle=d["cycle"], status="active", next_due_date=ts(d["next_due_date"]), order_id=d.get("order_id"),
                activated_at=ts(event.occurred_at), updated_at=ts(event.occurred_at)).save()  # fmt: skip


@billing.on("service_renewed")
def _renewed(event: Event) -> None:
    ServiceView.objects(id=event.data["service_id"]).update_one(
        set__next_due_date=ts(event.data["next_due_date"]), set__updated_at=ts(event.occurred_at)
    )


_STATUS = {"service_suspended": "suspended", "service_unsuspended": "active", "service_terminated": "terminated",
           "service_cancelled": "cancelled"}  # fmt: skip


@billing.on(*_STATUS)
def _service_status(event: Event) -> None:
    ServiceView.objects(id=event.data["service_id"]).update_one(
        set__status=_STATUS[event.type], set__updated_at=ts(event.occurred_at)
    )


@billing.on("service_cancellation_requested")
def _cancellation_requested(event: Event) -> None:
    ServiceView.objects(id=event.data["service_id"]).update_one(set__cancel_at_period_end="yes")


@billing.on("service_plan_changed")
def _plan_changed(event: Event) -> None:
    ServiceView.objects(id=event.data["service_id"]).update_one(
        set__plan=event.data["plan"], set__updated_at=ts(event.occurred_at)
    )
    _settle([c.get("correction_id") for c in event.data.get("corrections") or []])


@billing.on("service_auto_renew_set")
def _auto_renew(event: Event) -> None:
    ServiceView.objects(id=event.data["service_id"]).update_one(
        set__auto_renew="yes" if event.data["auto_renew"] else "no"
    )


@billing.on("offer_set")
def _offer(event: Event) -> None:
    d = event.data
    OfferView.objects(id="current").update_one(
        upsert=True, set__title=d["title"], set__text=d["text"], set__link=d["link"],
        set__title_en=d.get("title_en") or "", set__text_en=d.get("text_en") or "",
        set__starts_at=ts(d["starts_at"]), set__ends_at=ts(d["ends_at"]),
        set__discount_code=d.get("discount_code"), set__discount_percent=d.get("discount_percent", 0),
    )  # fmt: skip


PROJECTIONS = [billing]
