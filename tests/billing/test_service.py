"""Billing service against the real MongoDB-compatible server, with a real event store."""

from __future__ import annotations

import base64
import json
import re
import threading
import zlib
from unittest import mock

import pytest
from nameko.exceptions import UnknownService

from kernel import clock
from kernel.errors import CommandError, NotFound
from kernel.events import NewEvent, command_meta
from kernel.eventstore import ConcurrencyError, EventStore
from services.billing import payments
from services.billing.app import invoices
from services.billing.domain import parse
from tests.billing.conftest import STAFF, customer
from tests.fakes import RACING, call_as

DAY = 86_400


def order_plan(billing, account_id: str, key: str, method: str = "card", plan: str = "hosting-start") -> dict:
    billing.add_cart_item(account_id, "hosting", {"plan": plan, "cycle": "monthly", "domain": "example.pl"},
                          customer(account_id))  # fmt: skip
    return billing.checkout(account_id, method, key, customer(account_id), "https://panel/return")


def pay_by_card(billing, result: dict) -> dict:
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "success")["webhook"]
    return billing.handle_webhook(webhook["body"], webhook["signature"])


def run_in_threads(count: int, target) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def work(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target(index)
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- catalogue and cart --------------------------------------------------------------
def test_catalog_seed_is_idempotent_and_translated(billing):
    assert billing.seed_demo_catalog() == {"added": 0}
    plans = billing.get_catalog("en")["plans"]
    assert [p["code"] for p in plans] == ["hosting-start", "hosting-biznes", "hosting-pro"]
    assert plans[1]["name"] == "Hosting Business"
    monthly = plans[0]["cycles"][0]
    assert (monthly["net"], monthly["vat"], monthly["gross"]) == (1500, 345, 1845)


def test_cart_validation_cycle_change_and_discount(billing):
    with pytest.raises(CommandError) as bad:
        billing.add_cart_item("a1", "hosting", {"plan": "nope", "cycle": "weekly", "domain": "-x"}, customer("a1"))
    assert bad.value.fields == {"plan": "unknown_plan", "cycle": "invalid_cycle", "domain": "invalid_domain"}
    cart = billing.add_cart_item("a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a1"))
    item_id = cart["items"][0]["item_id"]
    cart = billing.update_cart_item("a1", item_id, "yearly", customer("a1"))
    assert cart["totals"]["total_net"] == 15000
    with pytest.raises(CommandError):
        billing.apply_discount_code("a1", "JESIEN20", customer("a1"))
    now = clock.now()
    billing.set_offer("Jesień", "Rabat 20%", "/oferta", (now.replace(year=now.year - 1)).isoformat(),
                      (now.replace(year=now.year + 1)).isoformat(), "jesien20", 20, STAFF)  # fmt: skip
    cart = billing.apply_discount_code("a1", "jesien20", customer("a1"))
    assert cart["discount_percent"] == 20 and cart["totals"]["total_net"] == 12000
    assert billing.remove_cart_item("a1", item_id, customer("a1"))["items"] == []


def test_offer_is_staff_only_and_none_outside_its_window(billing, clock_file):
    now = clock.now()
    with pytest.raises(CommandError) as refused:
        call_as(billing, "set_offer", customer("a1"), "x", "y", "/", now.isoformat(), now.isoformat(), None, None)
    assert refused.value.code == "caller_not_allowed"
    assert billing.get_current_offer() is None
    later = now.replace(year=now.year + 1)
    billing.set_offer("Promocja", "Tekst", "/oferta", now.isoformat(), later.isoformat(), None, None, STAFF)
    assert billing.get_current_offer()["title"] == "Promocja"
    clock.advance(400 * DAY)
    assert billing.get_current_offer() is None


