"""Domains: availability and prices, registration and transfer after payment, management,
renewal invoices asked of billing by event (`domain_renewal_due`) and expiry (seed sections 3, 5 and 10)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from typing import Any

import eventlet
from nameko.timer import timer

from kernel import clock
from kernel.aggregate import execute
from kernel.caller import STAFF_OR_SYSTEM, rpc
from kernel.contracts import BILLING
from kernel.errors import CommandError, Conflict, Invalid, NotFound, Unavailable
from kernel.events import Event, command_meta, new_id
from kernel.money import vat_of
from kernel.service import EventSourcedService, consumes
from services.domains import dns, names, prices, registrar
from services.domains.domain import (
    HELD,
    ORDER_KINDS,
    STALE_REQUEST,
    STATUSES,
    Domain,
    Policy,
    domain_id_for,
    domain_stream,
)
from services.domains.powerdns import PowerDns, PowerDnsError
from services.domains.projections import PROJECTIONS, DomainView

log = logging.getLogger(__name__)
CYCLE_SECONDS = int(os.environ.get("DOMAINS_CYCLE_SECONDS", "60"))
DNS_APPLY_SECONDS = float(os.environ.get("DNS_APPLY_SECONDS", "5"))
REGISTRAR_TIMEOUT = float(os.environ.get("REGISTRAR_TIMEOUT", "15"))
# How long run_cycle (the RPC, not the timer) waits for billing to report the renewal invoices it asked for.
RENEWAL_INVOICE_WAIT = float(os.environ.get("DOMAINS_RPC_TIMEOUT", "5"))
SYSTEM = {"actor": {"type": "system", "id": "domains"}}
# Someone else already holds or has paid for the name.
TAKEN_STATUSES = ("pending_registration", "pending_transfer", *HELD)
EPP_CODE = re.compile(r"^[\x21-\x7e]{6,64}$")
YEARS_WORDS = {1: "rok", 2: "lata", 3: "lata", 4: "lata"}
# Where a newly registered domain points until the customer changes it: our hosting's DNS.
DEFAULT_NAMESERVERS = [n.strip() for n in os.environ.get("DOMAIN_DEFAULT_NAMESERVERS",
                                                          "ns1.panel.localhost,ns2.panel.localhost").split(",") if n.strip()]  # fmt: skip


def _years(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Invalid("invalid_input", {"years": "domains_invalid_period"})
    years = int(value)
    if not prices.MIN_YEARS <= years <= prices.MAX_YEARS:
        raise Invalid("invalid_input", {"years": "domains_invalid_period"})
    return years


def _period(years: int) -> str:
    return f"{years} {YEARS_WORDS.get(years, 'lat')}"


def _page(value: Any, default: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, maximum))


class DomainsService(EventSourcedService):
    name = "domains"
    projections = PROJECTIONS
    documents = registrar.DOCUMENTS

    # ------------------------------------------------------------------ registry calls
    def _registry(self, method: str, *args: Any) -> Any:
        """Call the registrar; a silent one is a temporary failure."""
        try:
            with eventlet.Timeout(REGISTRAR_TIMEOUT):
                return getattr(registrar.registrar(), method)(*args)
        except eventlet.Timeout:
            raise registrar.RegistrarError("domains_registry_timeout", temporary=True) from None

    def _load(self, domain_id: str) -> Domain:
        stream = domain_stream(domain_id)
        return Domain.load(self.events, stream)

    def _do(self, domain_id: str, decide, ctx: dict | None = None) -> Domain:
        domain, _ = execute(self.events, Domain, domain_stream(domain_id), decide, command_meta(ctx or SYSTEM))
        return domain

    def _own(self, account_id: str, domain_id: Any) -> DomainView:
        view = DomainView.objects(id=domain_id, account_id=account_id).first() if isinstance(domain_id, str) else None
        if not view:
            raise NotFound("domain")
        return view

    # ------------------------------------------------------------------ availability and quotes
    def _availability(self, name: names.DomainName) -> dict[str, Any]:
        price = prices.price_of(name.tld)
        answer = self._registry("check", name.ascii)
        ours = DomainView.objects(name=name.ascii, status__in=list(TAKEN_STATUSES)).first() is not None
        register = answer.premium_net if answer.premium else price.register
        nets = {"register": register, "transfer": price.transfer, "renew": price.renew}
        return {**name.public(), "available": answer.available and not ours, "premium": answer.premium,
                "prices": nets, "gross": {k: v + vat_of(v, prices.VAT_RATE) for k, v in nets.items()},
                "vat_rate": prices.VAT_RATE, "currency": prices.CURRENCY}  # fmt: skip

    @rpc
    def check(self, name: str) -> dict[str, Any]:
        """One name, or with no TLD given the label under every TLD we sell."""
        try:
            text = name.strip() if isinstance(name, str) else name
            if isinstance(text, str) and text and "." not in text.rstrip("."):
                label = names.parse_label(text)
                candidates = [names.parse(f"{label}.{tld}") for tld in prices.price_list()]
            else:
                candidates = [names.parse(text)]
        except names.InvalidName as exc:
            raise Invalid("invalid_input", {"name": exc.code}) from None
        try:
            results = [self._availability(candidate) for candidate in candidates]
        except registrar.RegistrarError as exc:
            raise Unavailable(exc.code) from None
        return {"query": name, "results": results}

    @rpc
    def price_list(self) -> dict[str, Any]:
        return {"items": prices.public_prices(), "min_years": prices.MIN_YEARS, "max_years": prices.MAX_YEARS}

    @rpc
    def quote_cart_item(self, account_id: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Billing's contract (kernel.contracts): price one cart item, or refuse it with a reason."""
        if not isinstance(params, dict):
            raise Invalid("invalid_input", {"params": "invalid_type"})
        years = _years(params.get("years", 1))
        if kind == "domain_renewal":
            return self._quote_renewal(account_id, params.get("domain_id"), years)
        if kind not in ORDER_KINDS:
            raise Invalid("invalid_input", {"kind": "invalid_kind"})
        name = names.parse_or_refuse(params.get("domain") or params.get("name"), "domain")
        try:
            found = self._availability(name)
        except registrar.RegistrarError as exc:
            raise Unavailable(exc.code) from None
        price = prices.price_of(name.tld)
        quoted = {"domain": name.ascii, "unicode_name": name.unicode, "years": years}
        if kind == "domain_registration":
            if not found["available"]:
                raise Conflict("invalid_input", {"domain": "domains_taken"})
            net = found["prices"]["register"] * years
            description = f"Rejestracja domeny {name.unicode} na {_period(years)}"
            return self._quote(description, net, {**quoted, "premium": found["premium"]})
        epp_code = params.get("epp_code")
        if not isinstance(epp_code, str) or not EPP_CODE.match(epp_code.strip()):
            raise Invalid("invalid_input", {"epp_code": "domains_invalid_epp_format"})
        if found["available"]:
            raise Conflict("invalid_input", {"domain": "domains_not_registered"})
        if DomainView.objects(name=name.ascii, status__in=list(TAKEN_STATUSES)).first():
            raise Conflict("invalid_input", {"domain": "domains_already_here"})
        description = f"Transfer domeny {name.unicode} (z przedłużeniem o {_period(years)})"
        return self._quote(description, price.net("transfer", years), {**quoted, "epp_code": epp_code.strip()})

    def _quote_renewal(self, account_id: str, domain_id: Any, years: int) -> dict[str, Any]:
        view = self._own(account_id, domain_id)
        if view.status not in HELD:
            raise Conflict("domains_not_renewable")
        net = prices.price_of(view.tld).net("renew", years)
        params = {"domain_id": view.id, "domain": view.name, "unicode_name": view.unicode_name, "years": years}
        return self._quote(f"Odnowienie domeny {view.unicode_name} na {_period(years)}", net, params)

    @staticmethod
    def _quote(description: str, net: int, params: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "net": net, "vat_rate": prices.VAT_RATE, "currency": prices.CURRENCY,
                "params": params}  # fmt: skip

    # ------------------------------------------------------------------ billing events
    @consumes(BILLING, "invoice_issued")
    def on_invoice_issued(self, event: Event) -> None:
        """An order's domains wait for payment; a renewal invoice asked for by `domain_renewal_due`
        (its line keeps `for_expiry`) is recorded on its domain."""
        ctx, invoice_id = {"causation_id": event.event_id, **SYSTEM}, event.data["invoice_id"]
        for index, line in enumerate(event.data.get("lines") or []):
            params = line.get("params") or {}
            if line.get("kind") in ORDER_KINDS:
                self._order(event.data, index, line, event)
            elif line.get("kind") == "domain_renewal" and params.get("for_expiry") and params.get("domain_id"):
                self._do(params["domain_id"], lambda d, e=params["for_expiry"]: d.renewal_invoiced(invoice_id, e), ctx)

    def _order(self, invoice: dict[str, Any], index: int, line: dict[str, Any], event: Event) -> str:
        params = line.get("params") or {}
        name = names.parse(params["domain"])
        details = {"account_id": invoice["account_id"], "name": name.ascii, "unicode_name": name.unicode,
                   "tld": name.tld, "kind": ORDER_KINDS[line["kind"]], "years": int(params.get("years") or 1),
                   "invoice_id": invoice["invoice_id"], "epp_code": params.get("epp_code", ""),
                   "nameservers": DEFAULT_NAMESERVERS}  # fmt: skip
        domain_id = domain_id_for(invoice["invoice_id"], index)
        self._do(domain_id, lambda d: d.order(details), {"causation_id": event.event_id, **SYSTEM})
        return domain_id

    @consumes(BILLING, "invoice_paid")
    def on_invoice_paid(self, event: Event) -> None:
        """Each paid line acts once: the aggregate refuses a second request for the same invoice."""
        ctx = {"causation_id": event.event_id, **SYSTEM}
        for index, line in enumerate(event.data.get("lines") or []):
            if line.get("kind") in ORDER_KINDS:
                domain_id = self._order(event.data, index, line, event)
                self._do(domain_id, lambda d: d.request(event.data["invoice_id"]), ctx)
                self._submit(domain_id)
            elif line.get("kind") == "domain_renewal":
                domain_id, years = line["params"]["domain_id"], int(line["params"].get("years") or 1)
                self._do(domain_id, lambda d, y=years: d.request_renewal(event.data["invoice_id"], y), ctx)
                self._renew_pending(domain_id)

    @consumes(BILLING, "invoice_cancelled")
    def on_invoice_cancelled(self, event: Event) -> None:
        for view in DomainView.objects(invoice_id=event.data["invoice_id"], status="pending"):
            self._do(view.id, lambda d: d.cancel("invoice_cancelled"), {"causation_id": event.event_id, **SYSTEM})

    # ------------------------------------------------------------------ talking to the registry
    def _submit(self, domain_id: str) -> Domain:
        """Send a paid registration or transfer to the registry and record its answer."""
        domain = self._load(domain_id)
        if domain.status == "pending_registration":
            return self._register(domain)
        if domain.status == "pending_transfer" and not domain.failure:
            ref = f"{domain_id}:{domain.attempts}"
            try:
                self._registry("transfer", domain.data["name"], domain.epp_code, ref)
            except registrar.RegistrarError as exc:
                if exc.temporary:  # still pending: the cycle submits it again
                    return domain
                code = exc.code
                return self._do(domain_id, lambda d: d.transfer_rejected(code))
            return self._poll_transfer(domain)
        return domain

    def _register(self, domain: Domain) -> Domain:
        try:
            expires_at = self._registry("register", domain.data["name"], domain.years, domain.nameservers,
                                        domain.domain_id)  # fmt: skip
        except registrar.RegistrarError as exc:
            log.warning("registering %s failed: %s", domain.data["name"], exc.code)
            code, temporary = exc.code, exc.temporary
            return self._do(domain.domain_id, lambda d: d.registration_failed(code, temporary, clock.now()))
        return self._with_zone(self._do(domain.domain_id, lambda d: d.registered(expires_at)))

    def _poll_transfer(self, domain: Domain) -> Domain:
        ref = f"{domain.domain_id}:{domain.attempts}"
        status = self._registry("transfer_status", domain.data["name"], ref)
        if status["status"] == "completed":
            return self._with_zone(self._do(domain.domain_id, lambda d: d.transferred_in(status["expires_at"])))
        if status["status"] == "rejected":
            return self._do(domain.domain_id, lambda d: d.transfer_rejected(status["reason"]))
        if status["status"] == "unknown":
            return self._submit(domain.domain_id)
        return domain

    def _renew_pending(self, domain_id: str, requested_before: dt.datetime | None = None) -> None:
        domain = self._load(domain_id)
        for invoice_id, years in domain.pending_renewals(requested_before).items():
            try:
                expires_at = self._registry("renew", domain.data["name"], years, invoice_id)
            except registrar.RegistrarError as exc:  # the cycle tries again
                log.warning("renewing %s failed: %s", domain.data["name"], exc.code)
                continue
            self._do(domain_id, lambda d, i=invoice_id, e=expires_at: d.renewed(i, e))

    # ------------------------------------------------------------------ the customer's commands
    @rpc
    def list_domains(self, account_id: str, page: int = 1, per_page: int = 20, status: str | None = None,
                     query: str | None = None) -> dict[str, Any]:  # fmt: skip
        if status and status not in STATUSES:
            raise Invalid("invalid_input", {"status": "invalid_status"})
        page, per_page = _page(page, 1, 10_000), _page(per_page, 20, 100)
        found = DomainView.objects(account_id=account_id, **({"status": status} if status else {}))
        text = (query or "").strip().lower() if isinstance(query, str) else ""
        if text:
            pattern = re.escape(text)  # a string, not a compiled regex: the stand-in database needs that
            found = found.filter(
                __raw__={"$or": [{"name": {"$regex": pattern}}, {"unicode_name": {"$regex": pattern}}]}
            )
        found = found.order_by("name")
        total = found.count()
        items = [v.public() for v in found.skip((page - 1) * per_page).limit(per_page)]
        return {"items": items, "total": total, "page": page, "per_page": per_page,
                "pages": max(1, -(-total // per_page))}  # fmt: skip

    @rpc
    def get_domain(self, account_id: str, domain_id: str) -> dict[str, Any]:
        return self._own(account_id, domain_id).public()

    @rpc
    def update_domain(self, account_id: str, domain_id: str, changes: dict[str, Any],
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """Nameservers (2-13 host names), registrar lock, auto-renew: all checked before anything changes."""
        view = self._own(account_id, domain_id)
        clean = self._validate_changes(changes)
        domain = self._load(view.id)
        try:
            if "nameservers" in clean and clean["nameservers"] != domain.nameservers:
                domain._require("active")
                self._registry("set_nameservers", view.name, clean["nameservers"])
            if "locked" in clean and clean["locked"] != domain.locked:
                domain._require("active")
                self._registry("set_lock", view.name, clean["locked"])
        except registrar.RegistrarError as exc:
            raise (Unavailable if exc.temporary else Conflict)(exc.code) from None

        def decide(d: Domain) -> list:
            events = []
            if "nameservers" in clean:
                events += d.change_nameservers(clean["nameservers"])
            if "locked" in clean:
                events += d.change_lock(clean["locked"])
            if "auto_renew" in clean:
                events += d.change_auto_renew(clean["auto_renew"])
            return events

        self._do(view.id, decide, ctx)
        return self.get_domain(account_id, view.id)

    @staticmethod
    def _validate_changes(changes: Any) -> dict[str, Any]:
        if not isinstance(changes, dict) or not changes:
            raise Invalid("invalid_input", {"changes": "required"})
        errors = {k: "unknown_field" for k in changes if k not in ("nameservers", "locked", "auto_renew")}
        errors |= {k: "invalid_type" for k in ("locked", "auto_renew") if k in changes and
                   not isinstance(changes[k], bool)}  # fmt: skip
        clean = {k: changes[k] for k in ("locked", "auto_renew") if k in changes}
        if "nameservers" in changes:
            servers = changes["nameservers"]
            if not isinstance(servers, list):
                errors["nameservers"] = "invalid_type"
            else:
                hosts = [names.valid_hostname(s) for s in servers if not isinstance(s, str) or s.strip()]
                if not 2 <= len(hosts) <= 13:
                    errors["nameservers"] = "domains_nameservers_count"
                elif None in hosts:
                    errors["nameservers"] = "domains_invalid_nameserver"
                elif len(set(hosts)) != len(hosts):
                    errors["nameservers"] = "domains_duplicate_nameserver"
                clean["nameservers"] = hosts
        if errors:
            raise Invalid("invalid_input", errors)
        return clean

    @rpc
    def reveal_epp_code(self, account_id: str, domain_id: str, ctx: dict | None = None) -> dict[str, str]:
        view = self._own(account_id, domain_id)
        self._load(view.id)._require("active")
        try:
            code = self._registry("get_epp_code", view.name)
        except registrar.RegistrarError as exc:
            raise (Unavailable if exc.temporary else Conflict)(exc.code) from None
        self._do(view.id, lambda d: d.reveal_epp_code(), ctx)
        return {"domain_id": view.id, "name": view.name, "epp_code": code}

    @rpc
    def retry_registration(self, account_id: str, domain_id: str, epp_code: str | None = None,
                           ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        """ "Spróbuj ponownie": a failed registration or rejected transfer goes to the registry again."""
        view = self._own(account_id, domain_id)
        if epp_code is not None and (not isinstance(epp_code, str) or not EPP_CODE.match(epp_code.strip())):
            raise Invalid("invalid_input", {"epp_code": "domains_invalid_epp_format"})
        self._do(view.id, lambda d: d.retry(epp_code.strip() if epp_code else None), ctx)
        self._submit(view.id)
        return self.get_domain(account_id, view.id)

    # ------------------------------------------------------------------ cycle: retries, transfers, renewals, expiry
    @timer(interval=CYCLE_SECONDS)
    def domains_cycle_timer(self) -> None:
        try:
            self._cycle()
        except Exception:
            log.exception("domains cycle failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_cycle(self) -> dict[str, int]:
        """Safe to run twice or concurrently: every step is decided by the aggregate from its
        state, registry calls carry the operation's ref, a renewal invoice is asked for once per
        expiry (billing issues it once per key). Returns once billing has reported the renewal
        invoices asked for now (`invoice_issued`), or after RENEWAL_INVOICE_WAIT seconds."""
        stats, asked = self._cycle()
        self._wait_for_renewal_invoices(asked)
        return stats

    def _cycle(self) -> tuple[dict[str, int], list[tuple[str, str]]]:
        now, policy = clock.now(), Policy.from_env()
        stats = {"domains": 0, "retried": 0, "renewal_invoices": 0, "events": 0, "errors": 0}
        asked: list[tuple[str, str]] = []  # (domain id, expiry) whose renewal invoice was asked for
        candidates = DomainView.objects(status__in=["pending_registration", "pending_transfer", *HELD]).only("id")
        for view in candidates:
            stats["domains"] += 1
            try:
                self._cycle_domain(view.id, now, policy, stats, asked)
            except (CommandError, registrar.RegistrarError) as exc:
                stats["errors"] += 1
                log.warning("domains cycle for %s: %r", view.id, exc)
        return stats, asked

    def _cycle_domain(self, domain_id: str, now, policy: Policy, stats: dict[str, int],
                      asked: list[tuple[str, str]]) -> None:  # fmt: skip
        domain = self._load(domain_id)
        if domain.due_for_retry(now):
            stats["retried"] += 1
            self._submit(domain_id)
        elif domain.status == "pending_transfer" and not domain.failure:
            self._poll_transfer(domain)
        stale = now - STALE_REQUEST  # newer ones are still with the worker that stored them
        if domain.pending_renewals(stale):
            self._renew_pending(domain_id, stale)
            domain = self._load(domain_id)
        if domain.status in HELD and not self._registry("still_ours", domain.data["name"]):
            self._do(domain_id, lambda d: d.transferred_away())
            return
        _, stored = execute(self.events, Domain, domain_stream(domain_id),
                            lambda d: d.ask_renewal_invoice(now, policy) + d.expire(now, policy), command_meta(SYSTEM))  # fmt: skip
        for event in stored:
            if event.type == "domain_renewal_due":
                stats["renewal_invoices"] += 1
                asked.append((domain_id, event.data["for_expiry"]))
        stats["events"] += len(stored)

    def _wait_for_renewal_invoices(self, asked: list[tuple[str, str]]) -> None:
        """Until billing's `invoice_issued` has recorded each asked-for invoice, or the wait is over (the
        event stays queued for billing; the invoice is recorded whenever it comes)."""
        deadline = time.monotonic() + RENEWAL_INVOICE_WAIT
        waiting = list(asked)
        while waiting and time.monotonic() < deadline:
            waiting = [(d, e) for d, e in waiting if e not in self._load(d).renewal_invoices]
            if waiting:
                eventlet.sleep(0.05)
        if waiting:
            log.warning("billing has not reported the renewal invoices of %s yet", [d for d, _ in waiting])

    # ------------------------------------------------------------------ dashboard
    @rpc
    def dashboard_summary(self, account_id: str) -> dict[str, Any]:
        return {"tiles": {"domains": DomainView.objects(account_id=account_id, status__in=list(HELD)).count()}}

    # ------------------------------------------------------------------ DNS zones on PowerDNS (issue #19)
    def _zone(self, account_id: str, domain_id: Any) -> dns.ZoneView:
        """The domain's zone, created with the defaults the first time a held domain asks for it."""
        view = self._own(account_id, domain_id)
        zone = dns.ZoneView.objects(id=view.id).first()
        if zone:
            return zone
        if view.status not in HELD:
            raise Conflict("domains_not_active")
        self._create_zone(view.id)
        return dns.ZoneView.objects(id=view.id).first()

    def _create_zone(self, domain_id: str) -> None:
        domain = self._load(domain_id)
        details = {"account_id": domain.data["account_id"], "name": domain.data["name"],
                   "unicode_name": domain.data["unicode_name"], "nameservers": DEFAULT_NAMESERVERS}  # fmt: skip
        records = dns.default_records(new_id)
        self._zone_do(domain_id, lambda z: z.create(details, records))

    def _zone_do(self, domain_id: str, decide, ctx: dict | None = None) -> None:
        _, stored = execute(self.events, dns.Zone, dns.zone_stream(domain_id), decide, command_meta(ctx or SYSTEM))
        if stored:
            self._apply_zone(domain_id)

    def _apply_zone(self, domain_id: str) -> bool:
        """Push the zone's current records to PowerDNS under a lease; a failure leaves it pending for the timer."""
        now = time.time()
        if not dns.ZoneView.objects(id=domain_id, applying_until__lt=now).update_one(set__applying_until=now + 30):
            return False  # another worker pushes it now, and pushes again if the zone moved meanwhile
        try:
            zone = dns.Zone.load(self.events, dns.zone_stream(domain_id))
            name, servers = zone.data["name"], zone.data["nameservers"]
            PowerDns().apply(name, dns.rrsets(name, servers, list(zone.records.values()), zone.version))
        except PowerDnsError as exc:
            log.warning("DNS zone %s not applied (pending): %s", domain_id, exc)
            dns.ZoneView.objects(id=domain_id).update_one(set__apply_error=exc.code)
            return False
        finally:
            dns.ZoneView.objects(id=domain_id).update_one(set__applying_until=0)
        dns.ZoneView.objects(id=domain_id, applied_version__lt=zone.version).update_one(
            set__applied_version=zone.version, set__apply_error=None)  # fmt: skip
        moved = dns.ZoneView.objects(id=domain_id, version__gt=zone.version).first()
        return self._apply_zone(domain_id) if moved else True  # a change stored while we pushed

    def _with_zone(self, domain: Domain) -> Domain:
        """A domain just registered or transferred here with the panel's nameservers gets its zone."""
        if domain.status == "active" and set(domain.nameservers or DEFAULT_NAMESERVERS) <= set(DEFAULT_NAMESERVERS):
            self._create_zone(domain.domain_id)
        return domain

    @rpc
    def get_zone(self, account_id: str, domain_id: str) -> dict[str, Any]:
        return self._zone(account_id, domain_id).public()

    @rpc
    def add_dns_record(self, account_id: str, domain_id: str, record: dict[str, Any],
                       ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        zone = self._zone(account_id, domain_id)
        clean = {**dns.clean_record(record, zone.name), "id": new_id()}
        self._zone_do(zone.id, lambda z: z.add(clean), ctx)
        return {**self.get_zone(account_id, zone.id), "record_id": clean["id"]}

    @rpc
    def update_dns_record(self, account_id: str, domain_id: str, record_id: str, record: dict[str, Any],
                          ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        zone = self._zone(account_id, domain_id)
        clean = {**dns.clean_record(record, zone.name), "id": record_id}
        self._zone_do(zone.id, lambda z: z.change(clean), ctx)
        return self.get_zone(account_id, zone.id)

    @rpc
    def delete_dns_record(self, account_id: str, domain_id: str, record_id: str,
                          ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        zone = self._zone(account_id, domain_id)
        self._zone_do(zone.id, lambda z: z.remove(record_id), ctx)
        return self.get_zone(account_id, zone.id)

    @rpc
    def reset_zone(self, account_id: str, domain_id: str, ctx: dict | None = None) -> dict[str, Any]:
        zone = self._zone(account_id, domain_id)
        records = dns.default_records(new_id)
        self._zone_do(zone.id, lambda z: z.reset(records), ctx)
        return self.get_zone(account_id, zone.id)

    @rpc
    def export_zone(self, account_id: str, domain_id: str) -> dict[str, str]:
        zone = self._zone(account_id, domain_id)
        text = dns.zone_file(zone.name, list(zone.nameservers), list(zone.records), zone.version)
        return {"domain_id": zone.id, "name": zone.name, "filename": f"{zone.name}.zone", "text": text}

    @timer(interval=DNS_APPLY_SECONDS)
    def dns_apply_timer(self) -> None:
        try:
            self.apply_pending_zones()
        except Exception:
            log.exception("applying pending DNS zones failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def apply_pending_zones(self) -> dict[str, int]:
        """Zones whose changes PowerDNS has not taken yet (it was down): push them now."""
        pending = [z.id for z in dns.ZoneView.objects.only("id", "version", "applied_version")
                   if z.applied_version < z.version]  # fmt: skip
        applied = sum(self._apply_zone(domain_id) for domain_id in pending)
        return {"pending": len(pending), "applied": applied}
