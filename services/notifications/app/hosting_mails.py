"""Hosting mails (category "services"): the welcome mail once the account exists on the server, with
the user and database names and a link to the service's page where the password is set (issue #21:
never a password in a mail)."""

from __future__ import annotations

from kernel.contracts import hosting
from kernel.events import Event
from services.notifications.app import Deps
from services.notifications.app.mails import mail, target


def account_created(deps: Deps, event: Event) -> None:
    p: hosting.HostingAccountCreated = event.payload
    owner = target(deps, event)
    context = {"first_name": owner["first_name"], "domain": p.domain, "username": p.username,
               "database": p.database, "service_id": p.service_id}  # fmt: skip
    mail(deps, event, owner, "services", "hosting_account_created", context)
