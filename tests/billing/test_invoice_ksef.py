"""Billing's invoices in KSeF (issue #16), against tools/ksef_server.py on free ports: an issued business
invoice is sent after it is issued and numbered (number, hash and UPO as events on its stream, the
number and KOD I on the PDF and in the transfer title); KSeF down: offline mode, then sent once when it
answers again; rejected: kept with KSeF's reason for staff, never sent again silently; a refund's
correction refers to the invoice's KSeF number and goes to KSeF too."""

from __future__ import annotations

import pytest
from ksef_client.utils.ksef_number import is_valid_ksef_number

from services.billing import fa3
from services.billing.domain import ksef_stream
from tests.billing.conftest import STAFF
from tests.billing.test_invoices_complete import billing, order, pdf_text, xml_of  # noqa: F401 (fixture)
from tests.billing.test_ksef_sender import NIP, TOKEN, running_server, server  # noqa: F401 (fixtures)

INTEGRATION = True


@pytest.fixture(autouse=True)
def ksef_settings(server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("KSEF_API_BASE", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("KSEF_QR_BASE", "https://qr-test.ksef.mf.gov.pl")
    monkeypatch.setenv("KSEF_NIP", NIP)
    monkeypatch.setenv("KSEF_TOKEN", TOKEN)


def received(server, number: str) -> list[dict]:  # noqa: F811
    return [i for i in server.invoices() if i.get("number") == number]


def stream_types(billing, invoice_id: str) -> list[str]:  # noqa: F811
    return [e.type for e in billing.events.load(ksef_stream(invoice_id))]


def test_a_business_invoice_is_sent_after_it_is_issued_and_shows_its_ksef_number(billing, server):  # noqa: F811
    result = order(billing, "a1", "ksef-key-1")
    assert billing.get_invoice("a1", result["invoice_id"])["ksef"].get("status") is None  # checkout did not send
    assert billing.run_invoice_documents() == {"sent": 1}
    invoice = billing.get_invoice("a1", result["invoice_id"])
    number = invoice["ksef"]["ksef_number"]
    assert is_valid_ksef_number(number) and invoice["ksef"]["status"] == "sent"
    assert stream_types(billing, result["invoice_id"]) == ["ksef_document_prepared", "invoice_sent_to_ksef"]
    sent = billing.events.load(ksef_stream(result["invoice_id"]))[1].data
    assert sent["upo"].startswith("<?xml") and sent["invoice_hash"] == invoice["ksef"]["invoice_hash"]
    assert [i["ksef_number"] for i in received(server, invoice["number"])] == [number]
    text = pdf_text(billing, "a1", result["invoice_id"])
    assert f"Numer KSeF: {number}" in text and f"Tytuł przelewu: {invoice['number']} KSeF {number}" in text
    assert "Kod weryfikacyjny KSeF (KOD I)" in text and invoice["ksef"]["qr_link"] in text
    assert invoice["ksef"]["qr_link"].startswith(f"https://qr-test.ksef.mf.gov.pl/invoice/{NIP}/")
    fa3.validate(xml_of(billing, "a1", result["invoice_id"]))
    assert billing.run_invoice_documents() == {}  # nothing left to send


def test_ksef_down_the_invoice_is_offline_then_sent_once_when_it_answers(billing, server):  # noqa: F811
    server.tell("down", mode="refuse")
    result = order(billing, "a1", "ksef-down-1")
    assert billing.run_invoice_documents() == {"offline": 1}
    server.tell("down", mode="503")
    assert billing.run_invoice_documents() == {"offline": 1}
    invoice = billing.get_invoice("a1", result["invoice_id"])
    assert invoice["ksef"]["status"] == "offline" and invoice["ksef"]["qr_link"]
    text = pdf_text(billing, "a1", result["invoice_id"])
    assert "OFFLINE — Faktura wystawiona w trybie offline" in text and invoice["ksef"]["qr_link"] in text
    server.tell("up")
    assert billing.run_invoice_documents() == {"sent": 1}
    assert billing.run_invoice_documents() == {}
    assert stream_types(billing, result["invoice_id"]) == ["ksef_document_prepared", "invoice_ksef_offline",
                                                           "invoice_sent_to_ksef"]  # fmt: skip
    got = received(server, billing.get_invoice("a1", result["invoice_id"])["number"])
    assert len(got) == 1 and got[0]["mode"] == "Offline"


def test_a_rejected_invoice_is_shown_to_staff_with_ksefs_reason(billing, server):  # noqa: F811
    server.tell("reject", code=450, reason="Błąd weryfikacji semantyki dokumentu faktury")
    result = order(billing, "a1", "ksef-reject-1")
    assert billing.run_invoice_documents() == {"rejected": 1}
    assert billing.run_invoice_documents() == {}  # never sent again by itself
    problems = billing.ksef_problems(STAFF)
    assert [(p["invoice_id"], p["ksef"]["status"], p["ksef"]["code"]) for p in problems] == [
        (result["invoice_id"], "rejected", 450)]  # fmt: skip
    assert "Błąd weryfikacji semantyki" in problems[0]["ksef"]["reason"]
    assert len(received(server, problems[0]["number"])) == 1


def test_a_refunds_correction_refers_to_the_ksef_number_and_goes_to_ksef(billing, server):  # noqa: F811
    billing.add_credit("a1", 100_000, STAFF)
    result = order(billing, "a1", "ksef-refund-1", method="credit")
    billing.run_invoice_documents()
    billing.refund_invoice(result["invoice_id"], STAFF)
    assert billing.run_invoice_documents() == {"sent": 1}
    invoice = billing.get_invoice("a1", result["invoice_id"])
    correction = billing.get_invoice("a1", invoice["corrections"][0])
    assert correction["correction"]["ksef_number"] == invoice["ksef"]["ksef_number"]
    assert correction["ksef"]["status"] == "sent"
    text = pdf_text(billing, "a1", correction["invoice_id"])
    assert f"Numer KSeF faktury korygowanej: {invoice['ksef']['ksef_number']}" in text
    assert f"Numer KSeF: {correction['ksef']['ksef_number']}" in text
    root = fa3.etree.fromstring(xml_of(billing, "a1", correction["invoice_id"]))
    ns = {"f": fa3.NAMESPACE}
    assert root.xpath("//f:DaneFaKorygowanej/f:NrKSeFFaKorygowanej/text()", namespaces=ns) == [
        invoice["ksef"]["ksef_number"]]  # fmt: skip


GREEN_SEND = """
import eventlet
eventlet.monkey_patch()
import sys, time
from services.billing.app import ksef as sender  # hides trio from httpcore, as billing does
from services.billing import fa3, ksef
from tests.billing.test_fa3 import invoice
config = ksef.Settings(api_base=sys.argv[1], qr_base="https://qr-test.ksef.mf.gov.pl", nip=sys.argv[2],
                       token=sys.argv[3], timeout=5, verdict_within=10, poll_every=0.05)
ticks = []
def tick():
    while True:
        ticks.append(time.monotonic())
        eventlet.sleep(0.005)
eventlet.spawn_n(tick)
eventlet.sleep(0)
before = len(ticks)
sent = ksef.send(fa3.build(invoice(number="FV/GREEN/1")), config=config)
print(sent["ksef_number"], len(ticks) - before)
"""


def test_ksef_client_sends_green_under_eventlet_without_blocking_the_hub(server):  # noqa: F811
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", GREEN_SEND, f"http://127.0.0.1:{server.port}", NIP, TOKEN],
                          cwd=root, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    number, ticks = done.stdout.split()
    assert is_valid_ksef_number(number)
    assert int(ticks) >= 5, "other greenlets ran while the invoice was sent"
