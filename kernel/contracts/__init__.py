"""Event contracts: which service publishes which event types, and the shared vocabulary.

Each event type's `data` is a typed, versioned pydantic model in kernel/contracts/<service>.py
(`registry.CONTRACTS`: (source service, event type) -> model): EventsApi.append refuses data
that breaks it and consumers (`kernel.service.consumes`) get it parsed as `event.payload`.
The comments below summarise them. Consumers subscribe by (source service, event type); adding
an optional field is compatible, renaming or removing one is not (bump the model's VERSION).
"""

ACCOUNTS = "accounts"
ACCOUNT_EVENTS = (
    "account_registered",  # email, first_name, last_name, language, role
    "email_verification_requested",  # email, token, expires_at, language
    "email_verified",  # email
    "email_changed",  # old_email, email
    "login_succeeded",  # ip, session_id
    "login_failed",  # ip, reason
    "logged_out",  # session_id
    "password_reset_requested",  # token, expires_at
    "password_reset_completed",  # -
    "profile_updated",  # changes {first_name, last_name, phone, language}
    "billing_address_updated",  # billing_address
    "notification_preferences_updated",  # preferences {category: bool}
    "mailing_list_subscribed",
    "mailing_list_unsubscribed",  # via ("link" from a newsletter) when not from the settings
    # contacts (seed section 2); data always carries contact_id
    "contact_added",  # email, first_name, last_name, phone, language, address, login, permissions, categories
    "contact_invited",  # email, first_name, language, owner_name, token, expires_at
    "contact_invitation_accepted",  # - (the contact set a password)
    "contact_updated",  # changes {first_name, last_name, phone, language, address, permissions, categories}
    "contact_removed",  # email
    "contact_password_reset_requested",  # email, language, token, expires_at
    "contact_password_reset_completed",  # -
    # security
    "two_factor_enabled",  # - (secret, recovery code hashes: stored, never published)
    "two_factor_disabled",
    "recovery_code_used",
    "session_ended",  # session_id
    "other_sessions_ended",  # count, kept
)

# Data fields kept in the event store (aggregates rebuild from them) but never published:
# EventsApi leaves them out of the message on the broker (live path and outbox sweep alike),
# so no consumer or dead letter sees them. Every key must be one the event really carries
# (tests/kernel/test_private_fields.py). The link `token`s stay: notifications mails them.
ACCOUNT_PRIVATE_FIELDS = {
    "account_registered": ("password_hash",),
    "email_verification_requested": ("token_hash",),
    "email_verified": ("token_hash",),
    "password_reset_requested": ("token_hash",),
    "password_reset_completed": ("token_hash", "password_hash"),
    "password_changed": ("password_hash",),
    "contact_invited": ("token_hash",),
    "contact_invitation_accepted": ("token_hash", "password_hash"),
    "contact_password_reset_requested": ("token_hash",),
    "contact_password_reset_completed": ("token_hash", "password_hash"),
    "two_factor_enabled": ("secret", "recovery_code_hashes"),
    "recovery_code_used": ("code_hash",),
}

# Data fields never shown in history or exports (single-use secrets, hashes).
SECRET_FIELDS = frozenset({"token", "token_hash", "password_hash", "secret", "recovery_code_hashes", "code_hash"})

# What an owner may let a contact do (the gateway maps every route to one of these in
# gateway/permissions.py; an owner holds them all), and the mail categories a contact
# may choose (security mail is about the owner's own access and never goes to a contact).
CONTACT_PERMISSIONS = (
    "profile.view", "profile.edit", "contacts.manage", "services.view", "services.manage", "domains.view",
    "domains.manage", "invoices.view", "invoices.pay", "orders.place", "tickets.open", "tickets.view",
)  # fmt: skip
CONTACT_MAIL_CATEGORIES = ("billing", "services", "domains", "support")
# Every category a mail is sent in (mail_sent.category; the e-mail history filters by it).
MAIL_CATEGORIES = ("billing", "services", "domains", "support", "security", "legal", "news", "newsletter")

