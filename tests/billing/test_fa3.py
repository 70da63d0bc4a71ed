"""FA(3) documents (issue #16): every kind of invoice the panel issues validates against the official
XSD shipped by ksef-client, offline, and says what the invoice says."""

import socket

import pytest
from lxml import etree

from services.billing import fa3

NS = {"f": fa3.NAMESPACE}
SELLER = {"name": "Panel Hosting sp. z o.o.", "nip": "5260250274", "street": "ul. Świętokrzyska 12",
          "postcode": "00-916", "city": "Warszawa", "country": "PL"}  # fmt: skip
PL_COMPANY = {"name": "Firma Testowa sp. z o.o.", "nip": "1111111111", "street": "ul. Jasna 2",
              "postcode": "00-001", "city": "Warszawa", "country": "PL", "email": "ksiegowosc@firma.pl"}  # fmt: skip
PL_CONSUMER = {"name": "Jan Kowalski", "nip": "", "street": "ul. Polna 3", "postcode": "31-001", "city": "Kraków",
               "country": "PL"}  # fmt: skip
DE_COMPANY = {"name": "Kunde GmbH", "nip": "DE123456789", "street": "Hauptstraße 1", "postcode": "10115",
              "city": "Berlin", "country": "DE"}  # fmt: skip
DE_CONSUMER = {"name": "Hans Müller", "nip": "", "street": "Hauptstraße 2", "postcode": "10115", "city": "Berlin",
               "country": "DE"}  # fmt: skip
US_COMPANY = {"name": "Example Inc.", "nip": "12-3456789", "street": "1 Main St", "postcode": "10001",
              "city": "New York", "country": "US"}  # fmt: skip


def line(net: int, rate: int | str = 23, vat: int | None = None, discount: int = 0, quantity: int = 1, **extra):
    """A line as billing keeps it: unit_net before the discount, net after it, VAT rounded on the line."""
    vat = round(net * int(float(rate)) / 100) if vat is None else vat
    return {"description": "Hosting Start (12 miesięcy)", "unit": "usł.", "quantity": quantity,
            "unit_net": (net + discount) // quantity, "discount": discount, "net": net, "vat_rate": rate,
            "vat": vat, "gross": net + vat, **extra}  # fmt: skip


def invoice(buyer=PL_COMPANY, lines=None, paid=False, **extra):
    payment = ({"method": "card", "status": "paid", "paid_at": "2026-12-02"} if paid else
               {"method": "transfer", "status": "unpaid", "due_date": "2026-12-16",
                "bank_account": "PL61 1090 1014 0000 0712 1981 2874", "title": "FV/2026/12/0001"})  # fmt: skip
    return {"number": "FV/2026/12/0001", "issue_date": "2026-12-02", "created_at": "2026-12-02T10:15:00+01:00",
            "period": {"from": "2026-12-02", "to": "2027-12-01"}, "seller": SELLER, "buyer": buyer,
            "lines": lines or [line(24000)], "payment": payment, **extra}  # fmt: skip


def parsed(document: dict) -> etree._Element:
    xml = fa3.build(document)
    fa3.validate(xml)  # build validates too; said again so the test reads what it checks
    return etree.fromstring(xml)


def text(root, path: str) -> list[str]:
    return [node.text for node in root.xpath(path, namespaces=NS)]


def test_plain_unpaid_invoice_to_a_polish_company():
    root = parsed(invoice())
    assert text(root, "//f:Podmiot1//f:NIP") == ["5260250274"]
    assert text(root, "//f:Podmiot2//f:NIP") == ["1111111111"]
    assert text(root, "//f:Podmiot2//f:Email") == ["ksiegowosc@firma.pl"]
    assert text(root, "//f:Podmiot2/f:Adres/f:AdresL2") == ["00-001 Warszawa"]
    assert text(root, "//f:Fa/f:P_2") == ["FV/2026/12/0001"]
    assert text(root, "//f:OkresFa/f:P_6_Od") + text(root, "//f:OkresFa/f:P_6_Do") == ["2026-12-02", "2027-12-01"]
    assert text(root, "//f:FaWiersz/f:P_8A") == ["usł."]
    assert text(root, "//f:FaWiersz/f:P_12") == ["23"]
    assert text(root, "//f:P_13_1") + text(root, "//f:P_14_1") + text(root, "//f:P_15") == ["240.00", "55.20", "295.20"]
    assert text(root, "//f:Platnosc/f:TerminPlatnosci/f:Termin") == ["2026-12-16"]
    assert text(root, "//f:Platnosc/f:FormaPlatnosci") == ["6"]
    assert text(root, "//f:RachunekBankowy/f:NrRB") == ["PL61109010140000071219812874"]
    assert text(root, "//f:DodatkowyOpis/f:Wartosc") == ["FV/2026/12/0001"]  # the transfer title
    assert not root.xpath("//f:Zaplacono", namespaces=NS)
    assert text(root, "//f:DataWytworzeniaFa") == ["2026-12-02T09:15:00Z"]


