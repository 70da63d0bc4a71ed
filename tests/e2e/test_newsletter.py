"""The newsletter against the real stack: staff send it, only opted-in customers get
it, each with a one-click unsubscribe link (also as List-Unsubscribe) that works
without logging in and takes effect at once."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests

from kernel.caller import SignedClusterRpcProxy
from kernel.errors import CommandError
from tests.e2e.helpers import bearer, csrf, register_verified, wait_for
from tests.e2e.test_staff_desk import STAFF_PASSWORD, staff  # noqa: F401 (the staff fixture)
from tests.e2e.test_support_pages import login_browser
from tools.seed import find_mail, mail_text, wait_for_mail

STAFF = {"actor": {"type": "staff", "id": "staff-e2e"}, "ip": "127.0.0.1"}
UNSUBSCRIBE_RE = re.compile(r"(http://\S+/unsubscribe/[A-Za-z0-9._\-]+)")


def _cluster(stack) -> SignedClusterRpcProxy:
    return SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, STAFF, timeout=60)


def _send(stack, tag: str, ctx: dict = STAFF) -> dict:
    """Queue a newsletter the way the staff page does, then wait until it has been delivered."""
    with _cluster(stack) as cluster:
        queued = cluster.notifications.send_newsletter(
            f"Nowości {tag}",
            "Nowy plan hostingu.\n\nZapraszamy!",
            f"News {tag}",
            "A new hosting plan.\n\nWelcome!",
            ctx=ctx,
        )

        def delivered() -> dict | None:
            status = cluster.notifications.newsletter_status(queued["newsletter_id"])
            return status if status["delivered"] else None

        return wait_for(delivered, what="the newsletter delivered")


def test_newsletter_reaches_only_opted_in_customers_and_unsubscribes_without_login(stack, request):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    reader_email, reader = register_verified(base, mail_dir)
    english_email, english = register_verified(base, mail_dir, language="en")
    silent_email, _ = register_verified(base, mail_dir)
    for token in (reader, english):
        joined = requests.patch(
            f"{base}/api/v1/profile", headers=bearer(token), json={"mailing_list": True}, timeout=15
        )
        assert joined.status_code == 200 and joined.json()["mailing_list"] is True
    tag, since = uuid.uuid4().hex[:8], time.time() - 1

    with pytest.raises(CommandError) as refused:
        _send(stack, tag, ctx={"actor": {"type": "customer", "id": "x"}})
    assert refused.value.code == "caller_not_allowed"
    assert login_browser(base, reader_email).get(f"{base}/staff/newsletter").status_code == 404  # staff only

    desk = login_browser(base, request.getfixturevalue("staff")["email"], STAFF_PASSWORD)
    page = desk.get(f"{base}/staff/newsletter")
    empty = desk.post(f"{base}/staff/newsletter", data={"csrf_token": csrf(page.text), "subject_pl": f"Nowości {tag}"})
    assert empty.status_code == 422 and f'value="Nowości {tag}"' in empty.text and 'id="e-body_pl"' in empty.text
    queued = desk.post(f"{base}/staff/newsletter", data={
        "csrf_token": csrf(page.text), "subject_pl": f"Nowości {tag}", "body_pl": "Nowy plan hostingu.\n\nZapraszamy!",
        "subject_en": f"News {tag}", "body_en": "A new hosting plan.\n\nWelcome!"})  # fmt: skip
    assert queued.status_code == 200 and "Newsletter przyjęty do wysyłki" in queued.text
    status_url = queued.url
    shown = wait_for(lambda: "Wysłano do odbiorców" in (text := desk.get(status_url).text) and text,
                     what="the newsletter delivered")  # fmt: skip
    assert int(re.search(r"Wysłano do odbiorców: (\d+)", shown).group(1)) >= 2
    # every mail went out: the customer who did not opt in has none
    assert find_mail(mail_dir, silent_email, tag, since=since) is None
    assert wait_for_mail(mail_dir, english_email, f"News {tag}", since=since)
    message = wait_for_mail(mail_dir, reader_email, f"Nowości {tag}", since=since)
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<http") and "/unsubscribe/" in header
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    link = UNSUBSCRIBE_RE.search(mail_text(message)).group(1)
    assert header == f"<{link}>"

    anonymous = requests.Session()
    page = anonymous.get(link)
    assert page.status_code == 200 and "Wypisz mnie" in page.text  # GET alone changes nothing
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(reader), timeout=15).json()["mailing_list"] is True
    done = anonymous.post(link)  # the page's button (and a mail client's one-click POST)
    assert done.status_code == 200 and "Wypisano z listy mailingowej" in done.text
    assert requests.get(f"{base}/api/v1/profile", headers=bearer(reader), timeout=15).json()["mailing_list"] is False
    history = requests.get(f"{base}/api/v1/account/history", headers=bearer(reader), timeout=15).json()["items"]
    assert history[0]["type"] == "mailing_list_unsubscribed" and history[0]["actor"]["type"] == "unsubscribe_link"
    forged = anonymous.post(link[:-4] + "abcd")
    assert forged.status_code == 400

    # a one-click POST from the English reader's mail client, straight from the header
    english_header = str(wait_for_mail(mail_dir, english_email, f"News {tag}", since=since)["List-Unsubscribe"])
    one_click = requests.post(english_header.strip("<>"), data={"List-Unsubscribe": "One-Click"}, timeout=15)
    assert one_click.status_code == 200

    second, later = uuid.uuid4().hex[:8], time.time()
    _send(stack, second)
    assert find_mail(mail_dir, reader_email, second, since=later) is None
    assert find_mail(mail_dir, english_email, second, since=later) is None
    # the sent newsletter is in the reader's e-mail history
    mails = requests.get(f"{base}/api/v1/emails", headers=bearer(reader), timeout=15).json()["items"]
    assert any(m["subject"] == f"Nowości {tag}" and m["category"] == "newsletter" for m in mails)
