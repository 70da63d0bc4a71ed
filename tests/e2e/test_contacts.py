"""Contacts against the real stack: an owner invites a billing contact who may pay
invoices but not see services or tickets (pages and API); removing the contact
ends their session; mail categories go to the owner by preference and to the
contacts who chose them, while security mail always reaches the owner."""

from __future__ import annotations

import re
import time
import uuid

import requests

from kernel.caller import SignedClusterRpcProxy
from tests.e2e.helpers import (
    PASSWORD,
    RESET_RE,
    bearer,
    csrf,
    register_verified,
    token_from_mail,
    unique_email,
    wait_for,
)
from tests.e2e.test_domains import _buy
from tools.seed import find_mail, mail_text, wait_for_mail

ACCEPT_RE = re.compile(r"/contacts/accept\?token=([A-Za-z0-9_\-]+)")
HOSTING = {"kind": "hosting", "params": {"plan": "hosting-start", "cycle": "monthly"}}
STAFF = {"actor": {"type": "staff", "id": "staff-e2e"}}


def page_login(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{base}/login")
    done = browser.post(f"{base}/login", data={"csrf_token": csrf(form.text), "email": email, "password": password})
    assert done.status_code == 200 and done.url.rstrip("/") == base, done.text[-500:]
    return browser


def unpaid_invoice(base: str, token: str) -> str:
    added = requests.post(f"{base}/api/v1/cart/items", headers=bearer(token), json=HOSTING, timeout=15)
    assert added.status_code == 201, added.text
    placed = requests.post(
        f"{base}/api/v1/cart/checkout",
        headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
        json={"payment_method": "bank_transfer"},
        timeout=30,
    )
    assert placed.status_code == 200, placed.text
    return placed.json()["invoice_id"]


def add_contact_on_the_page(base: str, browser: requests.Session, **fields) -> requests.Response:
    form = browser.get(f"{base}/contacts/new")
    assert form.status_code == 200 and "Nowe dane kontaktowe" in form.text
    data = {"csrf_token": csrf(form.text), "language": "pl", "address.country": "PL", **fields}
    return browser.post(f"{base}/contacts/new", data=data)


def test_billing_contact_pays_invoices_but_sees_no_services_or_tickets_until_removed(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    owner_email, owner_token = register_verified(base, mail_dir)
    invoice_id = unpaid_invoice(base, owner_token)
    owner = page_login(base, owner_email)
    contact_email, since = unique_email("ksiegowa"), time.time() - 1

    refused = add_contact_on_the_page(base, owner, first_name="Ewa", last_name="", email=contact_email, login="on")
    assert refused.status_code == 422 and "To pole jest wymagane." in refused.text
    assert f'value="{contact_email}"' in refused.text  # what was typed stays
    added = add_contact_on_the_page(base, owner, first_name="Ewa", last_name="Księgowa", email=contact_email,
                                    phone="+48 600 100 200", login="on", permissions=["invoices.view", "invoices.pay"],
                                    categories=["billing"])  # fmt: skip
    assert added.status_code == 200 and added.url.endswith("/contacts"), added.text[-500:]
    assert contact_email in added.text and "Opłacanie faktur" in added.text
    assert contact_email in owner.get(f"{base}/").text  # section 2 lists the contact

    token = token_from_mail(mail_dir, contact_email, ACCEPT_RE, since, subject="Zaproszenie")
    contact = requests.Session()
    accept = contact.get(f"{base}/contacts/accept", params={"token": token})
    accepted = contact.post(
        f"{base}/contacts/accept",
        data={"csrf_token": csrf(accept.text), "token": token, "password": PASSWORD, "password_repeat": PASSWORD},
    )
    assert accepted.status_code == 200 and "Hasło ustawione" in accepted.text
    contact = page_login(base, contact_email)

    dashboard = contact.get(f"{base}/").text
    assert "Witaj, Ewa!" in dashboard
    assert 'data-tile="unpaid_invoices"' in dashboard and 'href="/invoices"' in dashboard  # tile and navigation
    assert 'href="/services"' not in dashboard and 'href="/tickets"' not in dashboard
    for hidden in ('data-section="active_services"', 'data-section="recent_tickets"', 'data-section="renewals"',
                   'data-tile="services"', 'data-tile="tickets"', 'data-section="contacts"'):  # fmt: skip
        assert hidden not in dashboard, hidden
    for path in ("/services", "/tickets", "/contacts", "/account/history", "/emails"):
        page = contact.get(f"{base}{path}")
        assert page.status_code == 403 and "Nie masz uprawnień" in page.text, path

    api_login = requests.post(f"{base}/api/v1/auth/login", json={"email": contact_email, "password": PASSWORD},
                              timeout=15).json()  # fmt: skip
    owner_id = requests.get(f"{base}/api/v1/profile", headers=bearer(owner_token), timeout=15).json()["account_id"]
    assert api_login["account_id"] == owner_id and api_login["contact_id"]
    api = bearer(api_login["token"])
    invoices = wait_for(lambda: requests.get(f"{base}/api/v1/invoices", headers=api, timeout=15).json()["items"],
                        what="the owner's invoice seen by the contact")  # fmt: skip
    assert [i["invoice_id"] for i in invoices] == [invoice_id]
    paying = requests.post(f"{base}/api/v1/invoices/{invoice_id}/pay", headers=api,
                           json={"payment_method": "bank_transfer"}, timeout=15)  # fmt: skip
    assert paying.status_code == 200, paying.text
    for method, path in (("get", "/services"), ("get", "/tickets"), ("get", "/renewals"), ("post", "/tickets"),
                         ("get", "/contacts"), ("post", "/cart/items"), ("get", "/account/export")):  # fmt: skip
        denied = requests.request(method, f"{base}/api/v1{path}", headers=api, json={}, timeout=15)
        assert denied.status_code == 403, (path, denied.text)
        assert denied.json()["error"]["code"] == "permission_denied"
    assert requests.get(f"{base}/api/v1/dashboard", headers=api, timeout=15).json()["active_services"] == []

    contact_id = api_login["contact_id"]
    listing = owner.get(f"{base}/contacts")
    removed = owner.post(f"{base}/contacts/{contact_id}/remove", data={"csrf_token": csrf(listing.text)})
    assert removed.status_code == 200 and "Kontakt usunięty" in removed.text
    assert requests.get(f"{base}/api/v1/invoices", headers=api, timeout=15).status_code == 401
    gone = contact.get(f"{base}/invoices", allow_redirects=False)
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert contact_email not in owner.get(f"{base}/contacts").text


def test_owner_edits_a_contacts_permissions_and_another_account_cannot_touch_it(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    _, owner_token = register_verified(base, mail_dir)
    body = {"first_name": "Adam", "last_name": "Serwis", "email": unique_email("serwis"), "login": True,
            "permissions": ["services.view"], "categories": []}  # fmt: skip
    created = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), json=body, timeout=15)
    assert created.status_code == 201, created.text
    contact_id = created.json()["contact_id"]
    bad = requests.patch(f"{base}/api/v1/contacts/{contact_id}", headers=bearer(owner_token), timeout=15,
                         json={"permissions": ["services.destroy"]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["permissions"]["code"] == "unknown_permission"
    since = time.time()
    resent = requests.post(f"{base}/api/v1/contacts/{contact_id}/invitation", headers=bearer(owner_token), timeout=15)
    assert resent.status_code == 200, resent.text
    token = token_from_mail(stack.var / "mail", body["email"], ACCEPT_RE, since, subject="Zaproszenie")
    # the owner's e-mail history keeps the invitation, never the contact's link token
    mails = requests.get(f"{base}/api/v1/emails", headers=bearer(owner_token), timeout=15).json()["items"]
    kept = [m for m in mails if m["to"] == body["email"]]
    assert len(kept) == 2
    for mail in kept:
        opened = requests.get(f"{base}/api/v1/emails/{mail['mail_id']}", headers=bearer(owner_token), timeout=15)
        text = opened.json()["text"]
        assert "/contacts/accept?token=" in text and not ACCEPT_RE.search(text) and token not in opened.text
    changed = requests.patch(f"{base}/api/v1/contacts/{contact_id}", headers=bearer(owner_token), timeout=15,
                             json={"permissions": ["services.view", "tickets.view"]})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["permissions"] == ["services.view", "tickets.view"]
    again = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), json=body, timeout=15)
    assert again.status_code == 409 and again.json()["error"]["fields"]["email"]["code"] == "email_taken"
    _, stranger = register_verified(base, mail_dir)
    for method in ("get", "patch", "delete"):
        response = requests.request(method, f"{base}/api/v1/contacts/{contact_id}", headers=bearer(stranger),
                                    json={"first_name": "X"}, timeout=15)  # fmt: skip
        assert response.status_code == 404, (method, response.text)
    removed = requests.delete(f"{base}/api/v1/contacts/{contact_id}", headers=bearer(owner_token), timeout=15)
    assert removed.status_code == 200, removed.text
    gone = requests.get(f"{base}/api/v1/contacts/{contact_id}", headers=bearer(owner_token), timeout=15)
    assert gone.status_code == 404


def test_a_switched_off_category_stays_silent_for_the_owner_while_contacts_and_security_mail_still_arrive(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    owner_email, owner_token = register_verified(base, mail_dir)
    off = requests.patch(f"{base}/api/v1/profile", headers=bearer(owner_token), timeout=15,
                         json={"notification_preferences": {"billing": False, "security": False}})  # fmt: skip
    assert off.status_code == 200 and off.json()["notification_preferences"]["billing"] is False
    assert off.json()["notification_preferences"]["security"] is True  # cannot be switched off
    bookkeeper = unique_email("mail-only")
    added = requests.post(
        f"{base}/api/v1/contacts",
        headers=bearer(owner_token),
        timeout=15,
        json={
            "first_name": "Ola",
            "last_name": "Biuro",
            "email": bookkeeper,
            "login": False,
            "categories": ["billing"],
        },
    )
    assert added.status_code == 201 and added.json()["permissions"] == []
    since = time.time() - 1
    invoice_id = unpaid_invoice(base, owner_token)
    # the issued invoice is a legal notice: it reaches the owner in spite of the switch, and the contact
    issued = wait_for_mail(mail_dir, owner_email, "Nowa faktura", since=since)
    assert wait_for_mail(mail_dir, bookkeeper, "Nowa faktura", since=since)
    wait_for(lambda: requests.get(f"{base}/api/v1/invoices/{invoice_id}", headers=bearer(owner_token),
                                  timeout=15).json().get("number"), what="the invoice number")  # fmt: skip
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as cluster:
        cluster.billing.mark_invoice_paid(invoice_id, ctx=STAFF)
    # the contact who chose billing gets the payment mail; the owner, who switched billing off, does not
    assert wait_for_mail(mail_dir, bookkeeper, "Płatność przyjęta", since=since)
    assert find_mail(mail_dir, owner_email, "Płatność przyjęta", since=since) is None
    assert find_mail(mail_dir, bookkeeper, "Zaproszenie", since=since - 60) is None  # no login, no invitation
    # security mail still arrives
    requests.post(f"{base}/api/v1/auth/password-reset", json={"email": owner_email}, timeout=15)
    assert token_from_mail(mail_dir, owner_email, RESET_RE, since, subject="Ustaw nowe hasło")
    # and both are in the owner's e-mail history, with the mail the owner can open
    history = requests.get(f"{base}/api/v1/emails", headers=bearer(owner_token), timeout=15).json()["items"]
    assert {"to": bookkeeper, "category": "billing"} in [{"to": m["to"], "category": m["category"]} for m in history]
    assert issued["Subject"] in [m["subject"] for m in history]


def test_a_customer_who_turned_off_domain_mails_gets_none_while_a_contact_who_chose_them_does(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    owner_email, owner_token = register_verified(base, mail_dir)
    off = requests.patch(f"{base}/api/v1/profile", headers=bearer(owner_token), timeout=15,
                         json={"notification_preferences": {"domains": False}})  # fmt: skip
    assert off.status_code == 200 and off.json()["notification_preferences"]["domains"] is False
    webmaster = unique_email("webmaster")
    added = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), timeout=15, json={
        "first_name": "Piotr", "last_name": "Domeny", "email": webmaster, "categories": ["domains"]})  # fmt: skip
    assert added.status_code == 201, added.text
    since, name = time.time() - 1, f"sklep-{uuid.uuid4().hex[:8]}.pl"
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as services:
        _buy(base, owner_token, services, "domain_registration", {"domain": name, "years": 1})
    # one decision per mail: the contact's copy is sent right after the owner's was skipped
    registered = wait_for_mail(mail_dir, webmaster, "Domena zarejestrowana", since=since)
    assert name in mail_text(registered)
    assert find_mail(mail_dir, owner_email, "Domena zarejestrowana", since=since) is None
    assert wait_for_mail(mail_dir, owner_email, "Nowa faktura", since=since)  # the legal notice still reaches them


def test_a_contact_who_forgot_their_password_resets_it_by_mail(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    _, owner_token = register_verified(base, mail_dir)
    contact_email, since = unique_email("zapominalska"), time.time() - 1
    added = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), timeout=15, json={
        "first_name": "Iga", "last_name": "Nowak", "email": contact_email, "login": True,
        "permissions": ["tickets.view"], "language": "en"})  # fmt: skip
    assert added.status_code == 201, added.text
    invitation = token_from_mail(mail_dir, contact_email, ACCEPT_RE, since, subject="invited you")
    browser = requests.Session()
    form = browser.get(f"{base}/contacts/accept", params={"token": invitation})
    browser.post(f"{base}/contacts/accept", data={"csrf_token": csrf(form.text), "token": invitation,
                                                  "password": PASSWORD, "password_repeat": PASSWORD})  # fmt: skip
    asked = requests.post(f"{base}/api/v1/auth/password-reset", json={"email": contact_email}, timeout=15)
    assert asked.status_code == 202
    token = token_from_mail(mail_dir, contact_email, RESET_RE, since, subject="Set a new password")
    done = requests.post(f"{base}/api/v1/auth/password-reset/confirm", timeout=15,
                         json={"token": token, "password": "Nowe-Haslo-Kontaktu-1"})  # fmt: skip
    assert done.status_code == 200, done.text
    login = requests.post(f"{base}/api/v1/auth/login", timeout=15,
                          json={"email": contact_email, "password": "Nowe-Haslo-Kontaktu-1"})  # fmt: skip
    assert login.status_code == 200 and login.json()["contact_id"] == added.json()["contact_id"]


