"""Domains service: running and healthy; its features arrive with their issue."""

from __future__ import annotations

from kernel.service import EventSourcedService
from services.domains.projections import PROJECTIONS


class DomainsService(EventSourcedService):
    name = "domains"
    projections = PROJECTIONS
