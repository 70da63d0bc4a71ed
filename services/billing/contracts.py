"""The events the billing service publishes, as typed contracts (one pydantic model per event type,
with its VERSION). They are defined in kernel.contracts.billing, where every service can import them;
this module is the billing service's own place to look. A new event type is declared there."""

from kernel.contracts.billing import (
    EVENTS,
    SOURCE,
    CreditAdded,
    CreditUsed,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceOverdueReminder,
    InvoicePaid,
    InvoiceRefunded,
    OfferSet,
    OrderPlaced,
    PaymentReceived,
    RenewalInvoiceRequested,
    ServiceActivated,
    ServiceCancellationRequested,
    ServiceCancelled,
    ServiceRenewed,
    ServiceSuspended,
    ServiceTerminated,
    ServiceUnsuspended,
)
from kernel.contracts.billing import AutoChargeFailed as AutoChargeFailed  # issue #15: automatic renewal charges
from kernel.contracts.billing import CardExpiring as CardExpiring
from kernel.contracts.billing import CorrectionIssued as CorrectionIssued  # issue #16: KSeF and corrections
from kernel.contracts.billing import InvoiceKsefOffline as InvoiceKsefOffline
from kernel.contracts.billing import InvoiceRejectedByKsef as InvoiceRejectedByKsef
from kernel.contracts.billing import InvoiceSentToKsef as InvoiceSentToKsef
from kernel.contracts.billing import KsefDocumentPrepared as KsefDocumentPrepared
from kernel.contracts.billing import OfferEnded as OfferEnded  # issue #17: told by the cycle as time passes
from kernel.contracts.billing import OfferStarted as OfferStarted
from kernel.contracts.billing import ServiceAutoRenewSet as ServiceAutoRenewSet  # issue #15
from kernel.contracts.billing import ServicePlanChanged as ServicePlanChanged  # issue #18: the lifecycle
from kernel.contracts.billing import ServiceRenewalWindowOpened as ServiceRenewalWindowOpened
from kernel.contracts.billing import ServiceWithdrawn as ServiceWithdrawn

__all__ = [
    "EVENTS",
    "SOURCE",
    "OrderPlaced",
    "RenewalInvoiceRequested",
    "InvoiceIssued",
    "InvoicePaid",
    "InvoiceCancelled",
    "InvoiceRefunded",
    "InvoiceOverdueReminder",
    "PaymentReceived",
    "CreditAdded",
    "CreditUsed",
    "ServiceActivated",
    "ServiceRenewed",
    "ServiceSuspended",
    "ServiceUnsuspended",
    "ServiceTerminated",
    "ServiceCancelled",
    "ServiceCancellationRequested",
    "OfferSet",
]
