"""Notifications' application layer: who gets a mail and how it is sent and kept (`mails`), one
module per mail family (account, billing, domain and support mails), the newsletter and the
mailbox (the account's e-mail history).

A function takes `Deps` (kernel.app: the event store, `remote` for accounts' and support's RPCs, the
clock) and the event it answers; `services.notifications.service` only exposes them as Nameko
consumers and RPCs, and `services.notifications.mailer` renders and sends.
"""

from __future__ import annotations

from kernel.app import Deps

__all__ = ["Deps"]
