"""Renders mails from Jinja2 templates in the customer's language and sends them over SMTP."""

from __future__ import annotations

import smtplib
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
