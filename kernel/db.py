"""MongoEngine connections: one alias per service, named after the service."""

from __future__ import annotations

import mongoengine
from mongoengine.connection import get_db

from kernel import settings


def connect(service: str, uri: str | None = None, db_name: str | None = None) -> None:
    """Register the connection alias `service` (idempotent)."""
    mongoengine.connect(
        db=db_name or settings.database_name(service),
        alias=service,
        host=uri or settings.MONGO_URI,
        tz_aware=False,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
    )


def disconnect(service: str) -> None:
    mongoengine.disconnect(alias=service)


def database(service: str):
    return get_db(alias=service)