def test_offer_english_texts_are_stored_and_returned(billing):
    now = clock.now()
    window = (now.replace(year=now.year - 1).isoformat(), now.replace(year=now.year + 1).isoformat())
    with pytest.raises(CommandError) as bad:
        billing.set_offer("Promocja", "Tekst", "/order", *window, None, None, STAFF, text_en="20% off")
    assert bad.value.fields == {"title_en": "title_en_required"}
    saved = billing.set_offer("Promocja", "Tekst", "/order", *window, None, None, STAFF, title_en="Sale",
                              text_en="20% off")  # fmt: skip
    assert [saved[k] for k in ("title", "text", "title_en", "text_en")] == ["Promocja", "Tekst", "Sale", "20% off"]
    offer = billing.get_current_offer()
    assert (offer["title"], offer["title_en"], offer["text_en"]) == ("Promocja", "Sale", "20% off")
    assert "offer" not in billing.dashboard_summary("a1")  # the same for everybody: asked once, not per account
    [event] = [e for e in billing.events.load("offer") if e.type == "offer_set"]
    assert (event.data["title_en"], event.data["text_en"]) == ("Sale", "20% off")
    polish_only = billing.set_offer("Promocja", "Tekst", "/order", *window, None, None, STAFF)
    assert polish_only["title_en"] == "" and polish_only["text_en"] == ""


def test_an_offer_set_before_the_english_texts_still_reads_and_can_be_given_them(billing):
    now = clock.now()
    old = {"title": "Stara promocja", "text": "Tekst", "link": "/order",
           "starts_at": now.replace(year=now.year - 1).isoformat(), "ends_at": now.replace(year=now.year + 1).isoformat(),
           "discount_code": None, "discount_percent": 0}  # fmt: skip
    billing.events.append("offer", 0, [NewEvent("offer_set", old)], command_meta(STAFF))  # as stored back then
    offer = billing.get_current_offer()
    assert offer["title"] == "Stara promocja" and offer["title_en"] == "" and offer["text_en"] == ""
    updated = billing.set_offer("Stara promocja", "Tekst", "/order", old["starts_at"], old["ends_at"], None, None,
                                STAFF, title_en="Old sale")  # fmt: skip
    assert updated["title_en"] == "Old sale" and billing.get_current_offer()["title_en"] == "Old sale"


def test_items_owned_by_another_service_are_quoted_or_refused(billing):
    billing.domains.quote_cart_item.return_value = {"description": "Rejestracja domeny przykład.pl", "net": 4900,
                                                    "vat_rate": 23, "currency": "PLN", "params": {"domain": "x.pl"}}  # fmt: skip
    cart = billing.add_cart_item("a1", "domain_registration", {"domain": "x.pl", "years": 1}, customer("a1"))
    assert cart["items"][0]["gross"] == 4900 + 1127
    billing.domains.quote_cart_item.assert_called_once_with("a1", "domain_registration", {"domain": "x.pl", "years": 1})
    billing.domains.quote_cart_item.side_effect = UnknownService("domains")
    with pytest.raises(CommandError) as down:
        billing.add_cart_item("a1", "domain_registration", {"domain": "y.pl", "years": 1}, customer("a1"))
    assert down.value.code == "domains_unavailable"


# --- checkout and numbering -------------------------------------------------------------
def test_checkout_is_idempotent_one_order_one_invoice(billing, published):
    first = order_plan(billing, "a1", "double-click-1")
    again = billing.checkout("a1", "card", "double-click-1", customer("a1"), "https://panel/return")
    assert again == first
    assert len(published.of("order_placed")) == 1 and len(published.of("invoice_issued")) == 1
    assert billing.list_invoices("a1")["total"] == 1
    assert billing.get_cart("a1")["items"] == []
    with pytest.raises(CommandError) as empty:
        billing.checkout("a1", "card", "another-key-2", customer("a1"))
    assert empty.value.code == "cart_empty"


@RACING
def test_same_key_racing_checkouts_bill_once(billing, published):
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-pro", "cycle": "yearly"}, customer("a1"))
    results = run_in_threads(4, lambda _: billing.checkout("a1", "bank_transfer", "race-key-1", customer("a1")))
    assert all(isinstance(r, dict) for r in results), results
    assert len({r["invoice_id"] for r in results}) == 1
    assert len(published.of("order_placed")) == 1 and len(published.of("invoice_issued")) == 1