# --- cross-service contracts used by billing, domains and support ----------
BILLING = "billing"
# Billing publishes (data always carries account_id):
#   order_placed     {account_id, order_id, items: [CartLine]}
#   invoice_issued   {account_id, invoice_id, number, order_id, lines: [InvoiceLine], total_gross, currency, due_date}
#   invoice_paid     {account_id, invoice_id, number, order_id, lines: [InvoiceLine], paid_at}
#   invoice_cancelled, payment_received, credit_added, credit_used,
#   invoice_overdue_reminder {account_id, invoice_id, number, reminder_no, days_overdue, due_date, amount_due},
#   invoice_refunded {account_id, invoice_id, number, amount, refunded_at} (then credit_added, reason "refund"),
#   service_activated / service_suspended / service_unsuspended / service_terminated / service_cancelled
#       {account_id, service_id, name, plan, domain}
#   offer_set (stream "offer", no account_id: the dashboard banner, staff only)
#       {title, text, title_en, text_en, link, starts_at, ends_at, discount_code, discount_percent};
#       title/text Polish, title_en/text_en English ("", or absent in offers set before they existed:
#       no English version, the Polish one is shown)
# InvoiceLine: {kind, description, params, quantity, net, vat_rate, vat, gross, currency}
#   kind is one of CART_ITEM_KINDS; params are what the owning service needs
#   (hosting: {plan, cycle, domain}; domain_registration: {domain, years};
#    domain_transfer: {domain, epp_code}; *_renewal: {service_id | domain_id, ...}).
CART_ITEM_KINDS = ("hosting", "hosting_renewal", "domain_registration", "domain_transfer", "domain_renewal")
# Kinds that another service prices: billing asks it over RPC, when the item is
# added to the cart, `<owner>.quote_cart_item(account_id, kind, params)` ->
# {description, net, vat_rate, currency, params} or raises CommandError.
CART_ITEM_OWNERS = {"domain_registration": "domains", "domain_transfer": "domains", "domain_renewal": "domains"}

DOMAINS = "domains"
# domain_registration_requested, domain_registered, domain_registration_failed,
# domain_transfer_requested, domain_transferred_in, domain_transfer_rejected,
# domain_renewed, domain_expired, nameservers_changed, domain_lock_changed, auto_renew_changed
#   {account_id, domain_id, name, unicode_name, ...}; also domain_ordered (invoice issued, awaiting
#   payment), domain_cancelled, domain_renewal_invoiced, domain_renewal_requested, domain_epp_code_revealed,
#   domain_transferred_away (another registrar took it; status transferred_away).
#   domain_registration_failed {code, temporary, attempts, retry_at}; domain_transfer_rejected {reason};
#   domain_expired {status: grace_period | redemption | expired, expires_at}.
# Domains consumes billing's invoice_issued / invoice_paid / invoice_cancelled (lines of the domain kinds)
# and never calls billing: domain_renewal_due {account_id, domain_id, name, unicode_name, for_expiry, years,
#   idempotency_key}, once per expiry, which billing consumes to issue the renewal invoice once per key; the
#   invoice line's params keep for_expiry, and its invoice_issued makes domains record domain_renewal_invoiced.
# DNS zones (stream dnszone-<domain_id>, services/domains/dns.py): dns_zone_created {records, nameservers},
#   dns_record_added / dns_record_changed {record, previous?}, dns_record_removed {record}, dns_zone_reset
#   {records}, each with {account_id, domain_id, name, unicode_name}; a record is {id, name, type, ttl, value,
#   priority?, weight?, port?, flags?, tag?}. What PowerDNS has applied is kept in the read model, not as events.

HOSTING = "hosting"
# hosting_account_requested / _created, hosting_step_failed {step, error, attempts, retry_at},
# hosting_suspension_requested / hosting_account_suspended, hosting_unsuspension_requested / _unsuspended,
# hosting_removal_requested {remove_at} / hosting_account_removed, hosting_plan_change_requested / _changed,
# hosting_password_set; all {account_id, service_id, ...} on stream hosting-<service_id> (kernel/contracts/hosting.py).
# Hosting consumes billing's service_activated / _suspended / _unsuspended / _terminated / _cancelled.

SUPPORT = "support"
# ticket_opened, ticket_replied (data.by: "customer" | "staff"), ticket_status_changed,
# ticket_priority_changed {priority, previous_priority}, ticket_closed (data.by),
# ticket_note_added (staff only: never shown or mailed to the customer),
# news_published, news_updated (data.changed), news_withdrawn
#   tickets carry {account_id, ticket_id, number, subject, ...}; news {news_id, title, language, ...}
#   staff commands carry meta.actor = {type: "staff", id: <the staff member's account id>}

NOTIFICATIONS = "notifications"
# mail_sent {account_id, category, template, to, subject, text, html, message_id, source_event_id}
#   (stream mailbox-<account_id>: the e-mail history);
# newsletter_requested {newsletter_id, subject_pl, body_pl, subject_en, body_en} (meta.actor: staff),
# newsletter_delivered {newsletter_id, recipients} (stream newsletter-<newsletter_id>).

# A transfer's EPP code is a secret of the domain's owner: the domains service keeps it in its
# store for the registry and never publishes it. (It reaches domains inside billing's order and
# invoice lines, the customer's own data, which domains reads from those events.)
DOMAIN_PRIVATE_FIELDS = {
    "domain_ordered": ("epp_code", "holder"),
    "domain_transfer_requested": ("epp_code",),
}
# service -> {event type: private data keys}
PRIVATE_FIELDS = {ACCOUNTS: ACCOUNT_PRIVATE_FIELDS, DOMAINS: DOMAIN_PRIVATE_FIELDS}