def invited_contact(base: str, mail_dir, owner_token: str, permissions: list[str]) -> tuple[str, requests.Session]:
    """A contact the owner adds through the API with `permissions`, who accepts the
    invitation: their API token and a logged-in browser."""
    contact_email, since = unique_email("kontakt"), time.time() - 1
    added = requests.post(f"{base}/api/v1/contacts", headers=bearer(owner_token), timeout=15, json={
        "first_name": "Olga", "last_name": "Kontakt", "email": contact_email, "login": True,
        "permissions": permissions})  # fmt: skip
    assert added.status_code == 201 and added.json()["permissions"] == permissions, added.text
    invitation = token_from_mail(mail_dir, contact_email, ACCEPT_RE, since, subject="Zaproszenie")
    browser = requests.Session()
    form = browser.get(f"{base}/contacts/accept", params={"token": invitation})
    accepted = browser.post(f"{base}/contacts/accept", data={"csrf_token": csrf(form.text), "token": invitation,
                                                             "password": PASSWORD, "password_repeat": PASSWORD})  # fmt: skip
    assert accepted.status_code == 200, accepted.text[-500:]
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": contact_email, "password": PASSWORD},
                          timeout=15)  # fmt: skip
    assert login.status_code == 200 and login.json()["contact_id"] == added.json()["contact_id"], login.text
    return login.json()["token"], page_login(base, contact_email)


