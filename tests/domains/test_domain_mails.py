"""Domain mails: which events mail the customer, in their language, honouring the "domains" choice."""

from __future__ import annotations

import uuid

from kernel import clock
from tests.contract_examples import event_data
from tests.notifications import test_billing_mails

# The billing mail tests' notifications worker (target account a1) and captured outbox.
_worker = test_billing_mails._worker
sent = test_billing_mails.sent

DOMAIN = {"account_id": "a1", "domain_id": "d1", "name": "xn--za-6ja4f8n1l.pl", "unicode_name": "zażółć.pl"}
EXPIRES = {"expires_at": "2027-11-23T10:00:00"}
EVENTS = [
    ("on_domain_registered", "domain_registered", EXPIRES),
    ("on_domain_registration_failed", "domain_registration_failed", {"code": "domains_taken", "temporary": False,
                                                                      "attempts": 1}),
    ("on_domain_transferred_in", "domain_transferred_in", EXPIRES),
    ("on_domain_transfer_rejected", "domain_transfer_rejected", {"reason": "domains_invalid_epp_code"}),
    ("on_domain_expired", "domain_expired", {**EXPIRES, "status": "grace_period"}),
    ("on_domain_expired", "domain_expired", {**EXPIRES, "status": "redemption"}),
]  # fmt: skip


def _message(event_type: str, data: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "stream_id": "domain-d1", "version": 1, "type": event_type,
            "occurred_at": clock.now().isoformat() + "Z", "data": event_data(event_type, **DOMAIN, **data), "meta": {}}  # fmt: skip


def test_domain_events_mail_the_customer_in_their_language(mongo_alias, sent):
    worker = _worker(mongo_alias, {}, language="en")
    for handler, event_type, data in EVENTS:
        getattr(worker, handler)(_message(event_type, data))
    assert [mail.subject for _, mail in sent] == [
        "Domain registered: zażółć.pl", "Registration of zażółć.pl failed", "Transfer completed: zażółć.pl",
        "Transfer of zażółć.pl failed", "The domain zażółć.pl has expired",
        "The domain zażółć.pl has expired: last chance to renew"]  # fmt: skip
    assert "/domains/d1" in sent[0][1].text and "2027-11-23" in sent[0][1].text
    assert "NOT registered" in sent[1][1].text and "EPP (auth) code is wrong" in sent[3][1].text


def test_polish_by_default_and_temporary_failures_mailed_once(mongo_alias, sent):
    worker = _worker(mongo_alias, {})
    worker.on_domain_registration_failed(_message("domain_registration_failed", {"code": "x", "temporary": True,
                                                                                  "attempts": 1}))  # fmt: skip
    worker.on_domain_registration_failed(_message("domain_registration_failed", {"code": "x", "temporary": True,
                                                                                  "attempts": 2}))  # fmt: skip
    worker.on_domain_expired(_message("domain_expired", {"status": "expired"}))
    assert [mail.subject for _, mail in sent] == ["Rejestracja domeny zażółć.pl nie powiodła się"]
    assert "spróbujemy ponownie automatycznie" in sent[0][1].text


def test_switched_off_domain_mails_are_not_sent(mongo_alias, sent):
    worker = _worker(mongo_alias, {"domains": False})
    for handler, event_type, data in EVENTS:
        getattr(worker, handler)(_message(event_type, data))
    assert sent == []
