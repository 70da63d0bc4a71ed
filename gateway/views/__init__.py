"""Blueprints: `pages` (HTML for people) and `api` (JSON, /api/v1).

A feature adds its pages as functions on these blueprints in its own module
(e.g. gateway/views/billing.py) imported at the bottom of pages.py / api.py.
"""
