"""The events the support service publishes, as typed contracts (one pydantic model per event type,
with its VERSION). They are defined in kernel.contracts.support, where every service can import them;
this module is the support service's own place to look. A new event type is declared there."""

from kernel.contracts.support import (
    EVENTS,
    SOURCE,
    CustomerPlanDropped,
    CustomerPlanHeld,
    KbArticlePublished,
    KbArticleUpdated,
    KbArticleWithdrawn,
    NewsPublished,
    NewsUpdated,
    NewsWentLive,
    NewsWithdrawn,
    TicketClosed,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketReplied,
    TicketStatusChanged,
)

__all__ = [
    "EVENTS",
    "SOURCE",
    "TicketOpened",
    "TicketReplied",
    "TicketStatusChanged",
    "TicketClosed",
    "TicketPriorityChanged",
    "TicketNoteAdded",
    "NewsPublished",
    "NewsUpdated",
    "NewsWithdrawn",
    "NewsWentLive",
    "KbArticlePublished",
    "KbArticleUpdated",
    "KbArticleWithdrawn",
    "CustomerPlanHeld",
    "CustomerPlanDropped",
]
