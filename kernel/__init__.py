"""Shared event-sourcing kernel: event store, outbox publishing, idempotent
consumers, projections and the event contracts every service agrees on."""
