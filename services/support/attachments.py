"""Ticket attachments: an allow-list checked by extension AND content, and a
file store outside the database that names files by random id only.

The user's filename is kept as metadata (in the events) for display and for
Content-Disposition; it never touches the file system. The content type we
record is the one the allow-list gives the extension, never the client's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.errors import Invalid

MAX_PER_MESSAGE = 5
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
ID_RE = re.compile(r"^[0-9a-f]{32}$")

# extension -> content type recorded and served
ALLOWED_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "log": "text/plain",
    "zip": "application/zip",
}
MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "pdf": (b"%PDF-",),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
}
# Control bytes that never appear in a text file or log (tab, LF, CR, FF, ESC allowed).
_BINARY_BYTES = bytes(set(range(0x00, 0x09)) | {0x0B} | set(range(0x0E, 0x1B)) | set(range(0x1C, 0x20)))


def max_bytes() -> int:
    return int(os.environ.get("ATTACHMENT_MAX_BYTES", str(DEFAULT_MAX_BYTES)))


def storage_dir() -> Path:
    return Path(os.environ.get("ATTACHMENTS_DIR", "var/attachments"))


@dataclass(frozen=True)
class Prepared:
    """A checked attachment, not yet stored."""

    meta: dict[str, Any]
    data: bytes


def clean_filename(name: str) -> str:
    """A display name: last path component, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def sniff_ok(extension: str, data: bytes) -> bool:
    """Does the content look like what the extension claims?"""
    if extension in ("txt", "log"):
        return not any(b in _BINARY_BYTES for b in data[:65536])
    return any(data.startswith(magic) for magic in MAGIC[extension])


def _check_one(item: Any, limit: int) -> tuple[Prepared | None, str | None]:
    if not isinstance(item, dict):
        return None, "invalid_attachment"
    filename, payload = item.get("filename"), item.get("data_base64")
    if not isinstance(filename, str) or not isinstance(payload, str):
        return None, "invalid_attachment"
    name = clean_filename(filename)
    if not name:
        return None, "invalid_filename"
    stem, dot, ext = name.rpartition(".")
    extension = ext.lower() if dot and stem else ""
    if extension not in ALLOWED_TYPES:
        return None, "attachment_type_not_allowed"
    # base64 text is 4/3 of the data: refuse a giant payload before decoding it
    if len(payload) > (limit + 2) // 3 * 4 + 4:
        return None, "attachment_too_large"
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None, "invalid_attachment"
    if not data:
        return None, "attachment_empty"
    if len(data) > limit:
        return None, "attachment_too_large"
    if not sniff_ok(extension, data):
        return None, "attachment_content_mismatch"
    meta = {
        "attachment_id": secrets.token_hex(16),
        "filename": name,
        "content_type": ALLOWED_TYPES[extension],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return Prepared(meta, data), None


def prepare(items: Any) -> list[Prepared]:
    """Check every attachment of one message; refuse all if any is wrong."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        raise Invalid("invalid_input", {"attachments": "invalid_type"})
    if len(items) > MAX_PER_MESSAGE:
        raise Invalid("invalid_input", {"attachments": "too_many_attachments"})
    limit = max_bytes()
    prepared: list[Prepared] = []
    errors: dict[str, str] = {}
    for i, item in enumerate(items):
        checked, code = _check_one(item, limit)
        if code:
            errors[f"attachments.{i}"] = code
        else:
            prepared.append(checked)
    if errors:
        raise Invalid("invalid_input", errors)
    return prepared


def _path(attachment_id: str) -> Path:
    if not ID_RE.match(attachment_id or ""):
        raise ValueError("bad attachment id")
    return storage_dir() / attachment_id[:2] / attachment_id


def store(prepared: list[Prepared]) -> None:
    """Write the files (atomically each, owner-only); on failure remove what was written."""
    written: list[str] = []
    try:
        for item in prepared:
            path = _path(item.meta["attachment_id"])
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(item.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            written.append(item.meta["attachment_id"])
    except Exception:
        remove(written)
        raise


def remove(attachment_ids: list[str]) -> None:
    for attachment_id in attachment_ids:
        try:
            path = _path(attachment_id)
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".part").unlink(missing_ok=True)
        except (OSError, ValueError):
            pass


def read(attachment_id: str) -> bytes | None:
    try:
        return _path(attachment_id).read_bytes()
    except (OSError, ValueError):
        return None
