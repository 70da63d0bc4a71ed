"""Registration and e-mail verification: the same answer, the same work and about the same time for
a known and an unknown address; mail within the per-address and per-client-address limits."""

from __future__ import annotations

from kernel.errors import CommandError
from kernel.events import command_meta, new_id
from services.accounts import sessions
from services.accounts import validation as v
from services.accounts.app import Deps, do, raise_if
from services.accounts.app import guards as g
from services.accounts.domain import token_hash
from services.accounts.projections import AccountToken, AccountView


def register(deps: Deps, email: str, password: str, first_name: str, last_name: str, language: str,
             ctx: dict | None, password_repeat: str | None = None) -> dict[str, str]:  # fmt: skip
    """Every field's error at once (the form's repeated password too, when given)."""
    email = v.normalize_email(email)
    checks = {"email": v.check_email(email), "password": v.check_password(password),
              "password_repeat": v.check_repeat(password, password_repeat),
              "first_name": v.check_name(first_name), "last_name": v.check_name(last_name),
              "language": v.check_language(language)}  # fmt: skip
    raise_if({field: code for field, code in checks.items() if code})
    with g.steady():  # the same answer, the same argon2 work and about the same time for a known address
        password_hash = g.hash_password(password)
        if not g.mail_allowed_from((ctx or {}).get("ip"), "registration"):
            return {}
        account_id = new_id()
        if not g.take_email(deps, email, account_id):
            _tell_already_registered(deps, email, language, ctx)
            return {}
        profile = {"first_name": first_name.strip(), "last_name": last_name.strip(), "phone": "",
                   "language": language}  # fmt: skip
        try:
            do(deps, account_id, lambda a: a.register(email, password_hash, profile),
               command_meta(ctx, actor={"type": "account", "id": account_id}))  # fmt: skip
        except Exception:
            g.release_email(email, account_id=account_id)
            raise
    # the new account's id for internal callers (staff tools, tests); the gateway answers every
    # registration with the same neutral body, so no web client learns which case it was
    return {"account_id": account_id}


def _tell_already_registered(deps: Deps, email: str, language: str, ctx: dict | None) -> None:
    """The address belongs to an account or a contact: it gets a mail saying so (log in or reset
    the password), within the per-address limit; the caller gets the same answer as a newcomer."""
    claim = sessions.EmailClaim.objects(id=email).first()
    if not claim or not AccountView.objects(id=claim.account_id).first():
        return  # a registration still in flight, or one a crash left unfinished: nothing to tell yet
    do(deps, claim.account_id, lambda a: a.registration_attempted(email, language, claim.contact_id)
       if g.may_mail(a, email, "registration") else [], command_meta(ctx))  # fmt: skip


def verify_email(deps: Deps, token: str, ctx: dict | None) -> dict[str, str]:
    found = AccountToken.objects(id=token_hash(token or ""), purpose="verify").first()
    if not found:
        raise CommandError("invalid_token")
    do(deps, found.account_id, lambda a: a.verify_email(token),
       command_meta(ctx, actor={"type": "account", "id": found.account_id}))  # fmt: skip
    return {"account_id": found.account_id}


def resend_verification(deps: Deps, email: str, ctx: dict | None) -> dict:
    """The same answer whether the address is known; within the per-address and per-IP mail limits."""
    with g.steady():
        address = v.lookup_email(email)
        view = AccountView.objects(email=address).first() if address else None
        if g.mail_allowed_from((ctx or {}).get("ip"), "verification") and view and not view.email_verified:
            do(deps, view.id, lambda a: a.resend_verification() if g.may_mail(a, a.email, "verification") else [],
               command_meta(ctx))  # fmt: skip
    return {}
