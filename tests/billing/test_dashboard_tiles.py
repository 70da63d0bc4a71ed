"""The dashboard's tiles and renewals come from read models kept by the projections (the live
services list and the customer view's unpaid sets), not from counting queries: they must equal the
real counts after invoices are issued, paid, cancelled and refunded, after a rebuild (in store order
or with the streams in another order), with events offered twice, and for a customer view written
before the sets existed."""

from __future__ import annotations

import threading

from kernel import clock
from services.billing.domain import parse
from services.billing.projections import PROJECTIONS, CustomerView, InvoiceView, ServiceView, domain_renewal_only
from tests.billing.conftest import STAFF, customer

# Rebuilds read models in bulk (see tests/kernel/test_rebuild.py): real server only.
INTEGRATION = True

DAY = 86_400
QUOTE = {"description": "Odnowienie domeny zażółć.pl na 1 rok", "net": 8900, "vat_rate": 23, "currency": "PLN",
         "params": {"domain_id": "d1", "domain": "xn--za-6ja4f8n1l.pl", "unicode_name": "zażółć.pl", "years": 1}}  # fmt: skip


def order(billing, account_id: str, key: str, method: str) -> dict:
    billing.add_cart_item(account_id, "hosting", {"plan": "hosting-start", "cycle": "monthly", "domain": f"{key}.pl"},
                          customer(account_id))  # fmt: skip
    return billing.checkout(account_id, method, key, customer(account_id), "https://panel/return")


def real(account_id: str) -> dict:
    """What the tiles and the domain renewals must say, counted the slow way."""
    unpaid = InvoiceView.objects(account_id=account_id, status="unpaid")
    return {"services": ServiceView.objects(account_id=account_id, status="active").count(),
            "unpaid_invoices": unpaid.count(),
            "domain_renewals": sorted(v.id for v in unpaid if domain_renewal_only(v.lines))}  # fmt: skip


def shown(billing, account_id: str) -> dict:
    summary = billing.dashboard_summary(account_id)
    domain_renewals = sorted(r["renewal_invoice"]["invoice_id"] for r in summary["renewals"]
                             if r["kind"] == "domain_renewal")  # fmt: skip
    listed = sorted(r["renewal_invoice"]["invoice_id"] for r in billing.list_renewals(account_id)["items"]
                    if r["kind"] == "domain_renewal")  # fmt: skip
    assert listed == domain_renewals
    assert summary["credit"] == billing.get_credit(account_id)["credit"]
    return {**summary["tiles"], "domain_renewals": domain_renewals}


def rebuild(billing, order_streams=None) -> None:
    """`python -m kernel rebuild billing` (Projection.rebuild), or with the events in another order."""
    store = billing.events.store
    for projection in PROJECTIONS:
        if order_streams is None:
            projection.rebuild(store)
        else:
            projection.reset()
            events = sorted(store.all_events(), key=lambda e: (order_streams(e.stream_id), e.stream_id, e.version))
            projection.apply_all(events)


