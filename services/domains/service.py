"""Domains' entrypoints: availability and prices, registration and transfer after payment,
management, renewal invoices asked of billing by event (`domain_renewal_due`) and expiry (seed sections
3, 5 and 10), DNS zones. Each method hands its arguments to the application layer
(`services.domains.app`), which decides through `services.domains.domain`."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from nameko.timer import timer

from kernel.aggregate import execute
from kernel.caller import STAFF_OR_SYSTEM, rpc
from kernel.contracts import BILLING
from kernel.errors import Conflict
from kernel.events import Event, command_meta, new_id
from kernel.service import EventSourcedService, consumes
from services.domains import app, dns, hosts, registrar
from services.domains.app import SYSTEM, cycle, manage, orders, quotes
from services.domains.app.orders import DEFAULT_NAMESERVERS
from services.domains.domain import HELD, Domain
from services.domains.powerdns import PowerDns, PowerDnsError
from services.domains.projections import PROJECTIONS, DomainView

log = logging.getLogger(__name__)
CYCLE_SECONDS = int(os.environ.get("DOMAINS_CYCLE_SECONDS", "60"))
DNS_APPLY_SECONDS = float(os.environ.get("DNS_APPLY_SECONDS", "5"))
REGISTRAR_TIMEOUT = float(os.environ.get("REGISTRAR_TIMEOUT", "15"))
# How long run_cycle (the RPC, not the timer) waits for billing to report the renewal invoices it asked for.
RENEWAL_INVOICE_WAIT = float(os.environ.get("DOMAINS_RPC_TIMEOUT", "5"))


class DomainsService(EventSourcedService):
    name = "domains"
    projections = PROJECTIONS
    documents = registrar.DOCUMENTS

    @property
    def deps(self) -> app.Deps:
        return app.Deps(self.events, app.registry_caller(REGISTRAR_TIMEOUT), self._with_zone)

    def _load(self, domain_id: str) -> Domain:
        return app.load(self.deps, domain_id)

    def _own(self, account_id: str, domain_id: Any) -> DomainView:
        return app.own(account_id, domain_id)

    # ------------------------------------------------------------------ availability and quotes
    @rpc
    def check(self, name: str) -> dict[str, Any]:
        return quotes.check(self.deps, name)

    @rpc
    def price_list(self) -> dict[str, Any]:
        return quotes.price_list()

    @rpc
    def quote_cart_item(self, account_id: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        return quotes.quote_cart_item(self.deps, account_id, kind, params)

    # ------------------------------------------------------------------ billing's invoices
    @consumes(BILLING, "invoice_issued")
    def on_invoice_issued(self, event: Event) -> None:
        orders.invoice_issued(self.deps, event)

    @consumes(BILLING, "invoice_paid")
    def on_invoice_paid(self, event: Event) -> None:
        orders.invoice_paid(self.deps, event)

    @consumes(BILLING, "invoice_cancelled")
    def on_invoice_cancelled(self, event: Event) -> None:
        orders.invoice_cancelled(self.deps, event)

    # ------------------------------------------------------------------ the customer's commands
    @rpc
    def list_domains(self, account_id: str, page: int = 1, per_page: int = 20, status: str | None = None,
                     query: str | None = None) -> dict[str, Any]:  # fmt: skip
        return manage.list_page(account_id, page, per_page, status, query)

    @rpc
    def get_domain(self, account_id: str, domain_id: str) -> dict[str, Any]:
        return app.own(account_id, domain_id).public()

    @rpc
    def update_domain(self, account_id: str, domain_id: str, changes: dict[str, Any],
                      ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return manage.update(self.deps, account_id, domain_id, changes, ctx)

    @rpc
    def reveal_epp_code(self, account_id: str, domain_id: str, ctx: dict | None = None) -> dict[str, str]:
        return manage.reveal_epp_code(self.deps, account_id, domain_id, ctx)

    @rpc
    def retry_registration(self, account_id: str, domain_id: str, epp_code: str | None = None,
                           ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return manage.retry(self.deps, account_id, domain_id, epp_code, ctx)

    # ------------------------------------------------------------------ cycle: retries, transfers, renewals, expiry
    @timer(interval=CYCLE_SECONDS)
    def domains_cycle_timer(self) -> None:
        try:
            cycle.run(self.deps)
        except Exception:
            log.exception("domains cycle failed; the next run retries")

    @rpc(actors=STAFF_OR_SYSTEM)
    def run_cycle(self) -> dict[str, int]:
        """Returns once billing has reported the renewal invoices asked for now, or after RENEWAL_INVOICE_WAIT."""
        stats, asked = cycle.run(self.deps)
        cycle.wait_for_renewal_invoices(self.deps, asked, RENEWAL_INVOICE_WAIT)
        return stats

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

    # ------------------------------------------------------------------ child nameservers (glue), issue #19
    @rpc
    def list_hosts(self, account_id: str, domain_id: str) -> dict[str, Any]:
        return hosts.listing(self.deps, account_id, domain_id)

    @rpc
    def create_host(self, account_id: str, domain_id: str, host: str, addresses: list[str] | str,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return hosts.create(self.deps, account_id, domain_id, host, addresses, ctx)

    @rpc
    def update_host(self, account_id: str, domain_id: str, host: str, addresses: list[str] | str,
                    ctx: dict | None = None) -> dict[str, Any]:  # fmt: skip
        return hosts.change(self.deps, account_id, domain_id, host, addresses, ctx)

    @rpc
    def delete_host(self, account_id: str, domain_id: str, host: str, ctx: dict | None = None) -> dict[str, Any]:
        return hosts.delete(self.deps, account_id, domain_id, host, ctx)