@RACING
def test_racing_checkouts_get_consecutive_numbers_without_gaps(billing, published, monkeypatch):
    """Rounds of simultaneous checkouts until the month's ledger has really seen a
    lost race (so the retry path is exercised), then: numbers 1..N, no gap, no twin."""
    conflicts: list[str] = []
    original = EventStore.append

    def counting(self, stream_id, *args, **kwargs):
        try:
            return original(self, stream_id, *args, **kwargs)
        except ConcurrencyError:
            conflicts.append(stream_id)
            raise

    monkeypatch.setattr(EventStore, "append", counting)
    accounts = [f"race-{i}" for i in range(8)]
    placed: list[tuple[str, str]] = []
    for round_no in range(6):
        for account_id in accounts:
            billing.add_cart_item(account_id, "hosting", {"plan": "hosting-start", "cycle": "monthly"},
                                  customer(account_id))  # fmt: skip
        results = run_in_threads(len(accounts), lambda i, r=round_no: billing.checkout(
            accounts[i], "bank_transfer", f"race-key-{r}-{i}", customer(accounts[i])))  # fmt: skip
        assert all(isinstance(r, dict) for r in results), results
        placed += [(a, r["invoice_id"]) for a, r in zip(accounts, results, strict=True)]
        if any(s.startswith("invoices-") for s in conflicts):
            break
    assert any(s.startswith("invoices-") for s in conflicts), "the checkouts never raced for a number"
    numbers = sorted(billing.get_invoice(a, i)["number"] for a, i in placed)
    now = clock.now()
    assert numbers == [f"FV/{now.year}/{now.month:02d}/{n:04d}" for n in range(1, len(placed) + 1)]
    assert len(published.of("invoice_issued")) == len(placed)


def test_invoice_freezes_buyer_and_seller_and_hides_other_accounts(billing):
    result = order_plan(billing, "a1", "freeze-key-1")
    invoice = billing.get_invoice("a1", result["invoice_id"])
    assert invoice["buyer"]["nip"] == "5260250274" and invoice["buyer"]["city"] == "Łódź"
    assert invoice["seller"]["name"] and invoice["status"] == "unpaid"
    assert [(li["net"], li["vat"], li["gross"]) for li in invoice["lines"]] == [(1500, 345, 1845)]
    billing.accounts.get_profile.side_effect = lambda a: {"billing_address": {"city": "Gdańsk"}}
    assert billing.get_invoice("a1", result["invoice_id"])["buyer"]["city"] == "Łódź"
    for call in (billing.get_invoice, billing.invoice_pdf):
        with pytest.raises(NotFound):
            call("a2", result["invoice_id"])
    with pytest.raises(NotFound):
        billing.pay_invoice("a2", result["invoice_id"], "credit", None, customer("a2"))
    assert billing.list_invoices("a2")["total"] == 0


def test_checkout_refused_when_accounts_does_not_answer(billing, published):
    billing.accounts.get_profile.side_effect = UnknownService("accounts")
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a1"))
    with pytest.raises(CommandError) as down:
        billing.checkout("a1", "card", "down-key-1", customer("a1"))
    assert down.value.code == "accounts_unavailable"
    assert published.of("order_placed") == [] and len(billing.get_cart("a1")["items"]) == 1


def test_invoice_list_filters_and_pages(billing):
    for i in range(3):
        order_plan(billing, "a1", f"list-key-{i}", method="bank_transfer")
    paid = billing.list_invoices("a1")["items"][0]["invoice_id"]
    billing.mark_invoice_paid(paid, STAFF)
    assert billing.list_invoices("a1", "unpaid")["total"] == 2
    assert [i["invoice_id"] for i in billing.list_invoices("a1", "paid")["items"]] == [paid]
    page = billing.list_invoices("a1", None, 2, 2)
    assert page["total"] == 3 and len(page["items"]) == 1 and page["pages"] == 2


# --- payments ------------------------------------------------------------------------------
def test_webhook_applied_once_and_bad_signature_refused(billing, published):
    result = order_plan(billing, "a1", "webhook-key-1")
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "success")["webhook"]
    with pytest.raises(CommandError) as forged:
        billing.handle_webhook(webhook["body"].replace('"amount": 1845', '"amount": 999999'), webhook["signature"])
    assert forged.value.code == "invalid_signature"
    with pytest.raises(CommandError):
        billing.handle_webhook(webhook["body"], "0" * 64)
    assert billing.handle_webhook(webhook["body"], webhook["signature"])["status"] == "applied"
    assert billing.handle_webhook(webhook["body"], webhook["signature"])["status"] == "duplicate"
    assert len(published.of("payment_received")) == 1 and len(published.of("invoice_paid")) == 1
    assert billing.get_invoice("a1", result["invoice_id"])["status"] == "paid"
    services = billing.list_services("a1")["items"]
    assert [(s["status"], s["domain"]) for s in services] == [("active", "example.pl")]
    paid = published.of("invoice_paid")[0]["data"]
    assert paid["number"] and paid["lines"][0]["kind"] == "hosting" and paid["account_id"] == "a1"


