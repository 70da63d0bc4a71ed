"""Sending invoices to KSeF (issue #16) through ksef-client, against tools/ksef_server.py: a KSeF API 2.0
server of our own on free ports, with its own keys, that decrypts and checks what it gets against the
FA(3) XSD and can be told to be down or to reject."""

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from ksef_client.utils.ksef_number import is_valid_ksef_number
from lxml import etree

from services.billing import fa3, ksef
from tests.billing.test_fa3 import correction, invoice
from tests.conftest import free_port
from tests.e2e.helpers import wait_for

INTEGRATION = True
ROOT = Path(__file__).resolve().parents[2]
NIP, TOKEN = "5260250274", "20261202-EC-TEST-TOKEN"
UPO = {"u": "http://upo.schematy.mf.gov.pl/KSeF/v4-2"}


class Server:
    def __init__(self, port: int, control_port: int):
        self.port, self.control = port, f"http://127.0.0.1:{control_port}"

    def tell(self, what: str, **data):
        answer = requests.post(f"{self.control}/{what}", json=data, timeout=5)
        answer.raise_for_status()

    def invoices(self) -> list[dict]:
        return requests.get(f"{self.control}/invoices", timeout=5).json()

    def answers(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/v2/security/public-key-certificates", timeout=1).ok
        except requests.ConnectionError:
            return False


@pytest.fixture(scope="module")
def running_server():
    port, control_port = free_port(), free_port()
    command = [sys.executable, "-m", "tools.ksef_server", "--port", str(port), "--control-port", str(control_port),
               "--nip", NIP, "--token", TOKEN]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT)
    running = Server(port, control_port)
    try:
        wait_for(running.answers, timeout=20, what="the KSeF test server")
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(running_server):
    """The module's server, listening again and with no sessions, invoices or instructions left."""
    running_server.tell("reset")
    return running_server


@pytest.fixture
def config(server):
    return settings(server.port)


def settings(port: int) -> ksef.Settings:
    return ksef.Settings(api_base=f"http://127.0.0.1:{port}", qr_base="https://qr-test.ksef.mf.gov.pl", nip=NIP,
                         token=TOKEN, timeout=5, verdict_within=10, poll_every=0.05)  # fmt: skip


def test_sent_and_numbered_with_its_upo(server, config):
    xml = fa3.build(invoice())
    sent = ksef.send(xml, config=config)
    assert is_valid_ksef_number(sent["ksef_number"]), sent["ksef_number"]
    assert sent["ksef_number"].startswith(f"{NIP}-") and len(sent["ksef_number"]) == 35
    assert (sent["mode"], sent["duplicate"]) == ("Online", False)
    upo = etree.fromstring(sent["upo"].encode())
    assert upo.findtext(".//u:NumerKSeFDokumentu", namespaces=UPO) == sent["ksef_number"]
    assert upo.findtext(".//u:NumerFaktury", namespaces=UPO) == "FV/2026/12/0001"
    assert (
        upo.findtext(".//u:SkrotDokumentu", namespaces=UPO) == base64.b64encode(hashlib.sha256(xml).digest()).decode()
    )
    assert [(i["number"], i["status"]) for i in server.invoices()] == [("FV/2026/12/0001", 200)]


def test_sending_again_gives_back_the_first_number_never_a_second_one(server, config):
    xml = fa3.build(invoice())
    first = ksef.send(xml, config=config)
    again = ksef.send(xml, config=config)
    assert (again["ksef_number"], again["duplicate"]) == (first["ksef_number"], True)
    assert (
        etree.fromstring(again["upo"].encode()).findtext(".//u:NumerKSeFDokumentu", namespaces=UPO)
        == first["ksef_number"]
    )
    assert sorted(i["status"] for i in server.invoices()) == [200, 440]  # numbered once


