"""Renders mails from Jinja2 templates in the customer's language and sends them over SMTP."""

from __future__ import annotations

import smtplib
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kernel import settings

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("pl", "en")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class UnsafeAddress(ValueError):
    """A recipient address holding a control character, a line break or invalid Unicode: never sent."""


def safe_address(address: object) -> bool:
    """True for one plain address: text, no control character (NUL, CR, LF, ...), no line or
    paragraph separator, no lone surrogate, exactly one @, and not absurdly long."""
    if not isinstance(address, str) or not address or len(address) > 254 or address.count("@") != 1:
        return False
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in ' ,;<>"' for c in address)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(template: str, language: str, context: dict) -> RenderedMail:
    """Each mail is `templates/<lang>/<name>.txt|.html`; the subject is the text file's first line."""
    language = language if language in LANGUAGES else "pl"
    context = {**context, "public_url": settings.PUBLIC_URL}
    text = _env.get_template(f"{language}/{template}.txt").render(context)
    subject, _, body = text.partition("\n")
    subject = subject.removeprefix("Subject:").strip()
    html = _env.get_template(f"{language}/{template}.html").render({**context, "subject": subject})
    return RenderedMail(subject, body.lstrip("\n"), html)


def send(to: str, mail: RenderedMail, headers: dict[str, str] | None = None) -> str:
    if not safe_address(to):
        raise UnsafeAddress("refused to mail an address with a control character or more than one recipient")
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="panel.localhost")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=10) as smtp:
        smtp.send_message(message)
    return message["Message-ID"]
