"""Snapshots: what an apply left behind (docs/formats.md "Snapshot").

A snapshot is the env's state: for every managed resource its id, the canonical desired payload
as applied, the canonical API response (the drift baseline) and, per secret path, the placeholder's
refs and an HMAC of the value sent.  Partial snapshots (an apply that failed midway) count too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from ci_deployer import jsontext, redact
from ci_deployer.engine.canonical import sort_keys
from ci_deployer.errors import StateError

FORMAT_VERSION = 1


# payload, desired, secret refs, hash: what a record holds besides its kind, slug and id
_Body = tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]], str]


class SnapshotRecord:
    """One managed resource in a snapshot.

    ``kind``, ``slug`` and ``id`` are plain attributes.  A record read from a snapshot file
    (:func:`load`) keeps the rest as its JSON text and decodes it on first use: a partial plan of a
    10,000-resource env needs every id but the payloads of a handful, and decoding them all was most
    of its cost.  The decoded body is never replaced, so threads may share a record."""

    __slots__ = ("_body", "_members", "_source", "id", "kind", "slug")

    def __init__(  # noqa: PLR0917 - the positional signature the dataclass it was had
        self,
        kind: str,
        slug: str,
        id: str,
        payload: dict[str, Any],  # canonical response: ref tokens, placeholders, markers
        desired: dict[str, Any],  # canonical desired as applied
        secret_refs: dict[str, dict[str, Any]] | None = None,  # "a.b[0]" → {ref, refs, hmac}
        hash: str = "",
    ) -> None:
        self.kind = kind
        self.slug = slug
        self.id = id
        self._body: _Body | None = (payload, desired, secret_refs if secret_refs is not None else {}, hash)
        self._members = ""  # undecoded: the JSON text of its members (between its braces) …
        self._source = ""  # … read from this file

    @classmethod
    def _undecoded(cls, kind: str, slug: str, id: str, members: str, source: str) -> SnapshotRecord:
        """A record whose body is decoded on first use from ``members``, the JSON text between its
        braces (read from the file ``source``)."""
        rec = cls.__new__(cls)
        rec.kind, rec.slug, rec.id = kind, slug, id
        rec._body = None
        rec._members = members
        rec._source = source
        return rec

    def _decoded(self) -> _Body:
        body = self._body
        if body is None:
            try:
                body = self._body = _body_of(json.loads("{" + self._members + "}"))
            except ValueError as exc:
                raise StateError(
                    f"cannot read snapshot {self._source}: {self.key}: {exc}",
                    hint="restore it from the apply's artifacts",
                ) from None
        return body

    @property
    def payload(self) -> dict[str, Any]:
        return self._decoded()[0]

    @property
    def desired(self) -> dict[str, Any]:
        return self._decoded()[1]

    @property
    def secret_refs(self) -> dict[str, dict[str, Any]]:
        return self._decoded()[2]

    @property
    def hash(self) -> str:
        return self._decoded()[3]

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    def _fields(self) -> tuple[Any, ...]:
        return (self.kind, self.slug, self.id, *self._decoded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SnapshotRecord) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable payloads: unhashable, as the dataclass was

    def __repr__(self) -> str:
        return f"SnapshotRecord(kind={self.kind!r}, slug={self.slug!r}, id={self.id!r}, ...)"

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
        return cls(str(data["kind"]), str(data["slug"]), str(data["id"]), *_body_of(data))


def _body_of(data: dict[str, Any]) -> _Body:
    return (
        dict(data.get("payload") or {}),
        dict(data.get("desired") or {}),
        dict(data.get("secretRefs") or {}),
        str(data.get("hash") or ""),
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
    # (kind, slug) wins, as the linear scan it replaces did (for ``ids``, the last, as its dict did).

    def _index(self) -> tuple[dict[tuple[str, str], SnapshotRecord], dict[str, dict[str, str]]]:
        cached = self.__dict__.get("_by_key")
        if cached is None or cached[0] is not self.resources or cached[1] != len(self.resources):
            index: dict[tuple[str, str], SnapshotRecord] = {}
            ids: dict[str, dict[str, str]] = {}
            for rec in self.resources:
                index.setdefault((rec.kind, rec.slug), rec)
                ids.setdefault(rec.kind, {})[rec.slug] = rec.id
            cached = (self.resources, len(self.resources), (index, ids))
            self.__dict__["_by_key"] = cached
        return cached[2]

    def record(self, kind: str, slug: str) -> SnapshotRecord | None:
        return self._index()[0].get((kind, slug))

    def ids(self, kind: str) -> dict[str, str]:
        """slug → id of ``kind``."""
        return dict(self._index()[1].get(kind, {}))

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


def write(snapshot: Snapshot, path: FsPath, *, text: str | None = None) -> None:
    """Write atomically (a crash never leaves half a state file); ``text``: :func:`dump` of
    ``snapshot``, when the caller made it already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump(snapshot) if text is None else text, encoding="utf-8")
    tmp.replace(path)


def load(path: FsPath) -> Snapshot:
    """Read a snapshot file; :class:`StateError` naming the file when it is missing or corrupt."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"snapshot {path} does not exist", hint="pass the path of a snapshot-after.json") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read snapshot {path}: {exc}", hint="restore it from the apply's artifacts") from None
    try:
        return parse(text, str(path))
    except ValueError as exc:
        raise StateError(f"cannot read snapshot {path}: {exc}", hint="restore it from the apply's artifacts") from None


# The text :func:`dump` writes: indented by two spaces (jsontext), ``formatVersion`` first, each
# record on lines of its own at four spaces with its kind, slug and id first.  A raw newline never
# occurs inside a JSON string, so these markers are structure, never content.
_LAYOUT = '{\n  "formatVersion": '
_RESOURCES = '\n  "resources": [\n    {'
_END = "\n    }\n  ]"
_BETWEEN = "\n    },\n    {"
_HEAD = re.compile(r'\n      "kind": "([^"\\\n]*)",\n      "slug": "([^"\\\n]*)",\n      "id": "([^"\\\n]*)",\n')


def parse(text: str, source: str = "snapshot") -> Snapshot:
    """A snapshot from its JSON text.  In the layout :func:`dump` writes, each record's kind, slug
    and id are read from its first lines and the rest is decoded on first use
    (:class:`SnapshotRecord`); any other JSON text (reformatted by hand or by a tool) is decoded whole."""
    start = text.find(_RESOURCES) if text.startswith(_LAYOUT) else -1
    end = text.find(_END, start) if start >= 0 else -1  # the first: a backup's unmanaged list ends alike
    if end < 0:
        return Snapshot.from_dict(json.loads(text), source=source)
    top = json.loads(f'{text[:start]}\n  "resources": []{text[end + len(_END) :]}')
    snapshot = Snapshot.from_dict(top, source=source)
    if snapshot.legacy_key_dropped:  # its fingerprints are dropped record by record
        return Snapshot.from_dict(json.loads(text), source=source)
    records = []
    for piece in text[start + len(_RESOURCES) : end].split(_BETWEEN):
        head = _HEAD.match(piece)
        if head is None:  # escapes in its kind, slug or id, or its keys in another order
            records.append(SnapshotRecord.from_dict(json.loads("{" + piece + "}")))
        else:
            kind, slug, rid = head.groups()
            records.append(SnapshotRecord._undecoded(kind, slug, rid, piece, source))
    snapshot.resources = records
    return snapshot