def test_down_is_unreachable_then_back_it_is_sent_once(server, config):
    xml = fa3.build(invoice())
    server.tell("down", mode="refuse")
    with pytest.raises(ksef.KsefUnreachable):
        ksef.send(xml, config=config)
    server.tell("down", mode="503")
    with pytest.raises(ksef.KsefUnreachable):
        ksef.send(xml, config=config)
    server.tell("up")
    sent = ksef.send(xml, offline_mode=True, config=config)
    assert sent["mode"] == "Offline"
    assert [(i["number"], i["status"], i["mode"]) for i in server.invoices()] == [("FV/2026/12/0001", 200, "Offline")]


def test_rejected_with_ksefs_reason(server, config):
    server.tell("reject", code=450, reason="Nieprawidłowa stawka podatku w wierszu 1")
    with pytest.raises(ksef.KsefRejected) as refused:
        ksef.send(fa3.build(invoice()), config=config)
    assert refused.value.code == 450
    assert refused.value.reason == "Błąd weryfikacji semantyki dokumentu faktury"
    assert refused.value.details == ["Nieprawidłowa stawka podatku w wierszu 1"]
    assert "Nieprawidłowa stawka" in str(refused.value)
    assert ksef.send(fa3.build(invoice()), config=config)["ksef_number"]  # one rejection, as told


def test_an_invalid_document_is_refused_by_the_servers_xsd_check(server, config):
    root = etree.fromstring(fa3.build(invoice()))
    number = root.find(".//f:Fa/f:P_2", {"f": fa3.NAMESPACE})
    number.getparent().remove(number)
    with pytest.raises(ksef.KsefRejected) as refused:
        ksef.send(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), config=config)
    assert refused.value.code == 450
    assert "P_2" in " ".join(refused.value.details)


def test_an_invoice_of_another_seller_is_refused(server, config):
    other = invoice(seller={**invoice()["seller"], "nip": "1111111111"})
    with pytest.raises(ksef.KsefRejected) as refused:
        ksef.send(fa3.build(other), config=config)
    assert refused.value.code == 410


def test_a_wrong_token_is_not_authorised(server, config):
    with pytest.raises(ksef.KsefNotAuthorised, match="450"):
        ksef.send(fa3.build(invoice()), config=ksef.Settings(**{**config.__dict__, "token": "not-the-token"}))
    with pytest.raises(ksef.KsefNotAuthorised):
        ksef.send(fa3.build(invoice()), config=ksef.Settings(**{**config.__dict__, "token": ""}))


def test_a_correction_refers_to_the_corrected_invoices_ksef_number(server, config):
    original = ksef.send(fa3.build(invoice()), config=config)
    document = correction(ksef_number=original["ksef_number"])
    corrected = ksef.send(fa3.build(document), config=config)
    assert corrected["ksef_number"] != original["ksef_number"]
    assert [(i["number"], i["status"]) for i in server.invoices()] == [
        ("FV/2026/12/0001", 200),
        ("FK/2026/12/0001", 200),
    ]


def test_kod_i_link_names_the_seller_the_date_and_the_documents_hash():
    xml = fa3.build(invoice())
    digest = base64.urlsafe_b64encode(hashlib.sha256(xml).digest()).decode().rstrip("=")
    link = ksef.qr_link(NIP, "2026-12-02", xml, settings(1))
    assert link == f"https://qr-test.ksef.mf.gov.pl/invoice/{NIP}/02-12-2026/{digest}"


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("KSEF_ENV", "prod")
    monkeypatch.delenv("KSEF_API_BASE", raising=False)
    monkeypatch.delenv("KSEF_QR_BASE", raising=False)
    monkeypatch.setenv("KSEF_NIP", NIP)
    monkeypatch.setenv("KSEF_TOKEN", TOKEN)
    found = ksef.settings_from_env()
    assert (found.api_base, found.qr_base) == ("https://api.ksef.mf.gov.pl", "https://qr.ksef.mf.gov.pl")
    assert (found.nip, found.token) == (NIP, TOKEN)
    monkeypatch.setenv("KSEF_API_BASE", "http://127.0.0.1:8790")
    assert ksef.settings_from_env().api_base == "http://127.0.0.1:8790"
    monkeypatch.setenv("KSEF_ENV", "staging")
    with pytest.raises(ValueError, match="KSEF_ENV"):
        ksef.settings_from_env()
