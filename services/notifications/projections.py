"""Notifications read models: the e-mail history every customer can browse."""

from __future__ import annotations

import mongoengine as me

from kernel.events import Event
from kernel.projections import Projection

ALIAS = "notifications"


class SentMail(me.Document):
    id = me.StringField(primary_key=True)  # the mail_sent event id
    account_id = me.StringField(required=True)
    category = me.StringField(required=True)
    template = me.StringField()
    to = me.StringField()
    subject = me.StringField()
    text = me.StringField()
    html = me.StringField()
    message_id = me.StringField()
    source_event_id = me.StringField()  # the event the mail answers (a newsletter: its request)
    sent_at = me.DateTimeField()
    meta = {
        "db_alias": ALIAS,
        "collection": "sent_mails",
        "indexes": [("account_id", "-sent_at")],
        "auto_create_index": False,
    }

    def summary(self) -> dict:
        return {"mail_id": self.id, "category": self.category, "to": self.to, "subject": self.subject,
                "sent_at": self.sent_at.isoformat() + "Z"}  # fmt: skip


mailbox = Projection("mailbox", ALIAS, [SentMail])


@mailbox.on("mail_sent")
def _mail_sent(event: Event) -> None:
    d = event.data
    SentMail(
        id=event.event_id, account_id=d["account_id"], category=d["category"], template=d["template"], to=d["to"],
        subject=d["subject"], text=d["text"], html=d["html"], message_id=d["message_id"],
        source_event_id=d.get("source_event_id"), sent_at=event.occurred_at,
    ).save()  # fmt: skip


PROJECTIONS = [mailbox]
