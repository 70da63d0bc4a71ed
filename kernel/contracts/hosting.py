"""What the hosting service publishes (issue #21). Stream `hosting-<service_id>`: one hosting account,
the real account on a web server behind one of billing's hosting services. `*_requested` events say
what billing's events asked for; the others what the server has done. Nothing secret is carried: the
customer's password goes from the panel to the server and is never stored."""

from __future__ import annotations

from kernel.contracts import HOSTING
from kernel.contracts.base import Contract, IsoDateTime, Part, by_type

SOURCE = HOSTING


class Limits(Part):
    """What the plan allows on the server (services/hosting/plans.py)."""

    disk_mb: int
    php_workers: int
    php_memory_mb: int
    upload_mb: int
    db_connections: int


class HostingEvent(Contract):
    account_id: str
    service_id: str


class HostingAccountRequested(HostingEvent):
    """Billing activated the service: the account to create, named once (a retry reuses the names)."""

    TYPE = "hosting_account_requested"
    plan: str
    domain: str
    server: str
    username: str
    database: str
    limits: Limits


class HostingAccountCreated(HostingEvent):
    TYPE = "hosting_account_created"
    server: str
    username: str
    database: str
    domain: str


class HostingStepFailed(HostingEvent):
    """The server did not carry out `step` (create, suspend, unsuspend, terminate, change_plan); the
    timer tries again at `retry_at`."""

    TYPE = "hosting_step_failed"
    step: str
    error: str
    attempts: int
    retry_at: IsoDateTime


class HostingSuspensionRequested(HostingEvent):
    TYPE = "hosting_suspension_requested"
    reason: str


class HostingAccountSuspended(HostingEvent):
    TYPE = "hosting_account_suspended"


class HostingUnsuspensionRequested(HostingEvent):
    TYPE = "hosting_unsuspension_requested"


class HostingAccountUnsuspended(HostingEvent):
    TYPE = "hosting_account_unsuspended"


class HostingRemovalRequested(HostingEvent):
    """The service ended (terminated or cancelled): the account goes at `remove_at`."""

    TYPE = "hosting_removal_requested"
    reason: str
    remove_at: IsoDateTime


class HostingAccountRemoved(HostingEvent):
    TYPE = "hosting_account_removed"


class HostingPlanChangeRequested(HostingEvent):
    """The account is to have `plan`'s limits: billing's `service_plan_changed` (`changed_at`, billing's
    time of the change, by which a late or repeated one is told apart) or staff's change (no time)."""

    TYPE = "hosting_plan_change_requested"
    plan: str
    limits: Limits
    changed_at: IsoDateTime | None = None


class HostingPlanChanged(HostingEvent):
    TYPE = "hosting_plan_changed"
    plan: str


class HostingPasswordSet(HostingEvent):
    """The customer set a new password (SFTP and database); the password itself is never stored."""

    TYPE = "hosting_password_set"


EVENTS = by_type(
    HostingAccountRequested, HostingAccountCreated, HostingStepFailed, HostingSuspensionRequested,
    HostingAccountSuspended, HostingUnsuspensionRequested, HostingAccountUnsuspended, HostingRemovalRequested,
    HostingAccountRemoved, HostingPlanChangeRequested, HostingPlanChanged, HostingPasswordSet,
)  # fmt: skip