def test_paid_invoice_says_paid_and_when_and_has_no_due_date():
    root = parsed(invoice(paid=True))
    assert text(root, "//f:Platnosc/f:Zaplacono") + text(root, "//f:Platnosc/f:DataZaplaty") == ["1", "2026-12-02"]
    assert text(root, "//f:Platnosc/f:FormaPlatnosci") == ["2"]
    assert not root.xpath("//f:TerminPlatnosci", namespaces=NS)


def test_discount_shows_on_the_line_per_unit_and_the_net_is_billings_own():
    root = parsed(invoice(lines=[line(21600, discount=2400, quantity=12), line(4999, vat=1150)]))
    assert text(root, "//f:FaWiersz/f:P_8B") == ["12", "1"]
    assert text(root, "//f:FaWiersz/f:P_9A") == ["20", "49.99"]
    assert text(root, "//f:FaWiersz/f:P_10") == ["2"]  # 24 zł off twelve months: 2 zł a month
    assert text(root, "//f:FaWiersz/f:P_11") == ["216.00", "49.99"]
    assert text(root, "//f:P_13_1") + text(root, "//f:P_14_1") == ["265.99", "61.18"]


def test_reverse_charge_to_an_eu_business():
    root = parsed(invoice(buyer=DE_COMPANY, lines=[line(24000, rate="0", vat=0)]))
    assert text(root, "//f:Podmiot2//f:KodUE") + text(root, "//f:Podmiot2//f:NrVatUE") == ["DE", "123456789"]
    assert text(root, "//f:Podmiot2/f:Adres/f:KodKraju") == ["DE"]
    assert text(root, "//f:FaWiersz/f:P_12") == ["np II"]
    assert text(root, "//f:P_13_9") + text(root, "//f:P_15") == ["240.00", "240.00"]
    assert text(root, "//f:Adnotacje/f:P_18") == ["1"]  # "odwrotne obciążenie"


def test_greek_business_keeps_el_in_its_vat_number_and_gr_in_its_address():
    greek = {**DE_COMPANY, "nip": "EL123456789", "country": "GR", "city": "Athína", "postcode": "10431"}
    root = parsed(invoice(buyer=greek, lines=[line(24000, rate="0", vat=0)]))
    assert text(root, "//f:Podmiot2//f:KodUE") + text(root, "//f:Podmiot2/f:Adres/f:KodKraju") == ["EL", "GR"]


def test_eu_consumer_pays_their_countrys_rate_through_oss():
    root = parsed(invoice(buyer=DE_CONSUMER, lines=[line(24000, rate="19", vat=4560)]))
    assert text(root, "//f:Podmiot2//f:BrakID") == ["1"]
    assert text(root, "//f:FaWiersz/f:P_12_XII") + text(root, "//f:FaWiersz/f:Procedura") == ["19", "WSTO_EE"]
    assert text(root, "//f:P_13_5") + text(root, "//f:P_14_5") + text(root, "//f:P_15") == ["240.00", "45.60", "285.60"]
    assert text(root, "//f:Adnotacje/f:P_18") == ["2"]


def test_outside_the_eu_is_not_taxed_in_poland():
    root = parsed(invoice(buyer=US_COMPANY, lines=[line(24000, rate="0", vat=0)]))
    assert text(root, "//f:Podmiot2/f:DaneIdentyfikacyjne/*[position() < 3]") == ["US", "12-3456789"]
    assert text(root, "//f:FaWiersz/f:P_12") + text(root, "//f:P_13_8") == ["np I", "240.00"]


