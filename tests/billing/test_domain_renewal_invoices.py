"""billing.issue_item_invoice: an unpaid invoice for an item another service prices, once per key."""

from __future__ import annotations

import pytest
from nameko.exceptions import UnknownService

from kernel.errors import CommandError, Conflict
from tests.billing.conftest import STAFF

QUOTE = {"description": "Odnowienie domeny zażółć.pl na 1 rok", "net": 8900, "vat_rate": 23, "currency": "PLN",
         "params": {"domain_id": "d1", "domain": "xn--za-6ja4f8n1l.pl", "years": 1}}  # fmt: skip


def test_issues_one_unpaid_invoice_per_key_priced_by_the_owner(billing, published):
    billing.domains.quote_cart_item.return_value = QUOTE
    first = billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1", "years": 1}, "renew:d1:2027", STAFF)
    again = billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1", "years": 1}, "renew:d1:2027", STAFF)
    assert first["invoice_id"] == again["invoice_id"] and first["number"]
    assert (first["status"], first["total_gross"]) == ("unpaid", 8900 + 2047)
    billing.domains.quote_cart_item.assert_called_once_with("a1", "domain_renewal", {"domain_id": "d1", "years": 1})
    assert len(published.of("invoice_issued")) == 1
    line = billing.get_invoice("a1", first["invoice_id"])["lines"][0]
    assert (line["kind"], line["params"]["domain_id"], line["description"]) == ("domain_renewal", "d1",
                                                                                 QUOTE["description"])  # fmt: skip
    assert billing.get_cart("a1")["items"] == []  # the cart is not touched


def test_paying_it_publishes_invoice_paid_with_the_line(billing, published):
    billing.domains.quote_cart_item.return_value = QUOTE
    invoice = billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1"}, "renew:d1:2028", STAFF)
    billing.add_credit("a1", 20000, STAFF)
    billing.pay_invoice("a1", invoice["invoice_id"], "credit")
    paid = published.of("invoice_paid")
    assert [m["data"]["invoice_id"] for m in paid] == [invoice["invoice_id"]]
    assert paid[0]["data"]["lines"][0]["kind"] == "domain_renewal"


def test_refusals_issue_nothing(billing, published):
    with pytest.raises(CommandError) as kind:
        billing.issue_item_invoice("a1", "hosting", {}, "some-key-1", STAFF)
    assert kind.value.fields == {"kind": "invalid_kind"}
    with pytest.raises(CommandError) as key:
        billing.issue_item_invoice("a1", "domain_renewal", {}, "short", STAFF)
    assert key.value.fields == {"idempotency_key": "invalid_idempotency_key"}
    billing.domains.quote_cart_item.side_effect = Conflict("domains_not_renewable")
    with pytest.raises(CommandError) as refused:
        billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1"}, "renew:d1:2029", STAFF)
    assert refused.value.code == "domains_not_renewable"
    billing.domains.quote_cart_item.side_effect = UnknownService("domains")
    with pytest.raises(CommandError) as down:
        billing.issue_item_invoice("a1", "domain_renewal", {"domain_id": "d1"}, "renew:d1:2029", STAFF)
    assert down.value.code == "domains_unavailable"
    assert published.of("invoice_issued") == [] and billing.list_invoices("a1")["total"] == 0
