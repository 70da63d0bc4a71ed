"""Billing: catalogue, offer banner, cart and checkout, invoices, payments, hosting
services, renewals and overdue handling (seed sections 3-7)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import re
from typing import Any

import eventlet
from nameko.exceptions import MethodNotFound, RemoteError, UnknownService
from nameko.timer import timer

from kernel import clock, settings
from kernel.aggregate import execute
from kernel.caller import STAFF, STAFF_OR_SYSTEM, SYSTEM, ServiceRpc, rpc
from kernel.contracts import CART_ITEM_KINDS, CART_ITEM_OWNERS
from kernel.errors import CommandError, Conflict, Invalid, NotFound, Unavailable
from kernel.events import command_meta, new_id
from kernel.money import CURRENCY, discounted, invoice_line, totals
from kernel.service import EventSourcedService
from services.billing import cart as carts
from services.billing import catalog, payments, pdf
from services.billing.catalog import CYCLE_NAMES, CYCLES, Plan, add_months
from services.billing.domain import (
    LIVE,
    SERVICE_STATUSES,
    Customer,
    InvoiceLedger,
    Offer,
    Policy,
    customer_stream,
    det_id,
    iso,
    ledger_stream,
    month_of,
    offer_active,
    validate_offer,
)
from services.billing.projections import (
    PROJECTIONS,
    UNPAID_SETS,
    CustomerView,
    InvoiceView,
    OfferView,
    OrderView,
    ServiceView,
    domain_renewal_only,
    ts,
)

log = logging.getLogger(__name__)
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
RPC_TIMEOUT = float(os.environ.get("BILLING_RPC_TIMEOUT", "5"))
CYCLE_SECONDS = int(os.environ.get("BILLING_CYCLE_SECONDS", "300"))
# Racing issuers of one month's ledger retry on fresh state; each retry takes the next number.
LEDGER_RETRIES = 50
# A customer's own racing commands (parallel payments, checkouts) are decided again this many times, then 409.
CONFLICT_RETRIES = 10


def seller() -> dict[str, str]:
    return {
        "name": settings.env("SELLER_NAME", "Panel Hosting sp. z o.o."),
        "street": settings.env("SELLER_STREET", "ul. Świętokrzyska 12"),
        "postcode": settings.env("SELLER_POSTCODE", "00-916"),
        "city": settings.env("SELLER_CITY", "Warszawa"),
        "country": settings.env("SELLER_COUNTRY", "PL"),
        "nip": settings.env("SELLER_NIP", "5260250274"),
        "bank_account": settings.env("SELLER_BANK_ACCOUNT", "PL61 1090 1014 0000 0712 1981 2874"),
    }


def buyer_from_profile(profile: dict[str, Any]) -> dict[str, str]:
    """The buyer block frozen on an invoice, from accounts' profile as it is now."""
    address = profile.get("billing_address") or {}
    person = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
    return {
        "name": address.get("company") or person,
        "person": person,
        "company": address.get("company", ""),
        "nip": address.get("nip", ""),
        "street": address.get("street", ""),
        "postcode": address.get("postcode", ""),
        "city": address.get("city", ""),
        "country": address.get("country", "") or "PL",
        "email": profile.get("email", ""),
    }


def _one_page(found: Any, page: int, per_page: int, item: Any) -> dict[str, Any]:
    """One page of a query's documents, each turned into its dict by `item`, with the paging figures."""
    total = found.count()
    items = [item(v) for v in found.skip((page - 1) * per_page).limit(per_page)]
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": max(1, -(-total // per_page))}


def _page(value: Any, default: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, maximum))


