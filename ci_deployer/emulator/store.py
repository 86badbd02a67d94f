"""Storage of the emulator: orgs and their resources, in memory or as a directory per org on disk.

Disk layout (``data_dir`` given)::

    <data_dir>/<org>/org.json                      {"name", "id", "tokenSha256": [...]}  (tokens only hashed)
    <data_dir>/<org>/<collection>/<id>.json        one resource, exactly as the API returns it

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a
crash leaves the old or the new version, never half a file.  One file per resource keeps a write
O(1) however large the org grows.  Locking is the caller's business (:class:`Emulator` holds one
lock around every read and write).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def token_hash(token: str) -> str:
    """sha256 of a bearer token: what is kept in memory and on disk instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def format_ms(ms: int) -> str:
    """Epoch milliseconds → ISO 8601 with milliseconds and ``Z``, the way Vapi writes timestamps."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    """ISO 8601 (``Z`` or an offset; naive means UTC) → epoch milliseconds.  Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Sub-millisecond digits are truncated: Vapi's timestamps carry milliseconds only.
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


@dataclass
class Record:
    """One stored resource: the JSON object the API returns plus its timestamps as integers."""

    obj: dict[str, Any]
    created_ms: int
    updated_ms: int


@dataclass
class Org:
    """An organization: its id, the hashes of the tokens that reach it, and its collections."""

    name: str
    id: str
    token_hashes: set[str] = field(default_factory=set)
    # collection → id → record; insertion order is createdAt order (the clock is strictly increasing)
    collections: dict[str, dict[str, Record]] = field(default_factory=dict)
    last_ms: int = 0

    def tick(self) -> int:
        """A strictly increasing millisecond clock per org.

        Vapi's bare-array lists have no cursor; clients page with ``createdAtLt=<oldest seen>``.  That is
        exact only if no two resources share a createdAt, so ties bump the clock by one millisecond.
        """
        now = int(time.time() * 1000)
        self.last_ms = max(now, self.last_ms + 1)
        return self.last_ms

    def collection(self, name: str) -> dict[str, Record]:
        return self.collections.setdefault(name, {})


class Storage:
    """Orgs and resources; persisted under ``data_dir`` when given, else memory only."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self.orgs: dict[str, Org] = {}
        self.by_token: dict[str, str] = {}  # token hash → org name
        if data_dir is not None:
            self._load(data_dir)

    # --- orgs -------------------------------------------------------------------------------------

    def add_org(self, name: str, token: str | None) -> Org:
        """Create the org (or find it by name) and let ``token`` reach it."""
        if not _ORG_NAME.match(name):
            raise ValueError(
                f"org name {name!r} is not usable: use letters, digits, '.', '_' or '-' (at most 64 characters)"
            )
        org = self.orgs.get(name)
        changed = False
        if org is None:
            org = Org(name=name, id=str(uuid.uuid4()))
            self.orgs[name] = org
            changed = True
        if token is not None:
            digest = token_hash(token)
            owner = self.by_token.get(digest)
            if owner is not None and owner != name:
                raise ValueError(f"that token already belongs to org {owner!r}; give each org its own token")
            if digest not in org.token_hashes:
                org.token_hashes.add(digest)
                self.by_token[digest] = name
                changed = True
        if changed:
            self._write_org(org)
        return org

    def org_for_token(self, token: str) -> Org | None:
        name = self.by_token.get(token_hash(token))
        return self.orgs.get(name) if name is not None else None

    # --- resources --------------------------------------------------------------------------------

    def put(self, org: Org, collection: str, record: Record) -> None:
        """Insert or replace a resource (a new id goes to the end: it is the newest)."""
        org.collection(collection)[record.obj["id"]] = record
        if self.data_dir is not None:
            path = self.data_dir / org.name / collection / f"{record.obj['id']}.json"
            _atomic_write(path, json.dumps(record.obj, separators=(",", ":"), ensure_ascii=False))

    def delete(self, org: Org, collection: str, resource_id: str) -> Record | None:
        record = org.collection(collection).pop(resource_id, None)
        if record is not None and self.data_dir is not None:
            (self.data_dir / org.name / collection / f"{resource_id}.json").unlink(missing_ok=True)
        return record

    # --- disk -------------------------------------------------------------------------------------

    def _write_org(self, org: Org) -> None:
        if self.data_dir is None:
            return
        payload = {"name": org.name, "id": org.id, "tokenSha256": sorted(org.token_hashes)}
        _atomic_write(self.data_dir / org.name / "org.json", json.dumps(payload, indent=2) + "\n")

    def _load(self, data_dir: Path) -> None:
        if not data_dir.is_dir():
            return
        for org_file in sorted(data_dir.glob("*/org.json")):
            meta = json.loads(org_file.read_text(encoding="utf-8"))
            org = Org(name=meta["name"], id=meta["id"], token_hashes=set(meta.get("tokenSha256", [])))
            self.orgs[org.name] = org
            for digest in org.token_hashes:
                self.by_token[digest] = org.name
            for folder in sorted(p for p in org_file.parent.iterdir() if p.is_dir()):
                records = []
                for item in folder.glob("*.json"):
                    obj = json.loads(item.read_text(encoding="utf-8"))
                    records.append(Record(obj, parse_iso_ms(obj["createdAt"]), parse_iso_ms(obj["updatedAt"])))
                records.sort(key=lambda r: r.created_ms)
                org.collections[folder.name] = {r.obj["id"]: r for r in records}
                if records:
                    newest = max(max(r.created_ms, r.updated_ms) for r in records)
                    org.last_ms = max(org.last_ms, newest)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The ".part" suffix keeps a leftover from a crash out of the "*.json" glob used on load.
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
