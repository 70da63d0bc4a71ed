"""The withdrawal's acknowledgement mail (billing's `service_withdrawn`): one refund, a refund split
between the card and credit (its `refunds` parts), and an event recorded before the parts existed."""

from __future__ import annotations

from tests.notifications.test_billing_mails import SERVICE, _message, _worker, sent  # noqa: F401 (fixture)

WITHDRAWN = {**SERVICE, "invoice_id": "inv-1", "correction_id": "kor-1", "withdrawn_at": "2026-11-23T10:00:00"}


def _mail(worker, sent, data: dict) -> str:  # noqa: F811
    worker.on_service_withdrawn(_message("service_withdrawn", {**WITHDRAWN, **data}))
    [(_, mail)] = sent[-1:]
    return mail.text.replace("\xa0", " ")


def test_one_refund_to_credit_and_an_event_from_before_the_parts(mongo_alias, sent):  # noqa: F811
    worker = _worker(mongo_alias, {})
    text = _mail(worker, sent, {"refund": 1250, "refund_method": "credit"})  # no `refunds`: recorded before
    assert "wystawiliśmy fakturę korygującą i zwróciliśmy 12,50 zł na saldo Twojego konta." in text, text
    parts = [{"invoice_id": "inv-1", "correction_id": "kor-1", "amount": 1250, "method": "card", "refund_id": "re_1"}]
    text = _mail(worker, sent, {"refund": 1250, "refund_method": "card", "refunds": parts})
    assert "fakturę korygującą i zwróciliśmy 12,50 zł na kartę, którą zapłacono." in text, text


def test_a_refund_split_between_the_card_and_credit_says_both(mongo_alias, sent):  # noqa: F811
    worker = _worker(mongo_alias, {})
    parts = [{"invoice_id": "inv-1", "correction_id": "kor-1", "amount": 1250, "method": "card", "refund_id": "re_1"},
             {"invoice_id": "inv-2", "correction_id": "kor-2", "amount": 2082, "method": "credit", "refund_id": None}]  # fmt: skip
    text = _mail(worker, sent, {"refund": 3332, "refund_method": "mixed", "refunds": parts})
    assert ("wystawiliśmy faktury korygujące i zwróciliśmy 33,32 zł: 12,50 zł na kartę, którą zapłacono, "
            "i 20,82 zł na saldo Twojego konta.") in text, text  # fmt: skip