class BillingService(EventSourcedService):
    name = "billing"
    projections = PROJECTIONS
    documents = [Plan, carts.Cart, payments.PaymentIntent]

    accounts = ServiceRpc("accounts")
    domains = ServiceRpc("domains")
    demo_catalog = catalog.DemoCatalog()
    sandbox_guard = payments.SandboxGuard()  # refuses to start with the built-in webhook secret outside development

    # ------------------------------------------------------------------ remote calls
    def _remote(self, owner: str, method: str, *args: Any) -> Any:
        """Call another service; a missing or silent owner becomes `<owner>_unavailable`."""
        proxy = getattr(self, owner)
        try:
            with eventlet.Timeout(RPC_TIMEOUT):
                return getattr(proxy, method)(*args)
        except (CommandError, NotFound):
            raise
        except (UnknownService, MethodNotFound, RemoteError, eventlet.Timeout, OSError) as exc:
            log.warning("%s.%s failed: %r", owner, method, exc)
            raise Unavailable(f"{owner}_unavailable") from None

    def _buyer(self, account_id: str) -> dict[str, str]:
        return buyer_from_profile(self._remote("accounts", "get_profile", account_id))

    # ------------------------------------------------------------------ catalogue
    @rpc(actors=STAFF_OR_SYSTEM)
    def seed_demo_catalog(self) -> dict[str, int]:
        return {"added": catalog.seed_demo_catalog()}

    @rpc
    def get_catalog(self, language: str = "pl") -> dict[str, Any]:
        return {"plans": catalog.get_catalog(language), "currency": CURRENCY}

    # ------------------------------------------------------------------ offer banner
    @rpc(actors=STAFF_OR_SYSTEM)
    def set_offer(self, title: str, text: str, link: str, starts_at: str, ends_at: str,
                  discount_code: str | None = None, discount_percent: int | None = None,
                  ctx: dict | None = None, title_en: str | None = None,
                  text_en: str | None = None) -> dict[str, Any]:  # fmt: skip
        """`title`/`text` in Polish; `title_en`/`text_en` the optional English banner (by keyword)."""
        offer = validate_offer(title, text, link, starts_at, ends_at, discount_code, discount_percent,
                               title_en, text_en)  # fmt: skip
        execute(self.events, Offer, "offer", lambda o: o.set(offer), command_meta(ctx))
        return OfferView.objects(id="current").first().public()

    @rpc
    def get_current_offer(self) -> dict[str, Any] | None:
        view = OfferView.objects(id="current").first()
        if not view or not offer_active({"starts_at": view.starts_at, "ends_at": view.ends_at}, clock.now()):
            return None
        return view.public()

    def _discount_percent(self, code: str | None) -> int:
        if not code:
            return 0
        offer = self.get_current_offer()
        if not offer or not offer["discount_code"] or offer["discount_code"] != code.strip().upper():
            raise Invalid("invalid_input", {"discount_code": "invalid_discount_code"})
        return offer["discount_percent"]

    # ------------------------------------------------------------------ cart
    @rpc
    def get_cart(self, account_id: str) -> dict[str, Any]:
        return self._cart_view(account_id)

    def _cart_view(self, account_id: str) -> dict[str, Any]:
        cart = carts.load(account_id)
        try:
            percent = self._discount_percent(cart.discount_code)
            discount_error = None
        except CommandError:
            percent, discount_error = 0, "invalid_discount_code"
        priced = [self._price_item(item, percent) for item in cart.items]
        lines = [p["line"] for p in priced if p["line"]]
        reused = [p["reused_invoice"] for p in priced if p["reused_invoice"]]
        sums = totals(lines)
        reused_gross = sum(r["amount_due"] for r in reused)
        items = [{**p["item"], **({k: p["line"][k] for k in ("net", "vat_rate", "vat", "gross")} if p["line"] else {}),
                  **({"gross": p["reused_invoice"]["amount_due"], "invoice": p["reused_invoice"]}
                     if p["reused_invoice"] else {})}
                 for p in priced]  # fmt: skip
        return {"account_id": account_id, "items": items, "discount_code": cart.discount_code,
                "discount_percent": percent, "discount_error": discount_error,
                "totals": {**sums, "total_gross": sums["total_gross"] + reused_gross, "new_gross": sums["total_gross"],
                           "renewals_gross": reused_gross}}  # fmt: skip

    def _price_item(self, item: dict[str, Any], percent: int) -> dict[str, Any]:
        """Invoice line for a new item (hosting priced from today's catalogue), or
        the already-issued renewal invoice an item points at."""
        public = {k: item[k] for k in ("item_id", "kind", "params", "description") if k in item}
        if item["kind"] == "hosting":
            plan = Plan.objects(id=item["params"]["plan"]).first()
            if not plan or plan.active != "yes" or item["params"]["cycle"] not in plan.prices:
                raise Conflict("invalid_input", {"items": "plan_unavailable"})
            net = discounted(plan.prices[item["params"]["cycle"]], percent)
            params = {**item["params"], "name": _service_name(plan, item["params"].get("domain"))}
            description = _hosting_description(plan, item["params"])
            return {"item": {**public, "description": description, "discount_percent": percent},
                    "line": invoice_line("hosting", description, params, net, plan.vat_rate), "reused_invoice": None}  # fmt: skip
        if item.get("invoice_id"):  # a renewal (hosting or domain) billed already: its invoice is reused
            invoice = InvoiceView.objects(id=item["invoice_id"]).first()
            summary = invoice.summary() if invoice else None
            return {"item": {**public, "invoice_id": item["invoice_id"]}, "line": None, "reused_invoice": summary}
        quote = item["quote"]
        line = invoice_line(item["kind"], quote["description"], quote.get("params") or item["params"], quote["net"],
                            quote.get("vat_rate", 23))  # fmt: skip
        return {"item": public, "line": line, "reused_invoice": None}

    @rpc
    def add_cart_item(
        self, account_id: str, kind: str, params: dict[str, Any], ctx: dict | None = None
    ) -> dict[str, Any]:
        if kind not in CART_ITEM_KINDS:
            raise Invalid("invalid_input", {"kind": "invalid_kind"})
        if not isinstance(params, dict):
            raise Invalid("invalid_input", {"params": "invalid_type"})
        item: dict[str, Any] = {"item_id": new_id(), "kind": kind, "added_at": iso(clock.now())}
        if kind == "hosting":
            item["params"] = self._hosting_params(params)
            item["description"] = ""
        elif kind == "hosting_renewal":
            service_id = params.get("service_id")
            invoice_id = self._renewal_invoice(account_id, service_id, ctx)
            item.update(params={"service_id": service_id}, invoice_id=invoice_id, description="")
        elif kind == "domain_renewal" and (issued := self._issued_domain_renewal(account_id, params)):
            invoice, line = issued
            item.update(params=dict(line.get("params") or {}), invoice_id=invoice.id, description=line["description"])
        else:
            owner = CART_ITEM_OWNERS[kind]
            quote = self._remote(owner, "quote_cart_item", account_id, kind, params)
            if not isinstance(quote, dict) or not isinstance(quote.get("net"), int) or not quote.get("description"):
                raise Unavailable(f"{owner}_unavailable")
            item.update(params=quote.get("params") or params, quote=quote, description=quote["description"])

        def change(items: list[dict[str, Any]], _: dict[str, Any]) -> None:
            if item.get("invoice_id") and any(i.get("invoice_id") == item["invoice_id"] for i in items):
                return  # already in the cart
            items.append(item)

        carts.mutate(account_id, change)
        return self._cart_view(account_id)

    def _hosting_params(self, params: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        merged = {**(current or {}), **params}
        errors: dict[str, str] = {}
        plan = catalog.find_plan(merged.get("plan"))
        if not plan:
            errors["plan"] = "unknown_plan"
        cycle = merged.get("cycle")
        if cycle not in CYCLES or (plan and cycle not in plan.prices):
            errors["cycle"] = "invalid_cycle"
        domain = (merged.get("domain") or "").strip().lower().rstrip(".")
        if domain and not DOMAIN_RE.match(domain):
            errors["domain"] = "invalid_domain"
        if errors:
            raise Invalid("invalid_input", errors)
        return {"plan": plan.id, "cycle": cycle, "domain": domain or None}

    @rpc
    def update_cart_item(self, account_id: str, item_id: str, cycle: str, ctx: dict | None = None) -> dict[str, Any]:
        def change(items: list[dict[str, Any]], _: dict[str, Any]) -> None:
            for item in items:
                if item["item_id"] == item_id:
                    if item["kind"] != "hosting":
                        raise Invalid("invalid_input", {"cycle": "not_changeable"})
                    item["params"] = self._hosting_params({"cycle": cycle}, item["params"])
                    return
            raise NotFound("cart_item")

        carts.mutate(account_id, change)
        return self._cart_view(account_id)

    @rpc
    def remove_cart_item(self, account_id: str, item_id: str, ctx: dict | None = None) -> dict[str, Any]:
        def change(items: list[dict[str, Any]], extra: dict[str, Any]) -> None:
            if not any(i["item_id"] == item_id for i in items):
                raise NotFound("cart_item")
            items[:] = [i for i in items if i["item_id"] != item_id]

        carts.mutate(account_id, change)
        return self._cart_view(account_id)

    @rpc
    def apply_discount_code(self, account_id: str, code: str | None, ctx: dict | None = None) -> dict[str, Any]:
        """Apply the current offer's code (None or "" removes it)."""
        clean = (code or "").strip().upper() or None
        self._discount_percent(clean)

        def change(_: list[dict[str, Any]], extra: dict[str, Any]) -> None:
            extra["discount_code"] = clean

        carts.mutate(account_id, change)
        return self._cart_view(account_id)

    # ------------------------------------------------------------------ checkout
    @rpc
    def checkout(self, account_id: str, payment_method: str, idempotency_key: str, ctx: dict | None = None,
                 return_url: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Place the order and issue its invoice, then start paying. The same key
        always gives the same order and invoice: the order id is derived from it and
        the order stream refuses a second `order_placed` for it. The cart is consumed
        in the same decision: the order records the cart's version (`cart_key`) and the
        Customer aggregate places at most one order per version, so concurrent checkouts
        of one cart with different keys get that one order back (or 409 `cart_empty`
        once the cart is emptied)."""
        payments.provider(payment_method)
        if not isinstance(idempotency_key, str) or not 8 <= len(idempotency_key) <= 200:
            raise Invalid("invalid_input", {"idempotency_key": "invalid_idempotency_key"})
        order_id = det_id("order", account_id, idempotency_key)
        stream = customer_stream(account_id)
        customer = Customer.load(self.events, stream)
        placed = customer.placed_order(order_id)
        if placed is None:
            cart = carts.load(account_id)
            if not cart.items:
                raise Conflict("cart_empty")
            cart_key = det_id("cart", account_id, str(cart.version), *sorted(i["item_id"] for i in cart.items))
            placed = customer.placed_order(order_id, cart_key)
        if placed is None:
            view = self._cart_view(account_id)
            if view["discount_error"]:
                raise Invalid("invalid_input", {"discount_code": view["discount_error"]})
            priced = [self._price_item(item, view["discount_percent"]) for item in cart.items]
            lines = [p["line"] for p in priced if p["line"]]
            reused = [item["invoice_id"] for item in cart.items if item.get("invoice_id")]
            now = clock.now()
            order: dict[str, Any] = {
                "order_id": order_id, "items": [p["item"] for p in priced], "reused_invoice_ids": reused,
                "payment_method": payment_method, "discount_code": cart.discount_code, "invoice_id": None,
                "total_gross": totals(lines)["total_gross"], "placed_at": iso(now), "cart_key": cart_key,
            }  # fmt: skip
            if lines:
                order.update(self._invoice_request(det_id("invoice", order_id), lines, self._buyer(account_id), now,
                                                   now + dt.timedelta(days=Policy.from_env().payment_days)))  # fmt: skip
                order["order_id"] = order_id
            customer, _ = execute(self.events, Customer, stream, lambda c: c.place_order(order), command_meta(ctx),
                                  retries=CONFLICT_RETRIES)  # fmt: skip
            placed = customer.placed_order(order_id, cart_key)
        self._consume_cart(account_id, placed)
        if placed["order_id"] != order_id:  # another request placed this cart: its order, paid its way
            payment_method = placed.get("payment_method") or payment_method
        if placed.get("invoice_id"):
            self._issue(customer, placed["invoice_id"], ctx)
        invoice_ids = ([placed["invoice_id"]] if placed.get("invoice_id") else []) + placed.get(
            "reused_invoice_ids", []
        )
        try:
            payment = self._pay(account_id, invoice_ids, payment_method, return_url, ctx,
                                det_id("payment", placed["order_id"]))  # fmt: skip
        except CommandError as exc:
            payment = {"method": payment_method, "status": "failed", "code": exc.code}
        return {"order_id": placed["order_id"], "invoice_id": invoice_ids[0] if invoice_ids else None,
                "invoice_ids": invoice_ids, "payment": payment}  # fmt: skip

    @staticmethod
    def _consume_cart(account_id: str, placed: dict[str, Any]) -> None:
        """Take an order's items out of the cart (items added since stay). Safe to repeat: a checkout
        that stopped after placing the order leaves them for the next one to take out."""
        ordered = {item.get("item_id") for item in placed.get("items", [])}
        if not any(item["item_id"] in ordered for item in carts.load(account_id).items):
            return
        try:
            carts.remove_items(account_id, list(ordered))
        except CommandError as exc:  # the cart is busy: the order stands, the next checkout tidies up
            log.warning("ordered items of %s left in the cart: %s", placed["order_id"], exc.code)

    def _invoice_request(self, invoice_id: str, lines: list[dict[str, Any]], buyer: dict[str, str],
                         now: dt.datetime, due: dt.datetime) -> dict[str, Any]:  # fmt: skip
        """Everything the invoice will say, frozen now; the ledger only adds the number."""
        return {"invoice_id": invoice_id, "lines": lines, **totals(lines), "month": month_of(now),
                "issue_date": iso(now), "sale_date": iso(now), "due_date": iso(due), "buyer": buyer,
                "seller": seller()}  # fmt: skip

    def _issue(self, customer: Customer, invoice_id: str, ctx: dict | None) -> str:
        """Number the requested invoice in its month's ledger (idempotent)."""
        request = customer.requests[invoice_id]
        payload = {k: request.get(k) for k in (
            "account_id", "order_id", "service_id", "lines", "total_net", "total_vat", "total_gross", "vat_summary",
            "currency", "buyer", "seller", "issue_date", "sale_date", "due_date", "month", "period_due")}  # fmt: skip
        payload["kind"] = customer.invoices[invoice_id]["kind"]
        ledger, _ = execute(self.events, InvoiceLedger, ledger_stream(request["month"]),
                            lambda led: led.issue(invoice_id, payload), command_meta(ctx), retries=LEDGER_RETRIES)  # fmt: skip
        return ledger.issued[invoice_id]

    # ------------------------------------------------------------------ paying
    def _numbers(self, invoice_ids: list[str]) -> dict[str, str]:
        views = InvoiceView.objects(id__in=list(invoice_ids)).only("id", "number")
        return {v.id: v.number for v in views if v.number}

    def _pay(self, account_id: str, invoice_ids: list[str], method: str, return_url: str | None,
             ctx: dict | None, payment_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        chosen = payments.provider(method)
        stream = customer_stream(account_id)
        customer = Customer.load(self.events, stream)
        for invoice_id in invoice_ids:
            if invoice_id not in customer.invoices:
                raise NotFound("invoice")
        unpaid = [i for i in invoice_ids if customer.invoices[i]["status"] == "unpaid"]
        amount = sum(customer.outstanding(i) for i in unpaid)
        if not unpaid:
            return {"method": method, "status": "paid", "amount": 0}
        numbers = self._numbers(unpaid)
        if method == "credit":
            execute(self.events, Customer, stream, lambda c: c.pay_from_credit(unpaid, numbers, clock.now()),
                    command_meta(ctx), retries=CONFLICT_RETRIES)  # fmt: skip
            return {"method": method, "status": "paid", "amount": amount}
        request = payments.PaymentRequest(account_id, unpaid, amount, [numbers.get(i, "") for i in unpaid],
                                          return_url, payment_id)  # fmt: skip
        return chosen.start(request)

    @rpc
    def pay_invoice(self, account_id: str, invoice_id: str, payment_method: str, return_url: str | None = None,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        self._own_invoice(account_id, invoice_id)
        return self._pay(account_id, [invoice_id], payment_method, return_url, ctx)

    @rpc
    def start_payment(self, account_id: str, invoice_id: str, method: str, return_url: str | None = None,
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return self.pay_invoice(account_id, invoice_id, method, return_url, ctx)

    @rpc
    def pay_all_unpaid(self, account_id: str, payment_method: str = "credit", return_url: str | None = None,
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        ids = [
            v.id for v in InvoiceView.objects(account_id=account_id, status="unpaid").order_by("due_date").only("id")
        ]
        if not ids:
            return {"method": payment_method, "status": "paid", "amount": 0, "invoice_ids": []}
        return {**self._pay(account_id, ids, payment_method, return_url, ctx), "invoice_ids": ids}

    @rpc
    def sandbox_get_payment(self, payment_id: str) -> dict[str, Any]:
        """What the gateway's sandbox card page shows (a session left open too long shows as expired)."""
        intent = payments.PaymentIntent.objects(id=payment_id).first()
        if not intent:
            raise NotFound("payment")
        intent.expire_if_due()
        return {**intent.public(), "numbers": list(self._numbers(intent.invoice_ids).values())}

    @rpc
    def sandbox_complete(self, payment_id: str, outcome: str = "success") -> dict[str, Any]:
        """The sandbox provider settles the session; returns the signed webhook
        {body, signature} and the return URL. Like a real provider it then posts the
        webhook to the gateway's public endpoint on its own, retrying until accepted."""
        result = payments.SandboxCardProvider.complete(payment_id, outcome)
        url = payments.webhook_url()
        if url:
            eventlet.spawn_n(payments.deliver_webhook, result["webhook"], url)
        return result

    @rpc
    def get_payment(self, account_id: str, payment_id: str) -> dict[str, Any]:
        """A card payment as its owner sees it on the return page: the session's status
        and the invoices it pays (paid once the webhook has been applied)."""
        intent = payments.PaymentIntent.objects(id=payment_id, account_id=account_id).first() if isinstance(
            payment_id, str) else None  # fmt: skip
        if not intent:
            raise NotFound("payment")
        invoices = [v.summary() for v in InvoiceView.objects(id__in=list(intent.invoice_ids), account_id=account_id)]
        return {**intent.public(), "invoices": invoices,
                "all_paid": bool(invoices) and all(i["status"] == "paid" for i in invoices)}  # fmt: skip

    @rpc
    def handle_webhook(self, body: str, signature: str) -> dict[str, Any]:
        """Apply a provider webhook with the figures of the payment session we stored, once: a webhook
        that is forged, stale, about no session of ours, disagrees with it, or reports a success the
        provider did not settle is refused with a 4xx and changes nothing (`payments.accept_webhook`);
        a redelivery applies nothing; a failure notice never undoes anything."""
        intent, kind = payments.accept_webhook(body, signature)
        if kind != "payment.succeeded":
            return {"status": "ignored", "payment_id": intent.id}
        invoice_ids, amount = list(intent.invoice_ids), intent.amount
        numbers = self._numbers(invoice_ids)
        meta = command_meta({"actor": {"type": "provider", "id": "sandbox"}}, causation_id=intent.id)
        _, stored = execute(self.events, Customer, customer_stream(intent.account_id),
                            lambda c: c.receive_payment(intent.id, "card", amount, invoice_ids, numbers, clock.now()),
                            meta, retries=CONFLICT_RETRIES)  # fmt: skip
        return {"status": "applied" if stored else "duplicate", "payment_id": intent.id}

    @rpc(actors=STAFF_OR_SYSTEM)
    def mark_invoice_paid(self, invoice_id: str, ctx: dict | None = None, amount: int | None = None,
                          reference: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Staff (or a bank import) records a transfer; the same reference twice applies once."""
        view = InvoiceView.objects(id=invoice_id).first()
        if not view or not view.number:
            raise NotFound("invoice")
        stream = customer_stream(view.account_id)
        customer = Customer.load(self.events, stream)
        paid = amount if amount is not None else customer.outstanding(invoice_id)
        if customer.invoices[invoice_id]["status"] != "unpaid" and amount is None:
            return InvoiceView.objects(id=invoice_id).first().detail()
        payment_id = f"bank:{invoice_id}:{reference or 'manual'}"
        execute(self.events, Customer, stream,
                lambda c: c.receive_payment(payment_id, "bank_transfer", paid, [invoice_id], {invoice_id: view.number},
                                            clock.now()), command_meta(ctx))  # fmt: skip
        return InvoiceView.objects(id=invoice_id).first().detail()

    @rpc(actors=STAFF)
    def refund_invoice(self, invoice_id: str, ctx: dict | None = None) -> dict[str, Any]:
        """Staff refund a paid invoice: what was paid goes back to the customer's credit."""
        view = InvoiceView.objects(id=invoice_id).first() if isinstance(invoice_id, str) else None
        if not view or not view.number:
            raise NotFound("invoice")
        execute(self.events, Customer, customer_stream(view.account_id),
                lambda c: c.refund(invoice_id, view.number, clock.now()), command_meta(ctx))  # fmt: skip
        return InvoiceView.objects(id=invoice_id).first().detail()

    @rpc(actors=STAFF_OR_SYSTEM)
    def add_credit(
        self, account_id: str, amount: int, ctx: dict | None = None, reason: str = "manual"
    ) -> dict[str, Any]:
        execute(self.events, Customer, customer_stream(account_id),
                lambda c: c.add_credit(amount, reason, new_id()), command_meta(ctx))  # fmt: skip
        return self.get_credit(account_id)

    @rpc
    def get_credit(self, account_id: str) -> dict[str, Any]:
        view = CustomerView.objects(id=account_id).first()
        return {"account_id": account_id, "credit": view.credit if view else 0, "currency": CURRENCY}

    @staticmethod
    def _customer(account_id: str) -> dict[str, Any]:
        """The account's credit and unpaid-invoice id sets in one read; a set is None when the
        customer view does not hold it yet (written before the sets existed, or no invoice yet)."""
        raw = CustomerView.objects(id=account_id).only(*UNPAID_SETS, "credit").as_pymongo().first() or {}
        return {"credit": raw.get("credit") or 0, **{key: raw.get(key) for key in UNPAID_SETS}}

    # ------------------------------------------------------------------ invoices
    def _own_invoice(self, account_id: str, invoice_id: str) -> InvoiceView:
        view = (
            InvoiceView.objects(id=invoice_id, account_id=account_id).first() if isinstance(invoice_id, str) else None
        )
        if not view or not view.number:
            raise NotFound("invoice")
        return view

    @rpc
    def list_invoices(self, account_id: str, status: str | None = None, page: int = 1,
                      per_page: int = 20) -> dict[str, Any]:  # fmt: skip
        if status is not None and status not in ("unpaid", "paid", "cancelled", "refunded"):
            raise Invalid("invalid_input", {"status": "invalid_status"})
        page, per_page = _page(page, 1, 10_000), _page(per_page, 20, 100)
        query = {"account_id": account_id, "status": status} if status else {"account_id": account_id,
                                                                            "status__ne": "pending"}  # fmt: skip
        return _one_page(InvoiceView.objects(**query).order_by("-issue_date", "-number"), page, per_page,
                         InvoiceView.summary)  # fmt: skip

    @rpc
    def get_invoice(self, account_id: str, invoice_id: str) -> dict[str, Any]:
        return self._own_invoice(account_id, invoice_id).detail()

    @rpc
    def invoice_pdf(self, account_id: str, invoice_id: str) -> dict[str, str]:
        view = self._own_invoice(account_id, invoice_id)
        content = pdf.render_invoice(view.detail())
        return {"filename": f"{view.number.replace('/', '-')}.pdf", "content_type": "application/pdf",
                "data": base64.b64encode(content).decode("ascii")}  # fmt: skip

    # ------------------------------------------------------------------ services
    @rpc
    def list_services(self, account_id: str, status: str | None = None, page: int = 1,
                      per_page: int = 100) -> dict[str, Any]:  # fmt: skip
        """The account's hosting services by name, one page; `status` narrows them to one status."""
        if status is not None and status not in SERVICE_STATUSES:
            raise Invalid("invalid_input", {"status": "invalid_status"})
        page, per_page = _page(page, 1, 10_000), _page(per_page, 100, 100)
        found = ServiceView.objects(account_id=account_id, **({"status": status} if status else {})).order_by("name")
        return _one_page(found, page, per_page, ServiceView.public)

    @rpc
    def get_service(self, account_id: str, service_id: str) -> dict[str, Any]:
        view = (
            ServiceView.objects(id=service_id, account_id=account_id).first() if isinstance(service_id, str) else None
        )
        if not view:
            raise NotFound("service")
        invoice_ids = [i.id for i in InvoiceView.objects(service_id=service_id).only("id")]
        order_invoice = OrderView.objects(id=view.order_id).first() if view.order_id else None
        if order_invoice and order_invoice.invoice_id:
            invoice_ids.append(order_invoice.invoice_id)
        invoices = [v.summary() for v in InvoiceView.objects(id__in=invoice_ids, account_id=account_id) if v.number]
        invoices.sort(key=lambda i: i["issue_date"] or "", reverse=True)
        return {**view.public(), "invoices": invoices}

    @rpc
    def request_cancellation(self, account_id: str, service_id: str, when: str = "end_of_period",
                             ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        self.get_service(account_id, service_id)
        execute(self.events, Customer, customer_stream(account_id),
                lambda c: c.request_cancellation(service_id, when, clock.now()), command_meta(ctx))  # fmt: skip
        return self.get_service(account_id, service_id)

    # ------------------------------------------------------------------ renewals
    def _renewal_invoice(self, account_id: str, service_id: Any, ctx: dict | None) -> str:
        """The renewal invoice for the service's current period: the one already
        issued if any, else requested and issued now (same deterministic id the
        billing cycle would use, so it is never billed twice)."""
        if not isinstance(service_id, str) or not ServiceView.objects(id=service_id, account_id=account_id).first():
            raise NotFound("service")
        stream = customer_stream(account_id)
        customer = Customer.load(self.events, stream)
        service = customer.services[service_id]
        if service["status"] not in LIVE or service["cancel_at_period_end"]:
            raise Conflict("service_not_renewable")
        invoice_id = customer.renewal_invoice_for(service_id) or self._request_renewal(
            customer, service_id, service["next_due_date"], ctx
        )
        customer = Customer.load(self.events, stream)
        self._issue(customer, invoice_id, ctx)
        return invoice_id

    def _request_renewal(self, customer: Customer, service_id: str, period_due: dt.datetime, ctx: dict | None) -> str:
        service = customer.services[service_id]
        invoice_id = det_id("renewal", service_id, iso(period_due))
        plan = Plan.objects(id=service["plan"]).first()
        if not plan or service["cycle"] not in plan.prices:
            raise Conflict("plan_unavailable")
        period_to = add_months(period_due, CYCLES[service["cycle"]])
        description = (f"Odnowienie: {service['name']} ({CYCLE_NAMES['pl'][service['cycle']]}), "
                       f"okres {period_due:%Y-%m-%d} – {period_to:%Y-%m-%d}")  # fmt: skip
        params = {"service_id": service_id, "plan": service["plan"], "cycle": service["cycle"],
                  "domain": service.get("domain"), "period_from": iso(period_due), "period_to": iso(period_to)}  # fmt: skip
        line = invoice_line("hosting_renewal", description, params, plan.prices[service["cycle"]], plan.vat_rate)
        now = clock.now()
        request = self._invoice_request(invoice_id, [line], self._buyer(customer.account_id), now, max(period_due, now))
        request["order_id"] = None
        execute(self.events, Customer, customer.stream_id,
                lambda c: c.request_renewal(service_id, period_due, request), command_meta(ctx))  # fmt: skip
        return invoice_id

    def _issued_domain_renewal(self, account_id: str, params: Any) -> tuple[InvoiceView, dict[str, Any]] | None:
        """The unpaid renewal invoice already issued for the domain in `params` (and for the
        same number of years, when given) with its line, or None: then the renewal is quoted anew."""
        domain_id = params.get("domain_id") if isinstance(params, dict) else None
        if not isinstance(domain_id, str):
            return None
        years = params.get("years")
        for invoice in self._domain_renewal_invoices(account_id):
            for line in invoice.lines:
                line_params = line.get("params") or {}
                if line_params.get("domain_id") == domain_id and (
                    years is None or str(years) == str(line_params.get("years") or 1)
                ):
                    return invoice, line
        return None

    @staticmethod
    def _domain_renewal_invoices(account_id: str, known: list[str] | None = None) -> list[InvoiceView]:
        """Unpaid invoices that only renew domains: those the domains service has billing issue
        before a domain expires, or a renewal ordered by hand and left unpaid. `known`: their ids
        from the customer view (None when it does not hold them yet: then they are looked for)."""
        if known is not None and not known:
            return []
        if known is None:
            found = InvoiceView.objects(account_id=account_id, status="unpaid", lines__kind="domain_renewal")
        else:
            found = InvoiceView.objects(id__in=list(known), account_id=account_id, status="unpaid")
        return [v for v in found.order_by("due_date") if v.number and domain_renewal_only(v.lines)]

    @rpc
    def list_renewals(self, account_id: str) -> dict[str, Any]:
        """What renews soon, each item marked with its cart kind: live services due within
        RENEWAL_DAYS (or overdue) with their renewal invoice (`hosting_renewal`), and the
        unpaid domain renewal invoices (`domain_renewal`)."""
        live = ServiceView.objects(account_id=account_id, status__in=list(LIVE))
        return self._renewals(account_id, live, self._customer(account_id)["unpaid_domain_renewal_ids"])

    def _renewals(self, account_id: str, live: Any, domain_renewal_ids: list[str] | None) -> dict[str, Any]:
        """list_renewals from the account's live services (a query or the list already loaded)."""
        days = Policy.from_env().renewal_days
        horizon = ts(clock.now() + dt.timedelta(days=days))
        due = [v for v in live if v.next_due_date and v.next_due_date <= horizon and v.cancel_at_period_end != "yes"]
        invoices: dict[tuple[str, str], InvoiceView] = {}  # (service, period) -> its renewal invoice
        if due:
            found = InvoiceView.objects(service_id__in=[v.id for v in due], status__ne="cancelled",
                                        period_due__in=list({v.next_due_date for v in due}))  # fmt: skip
            for invoice in found:
                invoices.setdefault((invoice.service_id, invoice.period_due), invoice)
        items = []
        for view in due:
            invoice = invoices.get((view.id, view.next_due_date))
            summary = invoice.summary() if invoice and invoice.number else None
            items.append({"kind": "hosting_renewal", **view.public(), "renewal_invoice": summary})
        items += [_domain_renewal_item(v) for v in self._domain_renewal_invoices(account_id, domain_renewal_ids)]
        cart_invoices = {i.get("invoice_id") for i in carts.load(account_id).items} if items else set()
        for item in items:
            item["in_cart"] = bool(item["renewal_invoice"] and item["renewal_invoice"]["invoice_id"] in cart_invoices)
        items.sort(key=lambda i: i.get("next_due_date") or i["due_date"])
        return {"items": items, "renewal_days": days}

    # ------------------------------------------------------------------ billing cycle
    @timer(interval=CYCLE_SECONDS)
    def billing_cycle_timer(self) -> None:
        try:
            self.run_billing_cycle()
        except Exception:
            log.exception("billing cycle failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_billing_cycle(self) -> dict[str, int]:
        """Renewal invoices, numbering of stranded requests, reminders, suspension,
        termination, end-of-period cancellation.

        Safe to run twice, or in two instances at once: every decision is made by
        the Customer aggregate from its state and appended with an expected
        version (a concurrent run loses the race, re-reads, and finds nothing left
        to do); renewal invoice ids are derived from (service, period), and the
        ledger issues an invoice id at most once. No lock is needed for safety."""
        now, policy = clock.now(), Policy.from_env()
        stats = {"accounts": 0, "renewals_requested": 0, "invoices_issued": 0, "events": 0, "errors": 0}
        account_ids = {v.account_id for v in ServiceView.objects(status__in=list(LIVE)).only("account_id")}
        account_ids |= {v.account_id for v in InvoiceView.objects(status__in=["pending", "unpaid"]).only("account_id")}
        for account_id in sorted(account_ids):
            stats["accounts"] += 1
            try:
                self._cycle_account(account_id, now, policy, stats)
            except CommandError as exc:  # a conflict past the retries is one too
                stats["errors"] += 1
                log.warning("billing cycle for %s: %r", account_id, exc)
        return stats

    def _cycle_account(self, account_id: str, now: dt.datetime, policy: Policy, stats: dict[str, int]) -> None:
        stream = customer_stream(account_id)
        ctx = {"actor": {"type": "system", "id": "billing-cycle"}}
        customer = Customer.load(self.events, stream)
        for service_id, period_due in customer.renewals_due(now, policy):
            try:
                self._request_renewal(customer, service_id, period_due, ctx)
                stats["renewals_requested"] += 1
            except CommandError as exc:  # accounts down, plan withdrawn: try on the next run
                stats["errors"] += 1
                log.warning("renewal of %s not requested: %s", service_id, exc.code)
        customer = Customer.load(self.events, stream)
        numbers = self._numbers(list(customer.invoices))
        for invoice_id in customer.requests:
            if invoice_id not in numbers:
                numbers[invoice_id] = self._issue(customer, invoice_id, ctx)
                stats["invoices_issued"] += 1
        _, stored = execute(self.events, Customer, stream, lambda c: c.overdue(now, policy, numbers),
                            command_meta(ctx), retries=10)  # fmt: skip
        stats["events"] += len(stored)

    # ------------------------------------------------------------------ invoices for items another service owns
    @rpc(actors=SYSTEM)
    def issue_item_invoice(self, account_id: str, kind: str, params: dict[str, Any], idempotency_key: str,
                           ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """An unpaid invoice for one item priced by its owner (e.g. a domain renewal),
        issued once per key: quoted like a cart item, placed as an order without the cart."""
        owner = CART_ITEM_OWNERS.get(kind)
        if not owner:
            raise Invalid("invalid_input", {"kind": "invalid_kind"})
        if not isinstance(idempotency_key, str) or not 8 <= len(idempotency_key) <= 200:
            raise Invalid("invalid_input", {"idempotency_key": "invalid_idempotency_key"})
        order_id = det_id("item-invoice", account_id, idempotency_key)
        stream = customer_stream(account_id)
        customer = Customer.load(self.events, stream)
        if order_id not in customer.orders:
            quote = self._remote(owner, "quote_cart_item", account_id, kind, params)
            if not isinstance(quote, dict) or not isinstance(quote.get("net"), int) or not quote.get("description"):
                raise Unavailable(f"{owner}_unavailable")
            line = invoice_line(kind, quote["description"], quote.get("params") or params, quote["net"],
                                quote.get("vat_rate", 23))  # fmt: skip
            now = clock.now()
            order = {"order_id": order_id, "payment_method": "bank_transfer", "discount_code": None,
                     "items": [{"item_id": order_id, "kind": kind, "params": line["params"],
                                "description": line["description"]}],
                     "reused_invoice_ids": [], "total_gross": line["gross"], "placed_at": iso(now),
                     **self._invoice_request(det_id("invoice", order_id), [line], self._buyer(account_id), now,
                                             now + dt.timedelta(days=Policy.from_env().payment_days))}  # fmt: skip
            execute(
                self.events,
                Customer,
                stream,
                lambda c: c.place_order(order),
                command_meta(ctx),
                retries=CONFLICT_RETRIES,
            )
            customer = Customer.load(self.events, stream)
        invoice_id = customer.orders[order_id]["invoice_id"]
        self._issue(customer, invoice_id, ctx)
        return InvoiceView.objects(id=invoice_id).first().summary()

    # ------------------------------------------------------------------ dashboard
    @rpc
    def dashboard_summary(self, account_id: str) -> dict[str, Any]:
        """Tiles, active services, renewals, offer and credit from three reads: the live services
        (both the list and the active count), the customer view (credit, the unpaid count, which
        domain renewals are due) and the offer; the cart and the invoices only when something is due."""
        live = list(ServiceView.objects(account_id=account_id, status__in=list(LIVE)).order_by("name"))
        customer = self._customer(account_id)
        unpaid = customer["unpaid_invoice_ids"]
        if unpaid is None:  # no sets in the customer view yet: counted the slow way
            unpaid_count = InvoiceView.objects(account_id=account_id, status="unpaid").count()
        else:
            unpaid_count = len(unpaid)
        return {
            "tiles": {"services": sum(1 for s in live if s.status == "active"), "unpaid_invoices": unpaid_count},
            "active_services": [
                {
                    "service_id": s.id,
                    "name": s.name,
                    "domain": s.domain,
                    "status": s.status,
                    "next_due_date": s.public()["next_due_date"],
                }
                for s in live
            ],  # fmt: skip
            "renewals": self._renewals(account_id, live, customer["unpaid_domain_renewal_ids"])["items"],
            "offer": self.get_current_offer(),
            "credit": customer["credit"],
        }


def _domain_renewal_item(invoice: InvoiceView) -> dict[str, Any]:
    """A domain renewal invoice as a renewals item: the domain(s), years, due date and amount."""
    summary = invoice.summary()
    domains = []
    for line in invoice.lines:
        params = line.get("params") or {}
        domains.append({"domain_id": params.get("domain_id"), "domain": params.get("domain"),
                        "unicode_name": params.get("unicode_name") or params.get("domain"),
                        "years": int(params.get("years") or 1), "description": line.get("description")})  # fmt: skip
    first = domains[0]
    return {"kind": "domain_renewal", "domain_id": first["domain_id"], "domain": first["domain"],
            "unicode_name": first["unicode_name"], "name": ", ".join(d["unicode_name"] or "" for d in domains),
            "years": first["years"], "domains": domains, "due_date": summary["due_date"],
            "amount": summary["amount_due"], "currency": summary["currency"], "renewal_invoice": summary}  # fmt: skip


def _service_name(plan: Plan, domain: str | None) -> str:
    name = plan.name.get("pl") or plan.id
    return f"{name} — {domain}" if domain else name


def _hosting_description(plan: Plan, params: dict[str, Any]) -> str:
    cycle = params["cycle"]
    return f"{_service_name(plan, params.get('domain'))}, {CYCLE_NAMES['pl'][cycle]} ({CYCLES[cycle]} mies.)"