def test_a_contact_without_invoice_rights_gets_403_on_the_invoice_api_and_sees_no_invoice_section(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    _, owner_token = register_verified(base, mail_dir)
    invoice_id = unpaid_invoice(base, owner_token)
    token, browser = invited_contact(base, mail_dir, owner_token, ["services.view"])
    api = bearer(token)

    for method, path in (("get", "/invoices"), ("get", f"/invoices/{invoice_id}"),
                         ("get", f"/invoices/{invoice_id}/pdf"), ("post", f"/invoices/{invoice_id}/pay")):  # fmt: skip
        denied = requests.request(method, f"{base}/api/v1{path}", headers=api, timeout=15,
                                  json={"payment_method": "bank_transfer"} if method == "post" else None)  # fmt: skip
        assert denied.status_code == 403, (path, denied.text)
        assert denied.json()["error"]["code"] == "permission_denied", path
    assert requests.get(f"{base}/api/v1/services", headers=api, timeout=15).status_code == 200  # what they may see

    board = requests.get(f"{base}/api/v1/dashboard", headers=api, timeout=15)
    assert board.status_code == 200, board.text
    assert "tiles.unpaid_invoices" in board.json()["hidden"] and board.json()["tiles"]["unpaid_invoices"] is None
    assert "tiles.services" not in board.json()["hidden"]
    page = browser.get(f"{base}/")
    assert page.status_code == 200 and "Witaj, Olga!" in page.text
    assert 'data-tile="unpaid_invoices"' not in page.text and 'href="/invoices' not in page.text
    assert 'data-tile="services"' in page.text
    fragment = browser.get(f"{base}/dashboard/fragment", params={"sections": "tiles"})
    assert fragment.status_code == 200 and 'data-tile="unpaid_invoices"' not in fragment.text
    for path in ("/invoices", f"/invoices/{invoice_id}", f"/invoices/{invoice_id}/pdf"):
        refused = browser.get(f"{base}{path}")
        assert refused.status_code == 403 and "Nie masz uprawnień" in refused.text, path
    # the owner's invoice was not paid by the refused call
    owner_view = requests.get(f"{base}/api/v1/invoices/{invoice_id}", headers=bearer(owner_token), timeout=15)
    assert owner_view.json()["status"] == "unpaid"


def test_a_contact_with_invoice_rights_lists_reads_and_pays_invoices(stack):
    base, mail_dir = stack.gateway_url, stack.var / "mail"
    _, owner_token = register_verified(base, mail_dir)
    invoice_id = unpaid_invoice(base, owner_token)
    token, browser = invited_contact(base, mail_dir, owner_token, ["invoices.view", "invoices.pay"])
    api = bearer(token)

    listed = wait_for(lambda: requests.get(f"{base}/api/v1/invoices", headers=api, timeout=15).json()["items"],
                      what="the owner's invoice listed for the contact")  # fmt: skip
    assert [i["invoice_id"] for i in listed] == [invoice_id]
    one = requests.get(f"{base}/api/v1/invoices/{invoice_id}", headers=api, timeout=15)
    assert one.status_code == 200 and one.json()["invoice_id"] == invoice_id
    pdf = requests.get(f"{base}/api/v1/invoices/{invoice_id}/pdf", headers=api, timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    board = requests.get(f"{base}/api/v1/dashboard", headers=api, timeout=15).json()
    assert "tiles.unpaid_invoices" not in board["hidden"] and board["tiles"]["unpaid_invoices"] is not None
    assert 'data-tile="unpaid_invoices"' in browser.get(f"{base}/").text
    paying = requests.post(f"{base}/api/v1/invoices/{invoice_id}/pay", headers=api, timeout=15,
                           json={"payment_method": "bank_transfer"})  # fmt: skip
    assert paying.status_code == 200, paying.text
    assert requests.get(f"{base}/api/v1/services", headers=api, timeout=15).status_code == 403
