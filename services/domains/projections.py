"""Domains read models (none yet)."""

from kernel.projections import Projection

PROJECTIONS: list[Projection] = []