def test_late_webhook_after_credit_payment_becomes_credit(billing):
    result = order_plan(billing, "a1", "late-key-1")
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "success")["webhook"]
    billing.add_credit("a1", 5000, STAFF)
    assert billing.pay_invoice("a1", result["invoice_id"], "credit", None, customer("a1"))["status"] == "paid"
    assert billing.get_credit("a1")["credit"] == 5000 - 1845
    assert billing.handle_webhook(webhook["body"], webhook["signature"])["status"] == "applied"
    assert billing.get_credit("a1")["credit"] == 5000
    assert len(billing.list_services("a1")["items"]) == 1


def test_failed_card_payment_changes_nothing(billing):
    result = order_plan(billing, "a1", "fail-key-1")
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "failure")["webhook"]
    assert json.loads(webhook["body"])["type"] == "payment.failed"
    assert billing.handle_webhook(webhook["body"], webhook["signature"])["status"] == "ignored"
    assert billing.get_invoice("a1", result["invoice_id"])["status"] == "unpaid"


def test_webhook_secret_comes_from_the_environment(billing, monkeypatch):
    result = order_plan(billing, "a1", "secret-key-1")
    monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", "production-secret")
    webhook = billing.sandbox_complete(result["payment"]["payment_id"], "success")["webhook"]
    monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", payments.DEV_WEBHOOK_SECRET)
    with pytest.raises(CommandError):
        billing.handle_webhook(webhook["body"], webhook["signature"])


def test_bank_transfer_stays_unpaid_until_staff_marks_it(billing):
    result = order_plan(billing, "a1", "bank-key-1", method="bank_transfer")
    assert result["payment"]["instructions"]["title"].startswith("FV/")
    assert billing.dashboard_summary("a1")["tiles"] == {"services": 0, "unpaid_invoices": 1}
    with pytest.raises(CommandError):
        call_as(billing, "mark_invoice_paid", customer("a1"), result["invoice_id"])
    billing.mark_invoice_paid(result["invoice_id"], STAFF, 2000, "stmt-1")
    billing.mark_invoice_paid(result["invoice_id"], STAFF, 2000, "stmt-1")  # the same statement line twice
    assert billing.get_credit("a1")["credit"] == 2000 - 1845
    assert billing.dashboard_summary("a1")["tiles"] == {"services": 1, "unpaid_invoices": 0}


def test_pay_all_unpaid_from_credit(billing):
    for i in range(2):
        order_plan(billing, "a1", f"all-key-{i}", method="bank_transfer")
    with pytest.raises(CommandError) as short:
        billing.pay_all_unpaid("a1", "credit", None, customer("a1"))
    assert short.value.code == "insufficient_credit"
    billing.add_credit("a1", 2 * 1845, STAFF)
    assert billing.pay_all_unpaid("a1", "credit", None, customer("a1"))["status"] == "paid"
    assert billing.list_invoices("a1", "unpaid")["total"] == 0 and billing.get_credit("a1")["credit"] == 0


