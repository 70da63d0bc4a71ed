"""Polish first, English second: message catalogue, language choice, formatting."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from flask import g, request

LANGUAGES = ("pl", "en")
LOCALES = {"pl": "pl_PL", "en": "en_GB"}

MESSAGES: dict[str, tuple[str, str]] = {
    # --- error codes from services and the gateway ---
    "required": ("To pole jest wymagane.", "This field is required."),
    "too_long": ("Za długa wartość.", "This value is too long."),
    "invalid_email": (
        "Podaj poprawny adres e-mail, np. jan@firma.pl.",
        "Enter a valid e-mail address, e.g. john@company.com.",
    ),
    "email_taken": ("Konto z tym adresem e-mail już istnieje.", "An account with this e-mail address already exists."),
    "password_too_short": (
        "Hasło musi mieć co najmniej 10 znaków.",
        "The password must be at least 10 characters long.",
    ),
    "password_too_long": ("Hasło może mieć najwyżej 128 znaków.", "The password may have at most 128 characters."),
    "password_mismatch": ("Hasła nie są takie same.", "The passwords do not match."),
    "invalid_phone": ("Podaj numer telefonu, np. +48 600 100 200.", "Enter a phone number, e.g. +48 600 100 200."),
    "invalid_language": ("Wybierz język z listy.", "Choose a language from the list."),
    "invalid_postcode": ("Kod pocztowy w Polsce ma postać 00-000.", "A Polish postcode looks like 00-000."),
    "invalid_nip": (
        "Niepoprawny NIP: sprawdź 10 cyfr (suma kontrolna się nie zgadza).",
        "Invalid NIP: check the 10 digits (checksum mismatch).",
    ),
    "invalid_vat_id": ("Niepoprawny numer VAT UE, np. DE123456789.", "Invalid EU VAT number, e.g. DE123456789."),
    "invalid_country": ("Wybierz kraj z listy.", "Choose a country from the list."),
    "invalid_type": ("Niepoprawny typ wartości.", "Wrong value type."),
    "unknown_category": ("Nieznana kategoria powiadomień.", "Unknown notification category."),
    "invalid_input": ("Popraw zaznaczone pola.", "Please correct the marked fields."),
    "invalid_json": ("Treść żądania musi być obiektem JSON.", "The request body must be a JSON object."),
    "invalid_credentials": ("Nieprawidłowy e-mail lub hasło.", "Wrong e-mail or password."),
    "too_many_attempts": (
        "Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za 15 minut.",
        "Too many failed logins. Try again in 15 minutes.",
    ),
    "email_not_verified": (
        "Najpierw potwierdź adres e-mail: wysłaliśmy link w wiadomości.",
        "Confirm your e-mail address first: we sent you a link.",
    ),
    "invalid_token": (
        "Link jest nieprawidłowy albo został już użyty.",
        "The link is invalid or has already been used.",
    ),
    "expired_token": ("Link wygasł. Poproś o nowy.", "The link has expired. Ask for a new one."),
    "unauthorized": ("Zaloguj się, aby kontynuować.", "Log in to continue."),
    "not_found": ("Nie znaleziono.", "Not found."),
    "csrf": (
        "Formularz wygasł. Odśwież stronę i spróbuj ponownie.",
        "The form expired. Reload the page and try again.",
    ),
    "service_unavailable": (
        "Usługa jest chwilowo niedostępna. Spróbuj za chwilę.",
        "The service is temporarily unavailable. Try again shortly.",
    ),
    "internal_error": (
        "Wystąpił błąd po naszej stronie. Spróbuj ponownie.",
        "Something went wrong on our side. Please try again.",
    ),
    "unknown_field": ("Nieznane pole.", "Unknown field."),
    "already_registered": ("To konto już istnieje.", "This account already exists."),
    # --- page text ---
    "app_name": ("Panel Klienta", "Customer Panel"),
    "login": ("Zaloguj się", "Log in"),
    "logout": ("Wyloguj", "Log out"),
    "register": ("Załóż konto", "Create account"),
    "email": ("Adres e-mail", "E-mail address"),
    "password": ("Hasło", "Password"),
    "password_repeat": ("Powtórz hasło", "Repeat password"),
    "password_hint": ("Co najmniej 10 znaków.", "At least 10 characters."),
    "first_name": ("Imię", "First name"),
    "last_name": ("Nazwisko", "Last name"),
    "phone": ("Numer telefonu", "Phone number"),
    "language": ("Język", "Language"),
    "forgot_password": ("Nie pamiętasz hasła?", "Forgot your password?"),
    "no_account": ("Nie masz konta?", "No account yet?"),
    "have_account": ("Masz już konto?", "Already have an account?"),
    "registered_check_mail": (
        "Konto założone. Wysłaliśmy link potwierdzający na {email}. Kliknij go, aby się zalogować.",
        "Account created. We sent a confirmation link to {email}. Click it to log in.",
    ),
    "resend_verification": ("Wyślij link ponownie", "Send the link again"),
    "verification_resent": (
        "Jeśli konto czeka na potwierdzenie, wysłaliśmy nowy link.",
        "If the account awaits confirmation, we sent a new link.",
    ),
    "email_verified": (
        "Adres e-mail potwierdzony. Możesz się zalogować.",
        "E-mail address confirmed. You can log in now.",
    ),
    "reset_title": ("Zmiana hasła", "Reset password"),
    "reset_intro": (
        "Podaj adres e-mail konta: wyślemy link do ustawienia nowego hasła.",
        "Enter your account's e-mail: we will send a link to set a new password.",
    ),
    "reset_send": ("Wyślij link", "Send link"),
    "reset_sent": (
        "Jeśli konto z tym adresem istnieje, wysłaliśmy link do zmiany hasła.",
        "If an account with this address exists, we sent a password reset link.",
    ),
    "new_password": ("Nowe hasło", "New password"),
    "set_password": ("Ustaw hasło", "Set password"),
    "password_changed": (
        "Hasło zmienione. Zaloguj się nowym hasłem.",
        "Password changed. Log in with the new password.",
    ),
    "logged_out": ("Wylogowano.", "You have been logged out."),
    "dashboard": ("Strona główna", "Dashboard"),
    "hello": ("Witaj, {name}!", "Hello, {name}!"),
    # section 1
    "s1_title": ("Dane osobowe", "Personal data"),
    "s1_owner": ("Właściciel konta", "Account owner"),
    "s1_billing": ("Dane rozliczeniowe", "Billing details"),
    "update": ("Uaktualnij", "Update"),
    "no_billing_address": (
        "Nie podano jeszcze adresu rozliczeniowego: uzupełnij go przed pierwszym zamówieniem.",
        "No billing address yet: add it before your first order.",
    ),
    "email_unverified_badge": ("niepotwierdzony", "unconfirmed"),
    # section 2
    "s2_title": ("Dane kontaktowe", "Contacts"),
    "new_contact": ("Nowe dane kontaktowe", "New contact"),
    "no_contacts": (
        "Nie masz jeszcze dodatkowych kontaktów. Dodaj osobę, która pomoże Ci zarządzać kontem lub płatnościami.",
        "No extra contacts yet. Add a person who helps you manage the account or payments.",
    ),
    # section 3
    "s3_title": ("Skróty", "Shortcuts"),
    "order_service": ("Zamów nową usługę", "Order a new service"),
    "register_domain": ("Zarejestruj nową domenę", "Register a new domain"),
    # section 4
    "s4_title": ("Aktualna oferta", "Current offer"),
    "no_offer": ("Obecnie nie mamy promocji. Zajrzyj wkrótce!", "No promotion right now. Check back soon!"),
    # section 5
    "s5_title": ("Kafelki informacyjne", "Overview"),
    "tile_services": ("Usługi", "Services"),
    "tile_domains": ("Domeny", "Domains"),
    "tile_unpaid_invoices": ("Nieopłacone faktury", "Unpaid invoices"),
    "tile_tickets": ("Zgłoszenia", "Tickets"),
    # section 6
    "s6_title": ("Aktywne usługi", "Active services"),
    "no_services": (
        "Nie masz jeszcze aktywnych usług. Zamów pierwszą usługę, a pojawi się tutaj.",
        "You have no active services yet. Order your first one and it will appear here.",
    ),
    "service_name": ("Nazwa usługi", "Service"),
    "linked_domain": ("Powiązana domena", "Domain"),
    "status": ("Status", "Status"),
    "manage": ("Zarządzaj", "Manage"),
    # section 7
    "s7_title": ("Odnowienia usług", "Renewals"),
    "renew_now": ("Odnów teraz", "Renew now"),
    "renewals_due": ("Usługi do odnowienia w najbliższym czasie: {count}.", "Services renewing soon: {count}."),
    "no_renewals": ("Żadna usługa nie wymaga teraz odnowienia.", "No service needs renewing right now."),
    # section 8
    "s8_title": ("Wiadomości", "News"),
    "no_news": ("Brak nowych wiadomości o Twoich usługach.", "No news about your services."),
    # section 9
    "s9_title": ("Ostatnie zgłoszenia do pomocy technicznej", "Recent support tickets"),
    "no_tickets": (
        "Nie masz zgłoszeń. Jeśli czegoś potrzebujesz, napisz do nas.",
        "No tickets. If you need anything, write to us.",
    ),
    "ticket_number": ("Numer", "Number"),
    "ticket_subject": ("Temat", "Subject"),
    "last_update": ("Ostatnia aktualizacja", "Last update"),
    # section 10
    "s10_title": ("Szybkie dodawanie domeny", "Quick domain add"),
    "domain_placeholder": ("np. mojafirma.pl", "e.g. mycompany.com"),
    "check_domain": ("Sprawdź", "Check"),
    "transfer_domain": ("Przenieś domenę", "Transfer a domain"),
    "section_unavailable": (
        "Ta sekcja jest chwilowo niedostępna. Odśwież stronę za chwilę.",
        "This section is temporarily unavailable. Reload the page in a moment.",
    ),
    "section_not_built": (
        "Ta funkcja jeszcze nie działa w panelu: pracujemy nad nią.",
        "This feature is not in the panel yet: we are working on it.",
    ),
    # settings
    "settings_title": ("Ustawienia konta", "Account settings"),
    "personal_data": ("Dane osobowe", "Personal data"),
    "billing_address": ("Adres rozliczeniowy", "Billing address"),
    "company": ("Firma (opcjonalnie)", "Company (optional)"),
    "nip": ("NIP / numer VAT UE (opcjonalnie)", "NIP / EU VAT number (optional)"),
    "street": ("Ulica i numer", "Street and number"),
    "postcode": ("Kod pocztowy", "Postcode"),
    "city": ("Miejscowość", "City"),
    "country": ("Kraj", "Country"),
    "email_notifications": ("Powiadomienia mailowe", "E-mail notifications"),
    "notifications_intro": (
        "Zdecyduj, jakie powiadomienia e-mail chcesz otrzymywać.",
        "Choose which e-mail notifications you want to receive.",
    ),
    "cat_billing": ("Faktury i płatności", "Invoices and payments"),
    "cat_services": ("Usługi (aktywacja, odnowienia, zawieszenia)", "Services (activation, renewals, suspensions)"),
    "cat_domains": ("Domeny (rejestracja, transfer, wygaśnięcie)", "Domains (registration, transfer, expiry)"),
    "cat_support": ("Pomoc techniczna (odpowiedzi na zgłoszenia)", "Support (ticket replies)"),
    "cat_security": ("Bezpieczeństwo konta (zawsze wysyłane)", "Account security (always sent)"),
    "security_always": (
        "Wiadomości o bezpieczeństwie, resecie hasła i zmianie adresu e-mail wysyłamy zawsze.",
        "Security, password-reset and e-mail-change messages are always sent.",
    ),
    "mailing_list": ("Lista mailingowa", "Mailing list"),
    "mailing_list_label": (
        "Chcę otrzymywać okazjonalne wiadomości, informacje i oferty specjalne e-mailem.",
        "I want occasional news, information and special offers by e-mail.",
    ),
    "mailing_list_hint": ("Możesz zrezygnować z subskrypcji w dowolnym momencie.", "You can unsubscribe at any time."),
    "save_changes": ("Zapisz zmiany", "Save changes"),
    "saved": ("Zmiany zapisane.", "Changes saved."),
    "email_change_note": (
        "Po zmianie adresu e-mail wyślemy link potwierdzający na nowy adres.",
        "After changing the e-mail we send a confirmation link to the new address.",
    ),
    "back_to_dashboard": ("Wróć do strony głównej", "Back to dashboard"),
    "lang_pl": ("Polski", "Polski"),
    "lang_en": ("English", "English"),
    "skip_to_content": ("Przejdź do treści", "Skip to content"),
}


def current_language() -> str:
    return getattr(g, "language", "pl")


def choose_language(account_language: str | None = None) -> str:
    """The account's language; before login the `lang` cookie, then the browser."""
    if account_language in LANGUAGES:
        return account_language
    cookie = request.cookies.get("lang")
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(LANGUAGES) or "pl"


def t(key: str, language: str | None = None, **values) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry[LANGUAGES.index(language or current_language())]
    return text.format(**values) if values else text


def money(grosze: int, currency: str = "PLN", language: str | None = None) -> str:
    locale = LOCALES[language or current_language()]
    return format_currency(grosze / 100, currency, locale=locale)


def number(value: float, language: str | None = None) -> str:
    return format_decimal(value, locale=LOCALES[language or current_language()])


def datetime_text(value: str | dt.datetime | None, language: str | None = None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.rstrip("Z"))
    return format_datetime(value, "short", locale=LOCALES[language or current_language()])