def test_tiles_equal_the_real_counts_through_issue_pay_cancel_refund_and_rebuilds(billing, clock_file):
    billing.domains.quote_cart_item.return_value = QUOTE
    assert shown(billing, "a1") == real("a1") == {"services": 0, "unpaid_invoices": 0, "domain_renewals": []}

    bank = [order(billing, "a1", f"tiles-bank-{i}", "bank_transfer") for i in range(3)]
    assert shown(billing, "a1") == real("a1") == {"services": 0, "unpaid_invoices": 3, "domain_renewals": []}

    billing.add_credit("a1", 50_000, STAFF)
    billing.pay_invoice("a1", bank[0]["invoice_id"], "credit", None, customer("a1"))
    billing.mark_invoice_paid(bank[1]["invoice_id"], STAFF)
    assert shown(billing, "a1") == real("a1") == {"services": 2, "unpaid_invoices": 1, "domain_renewals": []}

    renewal = billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1"}, "renew:d1:2027", STAFF)
    assert shown(billing, "a1") == real("a1") == {"services": 2, "unpaid_invoices": 2,
                                                  "domain_renewals": [renewal["invoice_id"]]}  # fmt: skip

    # a hosting renewal invoice, then the service cancelled at once: its renewal invoice is cancelled
    service = billing.get_service("a1", billing.list_services("a1")["items"][0]["service_id"])
    due = parse(service["next_due_date"])
    clock.advance((due - clock.now()).total_seconds() - 13 * DAY)
    assert billing.run_billing_cycle()["renewals_requested"] == 2
    assert shown(billing, "a1") == real("a1") and real("a1")["unpaid_invoices"] == 4
    billing.request_cancellation("a1", service["service_id"], "immediate", customer("a1"))
    assert shown(billing, "a1") == real("a1") == {"services": 1, "unpaid_invoices": 3,
                                                  "domain_renewals": [renewal["invoice_id"]]}  # fmt: skip
    assert InvoiceView.objects(account_id="a1", status="cancelled").count() == 1

    billing.refund_invoice(bank[0]["invoice_id"], STAFF)
    billing.pay_invoice("a1", renewal["invoice_id"], "credit", None, customer("a1"))
    assert shown(billing, "a1") == real("a1") == {"services": 1, "unpaid_invoices": 2, "domain_renewals": []}
    assert InvoiceView.objects(account_id="a1", status="refunded").count() == 1

    order(billing, "a2", "tiles-other-1", "bank_transfer")  # another account's invoice counts only there
    assert shown(billing, "a2")["unpaid_invoices"] == 1 and shown(billing, "a1")["unpaid_invoices"] == 2

    before = {a: billing.dashboard_summary(a) for a in ("a1", "a2")}
    rebuild(billing)
    assert {a: billing.dashboard_summary(a) for a in ("a1", "a2")} == before
    assert shown(billing, "a1") == real("a1")
    # the ledger's invoice_issued after the customer's invoice_paid, and the other way round
    for ledgers_first in (False, True):
        rebuild(billing, lambda stream, first=ledgers_first: stream.startswith("invoices-") != first)
        assert {a: billing.dashboard_summary(a) for a in ("a1", "a2")} == before


def test_events_offered_twice_and_an_old_customer_view_leave_the_right_counts(billing):
    billing.domains.quote_cart_item.return_value = QUOTE
    paid = order(billing, "a1", "twice-paid-1", "bank_transfer")
    order(billing, "a1", "twice-unpaid-1", "bank_transfer")
    billing.mark_invoice_paid(paid["invoice_id"], STAFF)
    renewal = billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1"}, "renew:d1:2030", STAFF)
    expected = real("a1")
    assert shown(billing, "a1") == expected and expected["unpaid_invoices"] == 2

    # every billing handler run again on every event, as two workers offering the same event would
    projection = PROJECTIONS[0]
    for event in billing.events.store.all_events():
        handler = projection.handlers.get(event.type)
        if handler:
            handler(event)
    assert shown(billing, "a1") == real("a1") == expected

    # a customer view from before the sets: still counted right, and refilled by the next invoice change
    CustomerView.objects(id="a1").update_one(unset__unpaid_invoice_ids=True, unset__unpaid_domain_renewal_ids=True)
    assert shown(billing, "a1") == expected
    billing.mark_invoice_paid(renewal["invoice_id"], STAFF)
    raw = CustomerView.objects(id="a1").as_pymongo().first()
    assert len(raw["unpaid_invoice_ids"]) == 1 and raw["unpaid_domain_renewal_ids"] == []
    assert shown(billing, "a1") == real("a1") == {**expected, "unpaid_invoices": 1, "domain_renewals": []}


def test_the_ledger_and_customer_streams_projected_at_once_by_two_workers_give_the_right_counts(billing):
    billing.add_credit("a1", 50_000, STAFF)
    for i in range(6):
        placed = order(billing, "a1", f"race-key-{i}", "bank_transfer")
        if i % 2:
            billing.pay_invoice("a1", placed["invoice_id"], "credit", None, customer("a1"))
    expected = real("a1")
    assert shown(billing, "a1") == expected and expected["unpaid_invoices"] == 3
    projection, store = PROJECTIONS[0], billing.events.store
    events = list(store.all_events())
    ledgers = [e for e in events if e.stream_id.startswith("invoices-")]
    others = [e for e in events if not e.stream_id.startswith("invoices-")]
    for _ in range(3):
        projection.reset()
        workers = [threading.Thread(target=projection.apply_all, args=(part, store)) for part in (ledgers, others)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert shown(billing, "a1") == real("a1") == expected