# --- renewals, overdue, the timer -----------------------------------------------------------
def test_clock_drives_renewal_suspension_unsuspension_and_double_runs_create_nothing(billing, published, clock_file):
    result = order_plan(billing, "a1", "renew-key-1")
    pay_by_card(billing, result)
    service = billing.list_services("a1")["items"][0]
    due = service["next_due_date"]
    assert billing.run_billing_cycle()["renewals_requested"] == 0

    # 13 days before the due date: a renewal invoice, once, however often the timer runs
    clock.advance((_parse(due) - clock.now()).total_seconds() - 13 * DAY)
    first = billing.run_billing_cycle()
    assert first["renewals_requested"] == 1
    assert billing.run_billing_cycle()["events"] == 0 and billing.run_billing_cycle()["renewals_requested"] == 0
    renewal_invoices = [m["data"] for m in published.of("invoice_issued") if m["data"]["kind"] == "renewal"]
    assert len(renewal_invoices) == 1
    renewal_id = renewal_invoices[0]["invoice_id"]
    renewals = billing.list_renewals("a1")["items"]
    assert [r["renewal_invoice"]["invoice_id"] for r in renewals] == [renewal_id]
    assert billing.dashboard_summary("a1")["renewals"][0]["service_id"] == service["service_id"]

    # "Odnów teraz" -> cart -> checkout reuses the issued invoice instead of billing again
    cart = billing.add_cart_item("a1", "hosting_renewal", {"service_id": service["service_id"]}, customer("a1"))
    assert cart["items"][0]["invoice_id"] == renewal_id and cart["totals"]["total_gross"] == 1845
    billing.add_cart_item("a1", "hosting_renewal", {"service_id": service["service_id"]}, customer("a1"))
    assert len(billing.get_cart("a1")["items"]) == 1
    checkout = billing.checkout("a1", "bank_transfer", "renew-checkout-1", customer("a1"))
    assert checkout["invoice_ids"] == [renewal_id]
    assert len(published.of("invoice_issued")) == 2

    # unpaid past the grace period: reminders, then suspension, once
    clock.advance(13 * DAY + 6 * DAY)
    billing.run_billing_cycle()
    billing.run_billing_cycle()
    assert len(published.of("service_suspended")) == 1
    assert len(published.of("invoice_overdue_reminder")) == 1
    assert billing.get_service("a1", service["service_id"])["status"] == "suspended"

    # paying unsuspends and extends the due date by exactly one cycle, once
    billing.mark_invoice_paid(renewal_id, STAFF)
    billing.mark_invoice_paid(renewal_id, STAFF)
    billing.run_billing_cycle()
    after = billing.get_service("a1", service["service_id"])
    assert after["status"] == "active"
    assert _parse(after["next_due_date"]).month == _parse(due).month % 12 + 1
    assert len(published.of("service_renewed")) == 1 and len(published.of("service_unsuspended")) == 1
    assert {i["invoice_id"] for i in after["invoices"]} == {result["invoice_id"], renewal_id}


def test_not_paying_terminates_after_termination_days(billing, published, clock_file, monkeypatch):
    monkeypatch.setenv("TERMINATION_DAYS", "30")
    result = order_plan(billing, "a1", "term-key-1")
    pay_by_card(billing, result)
    due = _parse(billing.list_services("a1")["items"][0]["next_due_date"])
    clock.advance((due - clock.now()).total_seconds() - DAY)
    billing.run_billing_cycle()
    clock.advance(31 * DAY)
    billing.run_billing_cycle()
    billing.run_billing_cycle()
    assert billing.list_services("a1")["items"][0]["status"] == "terminated"
    assert len(published.of("service_terminated")) == 1 and len(published.of("invoice_cancelled")) == 1
    assert billing.dashboard_summary("a1")["tiles"]["unpaid_invoices"] == 0


@RACING
def test_two_timer_instances_at_once_create_nothing_twice(billing, published, clock_file):
    result = order_plan(billing, "a1", "two-timers-1")
    pay_by_card(billing, result)
    due = _parse(billing.list_services("a1")["items"][0]["next_due_date"])
    clock.advance((due - clock.now()).total_seconds() - 13 * DAY)  # the renewal is due
    results = run_in_threads(3, lambda _: billing.run_billing_cycle())
    assert all(isinstance(r, dict) for r in results), results
    assert len([m for m in published.of("invoice_issued") if m["data"]["kind"] == "renewal"]) == 1
    assert len(published.of("renewal_invoice_requested")) == 1
    clock.advance(19 * DAY)  # a reminder and the suspension are due
    results = run_in_threads(3, lambda _: billing.run_billing_cycle())
    assert all(isinstance(r, dict) for r in results), results
    assert len(published.of("invoice_overdue_reminder")) == 1
    assert len(published.of("service_suspended")) == 1


def test_cancellation_request(billing, published, clock_file):
    result = order_plan(billing, "a1", "cancel-key-1")
    pay_by_card(billing, result)
    service_id = billing.list_services("a1")["items"][0]["service_id"]
    with pytest.raises(NotFound):
        billing.request_cancellation("a2", service_id, "immediate", customer("a2"))
    view = billing.request_cancellation("a1", service_id, "end_of_period", customer("a1"))
    assert view["cancel_at_period_end"] is True and view["status"] == "active"
    clock.advance(40 * DAY)
    billing.run_billing_cycle()
    assert billing.get_service("a1", service_id)["status"] == "cancelled"
    assert published.of("renewal_invoice_requested") == []