def test_polish_consumer_without_a_nip():
    root = parsed(invoice(buyer=PL_CONSUMER, paid=True))
    assert text(root, "//f:Podmiot2//f:BrakID") + text(root, "//f:FaWiersz/f:P_12") == ["1", "23"]


def test_sale_date_when_it_differs_from_the_issue_date():
    document = invoice(sale_date="2026-11-30")
    del document["period"]
    assert text(parsed(document), "//f:Fa/f:P_6") == ["2026-11-30"]


def correction(**extra):
    return invoice(number="FK/2026/12/0001", issue_date="2026-12-10", created_at="2026-12-10T08:00:00Z",
                   correction={"number": "FV/2026/12/0001", "issue_date": "2026-12-02",
                               "ksef_number": "5260250274-20261202-0A1B2C3D4E5F-E2", "reason": "Zwrot: rezygnacja",
                               "pairs": [{"before": line(24000), "after": None}], **extra})  # fmt: skip


def test_correction_refers_to_the_corrected_invoice_its_ksef_number_and_shows_before_and_after():
    root = parsed(correction())
    assert text(root, "//f:RodzajFaktury") + text(root, "//f:PrzyczynaKorekty") == ["KOR", "Zwrot: rezygnacja"]
    assert text(root, "//f:DaneFaKorygowanej/f:NrFaKorygowanej") == ["FV/2026/12/0001"]
    assert text(root, "//f:DaneFaKorygowanej/f:DataWystFaKorygowanej") == ["2026-12-02"]
    assert text(root, "//f:DaneFaKorygowanej/f:NrKSeFFaKorygowanej") == ["5260250274-20261202-0A1B2C3D4E5F-E2"]
    assert text(root, "//f:FaWiersz/f:StanPrzed") == ["1"]  # the first row is the state before
    assert text(root, "//f:FaWiersz/f:P_11") == ["240.00", "0.00"]
    assert text(root, "//f:P_13_1") + text(root, "//f:P_14_1") + text(root, "//f:P_15") == [
        "-240.00",
        "-55.20",
        "-295.20",
    ]


def test_correction_of_a_price_and_of_an_invoice_issued_outside_ksef():
    pairs = [{"before": line(24000), "after": line(20000)}]
    root = parsed(correction(ksef_number="", pairs=pairs, reason="Korekta ceny"))
    assert text(root, "//f:DaneFaKorygowanej/f:NrKSeFN") == ["1"]
    assert text(root, "//f:P_13_1") + text(root, "//f:P_15") == ["-40.00", "-49.20"]


def test_the_same_invoice_is_the_same_bytes():
    assert fa3.build(invoice()) == fa3.build(invoice())


def test_a_document_against_the_schema_is_refused_naming_the_element():
    root = etree.fromstring(fa3.build(invoice()))
    number = root.find(".//f:Fa/f:P_2", NS)
    number.getparent().remove(number)
    with pytest.raises(fa3.Fa3Invalid, match="P_"):
        fa3.validate(etree.tostring(root))
    with pytest.raises(fa3.Fa3Invalid):
        fa3.validate(b"<Faktura>not FA(3)")


def test_an_invoice_that_cannot_be_fa3_is_refused_before_any_xml():
    with pytest.raises(fa3.Fa3Invalid):
        fa3.build(invoice(lines=[line(24000, rate="24")]))  # no such Polish rate


def test_validation_is_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the XSD check tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    fa3.validate(fa3.build(invoice(buyer=DE_CONSUMER, lines=[line(24000, rate="19", vat=4560)])))


def test_a_consumer_who_gave_no_address_is_a_buyer_without_one():
    root = parsed(invoice(buyer={**PL_CONSUMER, "street": "", "postcode": "", "city": ""}))
    assert text(root, "//f:Podmiot2/f:DaneIdentyfikacyjne/f:Nazwa") == ["Jan Kowalski"]
    assert root.xpath("//f:Podmiot2/f:Adres", namespaces=NS) == []
