"""Messages of the live dashboard."""

MESSAGES: dict[str, tuple[str, str]] = {
    "live_updated": ("Pulpit zaktualizowano.", "The dashboard was updated."),
}