# --- PDF -------------------------------------------------------------------------------------
def test_invoice_pdf_embeds_a_unicode_font_with_polish_letters(billing):
    result = order_plan(billing, "a1", "pdf-key-1")
    document = billing.invoice_pdf("a1", result["invoice_id"])
    raw = base64.b64decode(document["data"])
    assert raw.startswith(b"%PDF") and document["filename"].startswith("FV-")
    assert b"DejaVu" in raw and b"/FontFile2" in raw
    # The ToUnicode map of the embedded font maps glyphs back to the text's code points.
    unicode_maps = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S):
        try:
            text = zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:  # an uncompressed stream
            text = match.group(1).decode("latin-1")
        if "beginbfchar" in text or "beginbfrange" in text:
            unicode_maps.append(text.upper())
    assert unicode_maps
    for letter in "ąćęłńóśźżŁ":
        assert any(f"<{ord(letter):04X}>" in cmap for cmap in unicode_maps), letter


def _parse(value: str):
    return parse(value)


def test_a_crash_between_order_and_numbering_leaves_no_gap_and_is_completed(billing, published):
    billing.add_cart_item("a1", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a1"))
    billing.add_cart_item("a2", "hosting", {"plan": "hosting-start", "cycle": "monthly"}, customer("a2"))
    with mock.patch.object(invoices, "issue", side_effect=ConnectionError("ledger write lost")):
        with pytest.raises(ConnectionError):
            billing.checkout("a1", "bank_transfer", "crash-key-1", customer("a1"))
        with pytest.raises(ConnectionError):
            billing.checkout("a2", "bank_transfer", "crash-key-2", customer("a2"))
    assert published.of("invoice_issued") == [] and billing.list_invoices("a1")["total"] == 0
    # the customer retries; the timer completes the other one: numbers 1 and 2, no gap, no duplicate
    retried = billing.checkout("a1", "bank_transfer", "crash-key-1", customer("a1"))
    assert billing.run_billing_cycle()["invoices_issued"] == 1
    assert billing.run_billing_cycle()["invoices_issued"] == 0
    numbers = sorted(m["data"]["number"] for m in published.of("invoice_issued"))
    assert [n[-4:] for n in numbers] == ["0001", "0002"]
    assert billing.get_invoice("a1", retried["invoice_id"])["number"] == numbers[0]


def test_read_models_rebuild_from_the_events_to_the_same_state(billing):
    from services.billing.projections import PROJECTIONS

    first = order_plan(billing, "a1", "rebuild-key-1")
    pay_by_card(billing, first)
    order_plan(billing, "a1", "rebuild-key-2", method="bank_transfer")
    billing.add_credit("a1", 700, STAFF)
    before = (billing.list_invoices("a1"), billing.list_services("a1"), billing.get_credit("a1"))
    store = billing.events.store
    for projection in PROJECTIONS:
        projection.reset()
    assert billing.list_invoices("a1")["total"] == 0
    for projection in PROJECTIONS:
        projection.apply_all(store.all_events())
    assert (billing.list_invoices("a1"), billing.list_services("a1"), billing.get_credit("a1")) == before


def test_services_list_pages_and_filters_on_the_server(billing):
    for key in ("page-key-1", "page-key-2", "page-key-3"):
        pay_by_card(billing, order_plan(billing, "a1", key))
    pay_by_card(billing, order_plan(billing, "a2", "page-key-other"))
    first, second = billing.list_services("a1", None, 1, 2), billing.list_services("a1", None, 2, 2)
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (3, 2, 2, 1)
    ids = [s["service_id"] for s in first["items"] + second["items"]]
    assert len(set(ids)) == 3  # the pages do not overlap and hold only a1's services
    billing.request_cancellation("a1", ids[0], "immediate", customer("a1"))
    active = billing.list_services("a1", "active")
    assert active["total"] == 2 and ids[0] not in [s["service_id"] for s in active["items"]]
    assert [s["service_id"] for s in billing.list_services("a1", "cancelled")["items"]] == [ids[0]]
    with pytest.raises(CommandError) as refused:
        billing.list_services("a1", "deleted")
    assert refused.value.fields == {"status": "invalid_status"}
