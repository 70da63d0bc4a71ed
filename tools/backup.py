"""Backups of what cannot be derived: `python -m tools.backup backup|restore|verify`.

The event store is the truth, so a backup holds, per service, every collection
that is not a read model: the event commits (up to the commit position read when
the backup started), the position counter, the consumers' processed markers,
dead letters and the operational documents (sessions, carts, payment sessions,
...), plus the support attachments its events name. Read models, projection
checkpoints and snapshots are left out: `restore` rebuilds them from the events.

Safe while the panel serves: commits are read up to a position fixed first, and
a stream's later commit always has a higher position, so each stream is a
complete prefix; markers are read before the commits (a restored marker never
names an event whose effect is missing), attachments after them.

The archive (`panel-backup-<UTC time>.tar.gz`) holds `<service>/<collection>.jsonl`
(MongoDB extended JSON, one document a line), `attachments/<id>`, `manifest.json`
(counts, positions, the SHA-256 of every file) and `SHA256SUMS` (`sha256sum -c`).
Nothing in it depends on the server: it loads into a real MongoDB as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
from bson import json_util

from kernel import db
from kernel.eventstore import EventStore
from kernel.settings import SERVICES

ROOT = Path(__file__).resolve().parent.parent
COMMITS, POSITIONS, MARKERS = "event_commits", "event_positions", "processed_events"
ALWAYS_DERIVED = {"projection_checkpoints", "snapshots"}
JSON_OPTIONS = json_util.CANONICAL_JSON_OPTIONS  # types survive the round trip (dates, ints, binary)


class BackupError(Exception):
    """An archive that does not verify, or a restore that would overwrite data."""


@dataclass
class Target:
    """Where the panel's data lives: the database server, the databases' prefix, the attachments."""

    mongo_uri: str
    prefix: str
    attachments: Path

    @classmethod
    def from_environment(cls) -> Target:
        return cls(os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/"), os.environ.get("DB_PREFIX", "panel_"),
                   ROOT / os.environ.get("ATTACHMENTS_DIR", "var/attachments"))  # fmt: skip

    def database(self, client: pymongo.MongoClient, service: str) -> Any:
        return client[f"{self.prefix}{service}"]


def projections(service: str) -> list:
    return list(importlib.import_module(f"services.{service}.projections").PROJECTIONS)


def derived_collections(service: str) -> set[str]:
    """The collections `restore` rebuilds (read models of the service's projections), never backed up."""
    names = {doc._get_collection_name() for projection in projections(service) for doc in projection.documents}
    return names | ALWAYS_DERIVED


def kept_collections(database: Any, service: str) -> list[str]:
    """Markers first, commits last but one, positions last (see the module doc: the order is the safety)."""
    derived = derived_collections(service)
    names = [n for n in database.list_collection_names() if n not in derived and not n.startswith("system.")]
    rest = sorted(n for n in names if n not in (MARKERS, COMMITS, POSITIONS))
    return [n for n in (MARKERS, *rest, COMMITS, POSITIONS) if n in names]


def _lines(documents: Iterable[dict]) -> Iterator[bytes]:
    for document in documents:
        yield (json_util.dumps(document, json_options=JSON_OPTIONS) + "\n").encode()


def _attachment_ids(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("attachment_id"), str):
            yield value["attachment_id"]
        for item in value.values():
            yield from _attachment_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _attachment_ids(item)


class _Writer:
    def __init__(self, tar: tarfile.TarFile):
        self.tar, self.files = tar, {}

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
        self.tar.addfile(info, io.BytesIO(data))
        self.files[name] = hashlib.sha256(data).hexdigest()


def backup(target: Target, out_dir: Path, services: Iterable[str] = SERVICES) -> Path:
    """Write one archive of every service's kept collections and the attachments; returns its path."""
    started = dt.datetime.now(dt.UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"panel-backup-{started:%Y%m%dT%H%M%S%fZ}.tar.gz"
    manifest: dict[str, Any] = {"format": 1, "created_at": started.isoformat(), "prefix": target.prefix, "services": {}}
    client = pymongo.MongoClient(target.mongo_uri)
    attachment_ids: set[str] = set()
    partial = path.with_name(path.name + ".part")
    with tarfile.open(partial, "w:gz") as tar:
        writer = _Writer(tar)
        for service in services:
            database = target.database(client, service)
            counter = database[POSITIONS].find_one({"_id": "commits"}) or {}
            bound = int(counter.get("n", 0))
            info: dict[str, Any] = {"position": bound, "collections": {}}
            for name in kept_collections(database, service):
                query = {"position": {"$lte": bound}} if name == COMMITS else {}
                documents = list(database[name].find(query).sort("_id", 1))
                if name == COMMITS:
                    attachment_ids.update(_attachment_ids([c.get("events") for c in documents]))
                    info["events"] = sum(len(c.get("events") or []) for c in documents)
                writer.add(f"{service}/{name}.jsonl", b"".join(_lines(documents)))
                info["collections"][name] = len(documents)
            manifest["services"][service] = info
        found = []
        for attachment_id in sorted(attachment_ids):
            file = target.attachments / attachment_id[:2] / attachment_id
            if file.is_file():
                writer.add(f"attachments/{attachment_id}", file.read_bytes())
                found.append(attachment_id)
        manifest["attachments"] = {"count": len(found), "missing": sorted(attachment_ids - set(found))}
        manifest["files"] = dict(writer.files)
        sums = "".join(f"{digest}  {name}\n" for name, digest in writer.files.items())
        writer.add("SHA256SUMS", sums.encode())
        writer.add("manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    os.replace(partial, path)
    client.close()
    return path


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every file of the archive, each checked against its SHA-256 (BackupError if not)."""
    with tarfile.open(path, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    if "manifest.json" not in files:
        raise BackupError(f"{path}: no manifest.json")
    manifest = json.loads(files["manifest.json"])
    for name, digest in manifest["files"].items():
        if name not in files:
            raise BackupError(f"{path}: {name} is missing")
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise BackupError(f"{path}: {name} does not match its checksum")
    return manifest, files


def latest(out_dir: Path) -> Path:
    archives = sorted(out_dir.glob("panel-backup-*.tar.gz"))
    if not archives:
        raise BackupError(f"no backup in {out_dir}")
    return archives[-1]


def restore(target: Target, path: Path, services: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Load the archive into empty databases, put the attachments back and rebuild every read model.

    Refuses (BackupError, nothing written) when a service's database already holds event commits."""
    manifest, files = read_archive(path)
    wanted = list(services or manifest["services"])
    client = pymongo.MongoClient(target.mongo_uri)
    for service in wanted:
        if service not in manifest["services"]:
            raise BackupError(f"{path}: holds no {service}")
        if target.database(client, service)[COMMITS].estimated_document_count():
            raise BackupError(f"{target.prefix}{service} is not empty: restore only into an empty database")
    report = {}
    for service in wanted:
        started = time.perf_counter()
        database = target.database(client, service)
        for name in manifest["services"][service]["collections"]:
            documents = [json_util.loads(line) for line in files[f"{service}/{name}.jsonl"].splitlines() if line]
            for start in range(0, len(documents), 1000):
                database[name].insert_many(documents[start : start + 1000], ordered=True)
        rebuild(target, service)
        events = manifest["services"][service].get("events", 0)
        report[service] = {"events": events, "seconds": round(time.perf_counter() - started, 3)}
    if "support" in wanted:
        for name, data in files.items():
            if name.startswith("attachments/"):
                attachment_id = name.removeprefix("attachments/")
                file = target.attachments / attachment_id[:2] / attachment_id
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(data)
                file.chmod(0o600)
    client.close()
    return report


def rebuild(target: Target, service: str) -> int:
    """Every index of the service, then its read models from its events; the number of events replayed."""
    from kernel.dependencies import prepare_storage

    module = importlib.import_module(f"services.{service}.service")
    service_cls = getattr(module, f"{service.title()}Service")
    db.disconnect(service)
    db.connect(service, target.mongo_uri, f"{target.prefix}{service}")
    try:
        prepare_storage(service, service_cls)
        store = EventStore(service)
        return sum(projection.rebuild(store) for projection in projections(service))
    finally:
        db.disconnect(service)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.backup")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("backup", help="write a dated archive of every service's events and attachments")
    make.add_argument("--dir", type=Path, default=ROOT / "var" / "backups")
    load = sub.add_parser("restore", help="load an archive into empty databases and rebuild the read models")
    load.add_argument("archive", type=Path, nargs="?", help="default: the newest in --dir")
    load.add_argument("--dir", type=Path, default=ROOT / "var" / "backups")
    load.add_argument("--service", action="append", help="only these services (repeatable)")
    check = sub.add_parser("verify", help="check an archive's checksums")
    check.add_argument("archive", type=Path)
    args = parser.parse_args(argv)
    target = Target.from_environment()
    started = time.perf_counter()
    try:
        if args.command == "backup":
            path = backup(target, args.dir)
            manifest, _ = read_archive(path)
            events = sum(s.get("events", 0) for s in manifest["services"].values())
            print(f"{path}: {events} events, {manifest['attachments']['count']} attachments, "
                  f"{time.perf_counter() - started:.2f}s")  # fmt: skip
        elif args.command == "restore":
            path = args.archive or latest(args.dir)
            for service, done in restore(target, path, args.service).items():
                print(f"restored {service}: {done['events']} events, read models rebuilt in {done['seconds']}s")
        else:
            manifest, files = read_archive(args.archive)
            print(f"{args.archive}: {len(files)} files, every checksum matches (created {manifest['created_at']})")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
