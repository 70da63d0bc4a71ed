"""Messages of the live dashboard and the page frame (main navigation)."""

MESSAGES: dict[str, tuple[str, str]] = {
    "live_updated": ("Pulpit zaktualizowano.", "The dashboard was updated."),
    "nav_main": ("Menu główne", "Main menu"),
    "nav_services": ("Usługi", "Services"),
    "nav_domains": ("Domeny", "Domains"),
    "nav_invoices": ("Faktury", "Invoices"),
    "nav_tickets": ("Zgłoszenia", "Tickets"),
    "nav_settings": ("Ustawienia", "Settings"),
}
