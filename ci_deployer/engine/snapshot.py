"""Snapshots: what an apply left behind (docs/formats.md "Snapshot").

A snapshot is the env's state: for every managed resource its id, the canonical desired payload
as applied, the canonical API response (the drift baseline) and, per secret path, the placeholder's
refs and an HMAC of the value sent.  Partial snapshots (an apply that failed midway) count too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from ci_deployer import jsontext, redact
from ci_deployer.engine.canonical import sort_keys
from ci_deployer.errors import StateError

FORMAT_VERSION = 1


@dataclass
class SnapshotRecord:
    """One managed resource in a snapshot."""

    kind: str
    slug: str
    id: str
    payload: dict[str, Any]  # canonical response: ref tokens, placeholders, markers
    desired: dict[str, Any]  # canonical desired as applied
    secret_refs: dict[str, dict[str, Any]] = field(default_factory=dict)  # "a.b[0]" → {ref, refs, hmac}
    hash: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "slug": self.slug,
            "id": self.id,
            "payload": sort_keys(self.payload),
            "desired": sort_keys(self.desired),
            "secretRefs": sort_keys(self.secret_refs),
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotRecord:
        return cls(
            kind=str(data["kind"]),
            slug=str(data["slug"]),
            id=str(data["id"]),
            payload=dict(data.get("payload") or {}),
            desired=dict(data.get("desired") or {}),
            secret_refs=dict(data.get("secretRefs") or {}),
            hash=str(data.get("hash") or ""),
        )


@dataclass
class Snapshot:
    """The state of one env after an apply (or, as a backup, the org before one)."""

    env: str
    org: str
    org_id: str | None
    sha: str | None
    run: str | None
    applied_at: str
    complete: bool
    resources: list[SnapshotRecord] = field(default_factory=list)
    plan_hash: str | None = None
    logical_hash: str | None = None
    secret_hmacs: dict[str, str] = field(default_factory=dict)  # REF → HMAC of its value when applied (keyed)
    kind_name: str = "snapshot"  # "snapshot" | "backup"
    unmanaged: list[dict[str, Any]] = field(default_factory=list)  # backups: everything else in the org
    # Read from a state written before keys came from the user: its key and fingerprints were dropped.
    legacy_key_dropped: bool = False
    # Knowledge-base documents (engine/documents.py): {"files": {sha256: {id, path, bytes}},
    # "knowledgeBases": {slug: {path: sha256}}}; empty when none are managed
    documents: dict[str, Any] = field(default_factory=dict)

    def records(self, kind: str | None = None) -> list[SnapshotRecord]:
        return [r for r in self.resources if kind is None or r.kind == kind]

    # -- indexed lookups (speed: plan and apply look records up per resource) ------------------------
    # Built on first use and rebuilt when ``resources`` was replaced or grew; the first record of a
    # (kind, slug) wins, as the linear scan it replaces did.

    def _index(self) -> dict[tuple[str, str], SnapshotRecord]:
        cached = self.__dict__.get("_by_key")
        if cached is None or cached[0] is not self.resources or cached[1] != len(self.resources):
            index: dict[tuple[str, str], SnapshotRecord] = {}
            for rec in self.resources:
                index.setdefault((rec.kind, rec.slug), rec)
            cached = (self.resources, len(self.resources), index)
            self.__dict__["_by_key"] = cached
        return cached[2]

    def record(self, kind: str, slug: str) -> SnapshotRecord | None:
        return self._index().get((kind, slug))

    def ids(self, kind: str) -> dict[str, str]:
        """slug → id of ``kind``."""
        return {r.slug: r.id for r in self.resources if r.kind == kind}

    # -- end of the indexed lookups --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "formatVersion": FORMAT_VERSION,
            "kind": self.kind_name,
            "env": self.env,
            "org": self.org,
            "orgId": self.org_id,
            "sha": self.sha,
            "run": self.run,
            "appliedAt": self.applied_at,
            "complete": self.complete,
            "planHash": self.plan_hash,
            "logicalHash": self.logical_hash,
            "secretHmacs": dict(sorted(self.secret_hmacs.items())),
            "resources": [r.to_dict() for r in sorted(self.resources, key=lambda r: (r.kind, r.slug))],
        }
        if self.unmanaged:
            out["unmanaged"] = self.unmanaged
        if self.documents:
            out["documents"] = sort_keys(self.documents)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "snapshot") -> Snapshot:
        if not isinstance(data, dict) or data.get("kind") not in ("snapshot", "backup"):
            raise StateError(
                f'{source} is not a ci-deployer snapshot (no "kind": "snapshot")',
                hint="pass a snapshot-after.json or backup-before.json written by `ci-deployer apply`",
            )
        if int(data.get("formatVersion") or 0) > FORMAT_VERSION:
            raise StateError(
                f"{source} has formatVersion {data.get('formatVersion')}, newer than this ci-deployer understands",
                hint="upgrade ci-deployer",
            )
        legacy = bool(data.get("hmacKey"))
        if legacy:
            # Key material never sits beside what it keys (DESIGN §2): a state that carried its HMAC
            # key is migrated once by dropping the key and every fingerprint made with it.
            data = _without_fingerprints(data)
        try:
            return cls(
                env=str(data["env"]),
                org=str(data["org"]),
                org_id=data.get("orgId"),
                sha=data.get("sha"),
                run=data.get("run"),
                applied_at=str(data.get("appliedAt") or ""),
                complete=bool(data.get("complete")),
                resources=[SnapshotRecord.from_dict(r) for r in data.get("resources") or []],
                plan_hash=data.get("planHash"),
                logical_hash=data.get("logicalHash"),
                secret_hmacs=dict(data.get("secretHmacs") or {}),
                kind_name=str(data.get("kind")),
                unmanaged=list(data.get("unmanaged") or []),
                legacy_key_dropped=legacy,
                documents=dict(data.get("documents") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(
                f"{source} is not a valid snapshot: missing or bad field {exc}",
                hint="restore the file from the apply's artifacts, or delete it to start from no state",
            ) from None


def _without_fingerprints(data: dict[str, Any]) -> dict[str, Any]:
    resources = []
    for item in data.get("resources") or []:
        if isinstance(item, dict) and isinstance(item.get("secretRefs"), dict):
            refs = {
                path: {**info, "hmac": None} if isinstance(info, dict) else info
                for path, info in item["secretRefs"].items()
            }
            item = {**item, "secretRefs": refs}  # noqa: PLW2901 - the migrated copy replaces it
        resources.append(item)
    return {**data, "hmacKey": None, "secretHmacs": {}, "resources": resources}


def dump(snapshot: Snapshot) -> str:
    """The snapshot as JSON text, with every registered secret value masked (last line of defence)."""
    return redact.redact(jsontext.dumps(snapshot.to_dict(), ensure_ascii=False)) + "\n"


def write(snapshot: Snapshot, path: FsPath) -> None:
    """Write atomically (a crash never leaves half a state file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump(snapshot), encoding="utf-8")
    tmp.replace(path)


def load(path: FsPath) -> Snapshot:
    """Read a snapshot file; :class:`StateError` naming the file when it is missing or corrupt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateError(f"snapshot {path} does not exist", hint="pass the path of a snapshot-after.json") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read snapshot {path}: {exc}", hint="restore it from the apply's artifacts") from None
    return Snapshot.from_dict(data, source=str(path))
