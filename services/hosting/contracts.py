"""The events the hosting service publishes, as typed contracts: defined in kernel.contracts.hosting,
where every service can import them; this module is the hosting service's own place to look."""

from kernel.contracts.hosting import (
    EVENTS,
    SOURCE,
    HostingAccountCreated,
    HostingAccountRemoved,
    HostingAccountRequested,
    HostingAccountSuspended,
    HostingAccountUnsuspended,
    HostingPasswordSet,
    HostingPlanChanged,
    HostingPlanChangeRequested,
    HostingRemovalRequested,
    HostingStepFailed,
    HostingSuspensionRequested,
    HostingUnsuspensionRequested,
    Limits,
)

__all__ = [
    "EVENTS",
    "SOURCE",
    "Limits",
    "HostingAccountRequested",
    "HostingAccountCreated",
    "HostingStepFailed",
    "HostingSuspensionRequested",
    "HostingAccountSuspended",
    "HostingUnsuspensionRequested",
    "HostingAccountUnsuspended",
    "HostingRemovalRequested",
    "HostingAccountRemoved",
    "HostingPlanChangeRequested",
    "HostingPlanChanged",
    "HostingPasswordSet",
]
