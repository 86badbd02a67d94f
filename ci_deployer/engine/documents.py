"""Knowledge-base documents in a plan and an apply: files uploaded once per content hash, attached
to the bases that list them, detached and deleted when no longer listed, never uploaded twice.

Vapi's facts (OpenAPI spec): ``POST /file`` (multipart: ``file``, ``purpose``, ``metadata`` as a JSON
string ≤ 4096), ``GET /file?purpose=`` (bare array), ``GET|DELETE /file/{id}``; a File's ``status`` is
processing | done | failed.  ``GET|POST /v2/knowledge-base/{id}/file`` (``{fileId}``) lists and
attaches, ``DELETE …/file/{fileId}`` detaches, ``POST …/file/{fileId}/retry`` indexes again; an
attachment's ``status`` is indexing | ready | failed.

- **Identity.** A document is the sha256 of its bytes.  Every upload carries
  ``metadata.ciDeployer = {sha256, env, path}``; a live file is *ours* when that metadata names this
  env, or the env's snapshot (or an interrupted apply's journal) records its id.  A needed hash that
  a live file of ours already holds is never uploaded again — a rerun after an interrupt adopts the
  file the killed apply uploaded.  A file attached to a managed base by hand is adopted when its
  bytes hash the same (downloaded once; the snapshot remembers it).
- **Plan.** Per managed base (one whose document has a ``documents:`` block): documents added,
  changed (old → new hash, with a unified diff of text formats when the previous text is known: the
  file at the snapshot's git sha) and removed, against the paths the snapshot recorded; what to
  attach and detach, against the live attachments.  Uploads are ``create File/<path>`` changes and
  deletes ``delete File/<path>`` changes.  A file no longer listed anywhere is deleted — under the
  env's ``allowDeletes`` when it was *removed*, always when it was *replaced* (its path is still
  listed, with new content).  A file still attached to a base or named by a tool this plan does not
  manage is never deleted.  The plan hash covers the listed paths and hashes, the live attachments
  and ids, and these changes (never timestamps).
- **Apply** (:mod:`ci_deployer.engine.documents_apply`). Uploads first (each one journaled as it
  lands: ``event: write``, ``kind: File``, ``slug: <sha256>``, its id), then each base's attachments
  right after the base's own write — attach, wait until indexed (bounded: a clear timeout error),
  retry a failed one once, detach — so an assistant that uses the base is written after its
  documents are ready; file deletes run last.
- **State.** The snapshot's ``documents`` section records ``files`` (sha256 → id, path, bytes) and
  ``knowledgeBases`` (slug → path → sha256).

Bases without a ``documents:`` block are left alone (their attachments are not read).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from ci_deployer.config.documents import (
    FILE_KIND,
    MAX_FILE_BYTES,
    DocumentFile,
    DocumentReader,
    file_token,
    file_type,
)
from ci_deployer.engine.canonical import content_hash, iter_ref_tokens
from ci_deployer.engine.diff import FieldChange
from ci_deployer.engine.model import DesiredResource
from ci_deployer.engine.snapshot import Snapshot

if TYPE_CHECKING:
    from ci_deployer.engine.plan import Change, PlanContext

PURPOSE = "knowledge-base-v2"
OWNER_KEY = "ciDeployer"
KB = "KnowledgeBase"
DIFF_LINES = 200  # a changed text document's diff in a plan is cut after this many lines
READY_TIMEOUT = 300.0  # seconds apply waits for Vapi to read and index a document


class FileClient(Protocol):
    """What documents need from :class:`ci_deployer.platform.client.VapiClient`."""

    def files(self, purpose: str | None = None) -> list[dict[str, Any]]: ...

    def kb_files(self, kb_id: str) -> list[dict[str, Any]]: ...

    def upload_file(
        self,
        name: str,
        content: bytes,
        purpose: str = PURPOSE,
        *,
        metadata: dict[str, Any] | None = None,
        mimetype: str | None = None,
    ) -> dict[str, Any]: ...

    def get_file(self, id: str) -> dict[str, Any]: ...

    def delete_file(self, id: str) -> dict[str, Any]: ...

    def attach_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]: ...

    def detach_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]: ...

    def retry_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]: ...

    def download_file(self, file: dict[str, Any], *, limit: int) -> bytes | None: ...

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]: ...


# --- what is in play --------------------------------------------------------------------------------


def in_play(desired: Sequence[DesiredResource], state: Snapshot | None) -> bool:
    """Whether documents concern this plan at all (else nothing is listed: no extra request)."""
    if state is not None and state.documents:
        return True
    return any(res.documents is not None or res.files for res in desired)


def needed_files(desired: Sequence[DesiredResource], state: Snapshot | None) -> dict[str, DocumentFile | None]:
    """sha256 → the file to upload for it, for every document a desired resource needs (``None``:
    named by a token only, e.g. a rollback's tool, so it can be reused but not uploaded)."""
    out: dict[str, DocumentFile | None] = {}
    for res in sorted(desired, key=lambda r: r.key):
        for doc in sorted(res.files, key=lambda f: f.path):
            if out.get(doc.sha256) is None:
                out[doc.sha256] = doc
        for _, kind, slug in iter_ref_tokens(res.spec):
            if kind == FILE_KIND:
                out.setdefault(slug, None)
    return out


def users_of(desired: Sequence[DesiredResource]) -> dict[str, list[str]]:
    """sha256 → the resources ("Kind/slug") that list or name it."""
    out: dict[str, set[str]] = {}
    for res in desired:
        for doc in res.files:
            out.setdefault(doc.sha256, set()).add(res.key)
        for _, kind, slug in iter_ref_tokens(res.spec):
            if kind == FILE_KIND:
                out.setdefault(slug, set()).add(res.key)
    return {sha: sorted(keys) for sha, keys in out.items()}


def owner_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    inner = meta.get(OWNER_KEY) if isinstance(meta, dict) else None
    return inner if isinstance(inner, dict) else {}


@dataclass
class FileIndex:
    """The live files (purpose knowledge-base-v2) as ci-deployer sees them for one env."""

    objs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → File
    owned: dict[str, str] = field(default_factory=dict)  # id → sha256 (ours)
    by_hash: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256 → the File of ours kept for it

    @classmethod
    def build(
        cls, files: Sequence[dict[str, Any]], env: str, state: Snapshot | None, journaled: Mapping[str, str]
    ) -> FileIndex:
        index = cls(objs={str(f.get("id")): f for f in files if f.get("id")})
        recorded = _recorded_files(state)
        claims: dict[str, str] = {}  # id → sha256
        for fid, obj in index.objs.items():
            meta = owner_meta(obj)
            if meta.get("env") == env and isinstance(meta.get("sha256"), str):
                claims[fid] = meta["sha256"]
        for sha, info in recorded.items():
            if str(info.get("id")) in index.objs:
                claims[str(info["id"])] = sha
        for key, fid in journaled.items():
            kind, _, sha = key.partition("/")
            if kind == FILE_KIND and fid in index.objs:
                claims.setdefault(fid, sha)
        recorded_ids = {str(info.get("id")) for info in recorded.values()}
        # One file per hash: the recorded one, else the oldest; others holding it are duplicates.
        for fid in sorted(claims, key=lambda i: (i not in recorded_ids, _age(index.objs[i]))):
            index.owned[fid] = claims[fid]
            if index.objs[fid].get("status") != "failed":
                index.by_hash.setdefault(claims[fid], index.objs[fid])
        return index

    def adopt(self, sha: str, obj: dict[str, Any]) -> None:
        fid = str(obj["id"])
        self.objs[fid] = obj
        self.owned[fid] = sha
        self.by_hash.setdefault(sha, obj)

    def sha_of(self, file_id: str) -> str | None:
        return self.owned.get(file_id)

    def ids(self) -> dict[str, str]:
        """ref token → id of every hash we hold (the kept file per hash)."""
        return {file_token(sha): str(obj["id"]) for sha, obj in self.by_hash.items()}


def _age(obj: Mapping[str, Any]) -> tuple[str, str]:
    return (str(obj.get("createdAt") or ""), str(obj.get("id") or ""))


def _recorded_files(state: Snapshot | None) -> dict[str, dict[str, Any]]:
    files = (state.documents.get("files") if state is not None else None) or {}
    return {str(sha): info for sha, info in files.items() if isinstance(info, dict) and info.get("id")}


def _recorded_kbs(state: Snapshot | None) -> dict[str, dict[str, str]]:
    kbs = (state.documents.get("knowledgeBases") if state is not None else None) or {}
    return {str(slug): dict(docs) for slug, docs in kbs.items() if isinstance(docs, dict)}


# --- reading the org (or the snapshot) --------------------------------------------------------------


@dataclass
class LiveDocuments:
    """The files, and a way to read a base's attachments (``None`` for the snapshot: recorded)."""

    files: list[dict[str, Any]]
    attachments: Callable[[list[str]], dict[str, list[dict[str, Any]]]]
    download: Callable[[dict[str, Any]], bytes | None] | None = None


def read_live(client: FileClient) -> LiveDocuments:
    """One ``GET /file?purpose=knowledge-base-v2`` now; attachments later, for the bases that need them."""

    def attachments(kb_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        lists = client.map(client.kb_files, kb_ids)
        return dict(zip(kb_ids, lists, strict=True))

    return LiveDocuments(
        files=client.files(PURPOSE),
        attachments=attachments,
        download=lambda obj: client.download_file(obj, limit=MAX_FILE_BYTES),
    )


def from_snapshot(state: Snapshot | None, env: str) -> LiveDocuments:
    """The documents as the snapshot recorded them (``--against snapshot``)."""
    files: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    for sha, info in _recorded_files(state).items():
        fid = str(info["id"])
        ids[sha] = fid
        name = PurePosixPath(str(info.get("path") or fid)).name
        meta = {OWNER_KEY: {"sha256": sha, "env": env}}
        files.append({"id": fid, "name": name, "bytes": info.get("bytes"), "status": "done", "metadata": meta})
    kb_ids = {r.id: r.slug for r in state.records(KB)} if state is not None else {}
    recorded = _recorded_kbs(state)

    def attachments(wanted: list[str]) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for kb_id in wanted:
            shas = sorted(set(recorded.get(kb_ids.get(kb_id, ""), {}).values()))
            out[kb_id] = [{"fileId": ids[s], "status": "ready"} for s in shas if s in ids]
        return out

    return LiveDocuments(files=files, attachments=attachments)


# --- the plan ---------------------------------------------------------------------------------------


@dataclass
class KbOps:
    """What apply does to one base's attachments."""

    attach: list[str] = field(default_factory=list)  # sha256
    detach: list[str] = field(default_factory=list)  # file ids
    retry: list[str] = field(default_factory=list)  # file ids whose indexing failed

    def __bool__(self) -> bool:
        return bool(self.attach or self.detach or self.retry)


@dataclass
class DocumentPlan:
    """The documents part of a plan context: what apply uploads, attaches, detaches and deletes."""

    env: str
    reader: DocumentReader
    index: FileIndex
    uploads: dict[str, DocumentFile] = field(default_factory=dict)  # sha256 → file
    kb_ops: dict[str, KbOps] = field(default_factory=dict)  # "KnowledgeBase/slug" → ops
    deletes: list[tuple[str, str, bool]] = field(default_factory=list)  # (file id, sha256, blocked)
    managed: dict[str, list[DocumentFile]] = field(default_factory=dict)  # base slug → its documents
    needed: dict[str, DocumentFile | None] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)  # file id → sha256: ours, not needed, not deleted
    previous: dict[str, str] = field(default_factory=dict)  # base slug → its former slug (renames)
    recorded: dict[str, Any] = field(default_factory=dict)  # the state's section
    timeout: float = READY_TIMEOUT

    def count(self) -> int:
        """Operations apply reports (uploads, bases synced, deletes that run)."""
        return (
            len(self.uploads)
            + sum(1 for ops in self.kb_ops.values() if ops)
            + sum(1 for _, _, blocked in self.deletes if not blocked)
        )


@dataclass
class _Planning:
    env: str
    ctx: PlanContext
    desired: Sequence[DesiredResource]
    state: Snapshot | None
    live: LiveDocuments
    reader: DocumentReader
    allow_deletes: bool
    index: FileIndex
    warnings: list[str] = field(default_factory=list)


def plan_documents(
    ctx: PlanContext,
    desired: Sequence[DesiredResource],
    *,
    live: LiveDocuments,
    index: FileIndex,
    reader: DocumentReader,
    allow_deletes: bool,
    partial: bool = False,
) -> None:
    """Add the documents to ``ctx`` (after :func:`ci_deployer.engine.plan.build_plan`): the bases'
    document changes, ``File`` uploads and deletes, the warnings, and a plan hash that covers them.

    ``partial``: ``desired`` is a partial plan's scope, so what nothing in it needs may still be
    needed outside it: no ``File`` is deleted (the full plan of the next apply deletes them)."""
    env = ctx.environment.name
    state = ctx.state
    p = _Planning(env, ctx, desired, state, live, reader, allow_deletes, index)
    plan = DocumentPlan(env=env, reader=reader, index=index, recorded=dict(state.documents) if state else {})
    plan.needed = needed_files(desired, state)
    users = users_of(desired)
    kbs = {res.slug: res for res in desired if res.kind == KB and res.documents is not None}
    matches = ctx.identity[KB].matches if KB in ctx.identity else {}
    kb_ids = {slug: str(matches[slug].live["id"]) for slug in kbs if slug in matches}
    plan.previous = {slug: m.previous_slug for slug, m in matches.items() if m.previous_slug}
    attached = live.attachments(sorted(set(kb_ids.values()))) if kb_ids else {}
    _adopt_foreign(p, plan, kbs, kb_ids, attached)

    for sha, doc in sorted(plan.needed.items(), key=lambda item: (item[1].path if item[1] else "", item[0])):
        if sha in index.by_hash:
            continue
        if doc is None:
            p.warnings.append(
                f"the document sha256:{sha[:12]} is named by {', '.join(users.get(sha, []))} but is neither in the "
                "org nor in the config folder: it cannot be uploaded"
            )
            continue
        plan.uploads[sha] = doc

    recorded_kbs = _recorded_kbs(state)
    changes = {c.key: c for c in ctx.plan.changes}
    for slug, res in sorted(kbs.items()):
        key = f"{KB}/{slug}"
        plan.managed[slug] = list(res.documents or [])
        record = recorded_kbs.get(plan.previous.get(slug, slug), recorded_kbs.get(slug, {}))
        entries, ops = _plan_kb(
            p,
            plan,
            slug=slug,
            documents=list(res.documents or []),
            record=record,
            live=attached.get(kb_ids.get(slug, "")),
        )
        change = changes.get(key)
        if change is None or change.action == "delete":
            continue
        if entries:
            change.documents = entries
        if ops:
            plan.kb_ops[key] = ops
            if change.action == "noop":
                change.action = "update"

    if not partial:
        _plan_deletes(p, plan, kb_ids, attached, kbs)
    file_changes = _file_changes(p, plan, users)
    creates = [c for c in file_changes if c.action == "create"]
    ctx.plan.changes[:0] = creates
    ctx.plan.changes.extend(c for c in file_changes if c.action != "create")
    ctx.plan.warnings.extend(p.warnings)
    ctx.ids.update(index.ids())
    ctx.documents = plan
    ctx.plan.hash = content_hash({"resources": ctx.plan.hash, "documents": _hash_view(plan, kbs, kb_ids, attached)})


def _adopt_foreign(
    p: _Planning,
    plan: DocumentPlan,
    kbs: Mapping[str, DesiredResource],
    kb_ids: Mapping[str, str],
    attached: Mapping[str, list[dict[str, Any]]],
) -> None:
    """A file attached to a managed base by hand whose bytes hash like a listed document is that
    document (downloaded once; recorded by the next apply)."""
    if p.live.download is None:
        return
    for slug, kb_id in sorted(kb_ids.items()):
        missing = {d.sha256: d for d in kbs[slug].documents or [] if d.sha256 not in p.index.by_hash}
        sizes = {d.size for d in missing.values()}
        for att in attached.get(kb_id, []):
            fid = str(att.get("fileId"))
            obj = p.index.objs.get(fid) or {"id": fid, "bytes": att.get("bytes"), "name": att.get("fileName")}
            if p.index.sha_of(fid) is not None or obj.get("bytes") not in sizes or not obj.get("url"):
                continue  # ours already, or it cannot be one of the missing documents
            data = p.live.download(obj)
            sha = hashlib.sha256(data).hexdigest() if data is not None else None
            if sha is not None and sha in missing:
                p.index.adopt(sha, obj)
                p.warnings.append(
                    f"{KB}/{slug}: {obj.get('name') or fid} (attached outside ci-deployer) holds the same bytes as "
                    f"{missing[sha].path}: adopted, not uploaded again"
                )


def _plan_kb(
    p: _Planning,
    plan: DocumentPlan,
    *,
    slug: str,
    documents: list[DocumentFile],
    record: Mapping[str, str],
    live: list[dict[str, Any]] | None,
) -> tuple[list[dict[str, Any]], KbOps]:
    """One managed base: the entries a reviewer reads, and the attachment operations."""
    ops = KbOps()
    if live is None:  # a base this apply creates: every document is new to it
        record = {}
    want = {d.path: d for d in documents}
    want_shas = {d.sha256 for d in documents}
    attached: dict[str, list[dict[str, Any]]] = {}  # sha256 (or "id:<file id>" for foreign) → attachments
    for att in live or []:
        fid = str(att.get("fileId"))
        attached.setdefault(p.index.sha_of(fid) or f"id:{fid}", []).append(att)
    for sha in sorted(want_shas):
        atts = attached.get(sha)
        if not atts:
            ops.attach.append(sha)
        elif all(a.get("status") == "failed" for a in atts):
            ops.retry.append(str(atts[0]["fileId"]))
    for sha, atts in sorted(attached.items()):
        if sha not in want_shas:
            ops.detach.extend(str(a["fileId"]) for a in atts)

    # What a reviewer reads follows what happens: a path is "add"ed when its content gets attached,
    # "change"d when it now holds other content, "remove"d when its content gets detached; a path
    # that only moved (the same content under another name) changes nothing in Vapi and is not shown.
    entries: list[dict[str, Any]] = []
    detached = {sha for sha in attached if sha not in want_shas}
    for path in sorted(set(want) | set(record)):
        new, old = want.get(path), record.get(path)
        if new is not None and old is not None and old != new.sha256:
            entries.append(_changed(p, plan, new, old))
            detached.discard(old)
        elif new is not None and new.sha256 in ops.attach:
            again = old == new.sha256
            if again:
                p.warnings.append(
                    f"{KB}/{slug}: {path} was detached (or its file deleted) outside ci-deployer: it is attached again"
                )
            entries.append(
                _entry(plan, "add", new, note="detached outside ci-deployer: attached again" if again else "")
            )
        elif new is None and old is not None and old in detached:
            entries.append({"path": path, "op": "remove", "sha256": old})
            detached.discard(old)
    for key in sorted(detached):
        for att in attached[key]:
            if key.startswith("id:"):
                name = str(att.get("fileName") or key[3:])
                entries.append({"path": name, "op": "remove", "id": key[3:], "note": "attached outside ci-deployer"})
            else:
                obj = p.index.objs.get(str(att.get("fileId")), {})
                name = str(owner_meta(obj).get("path") or obj.get("name") or att.get("fileId"))
                entries.append({"path": name, "op": "remove", "sha256": key})
    return entries, ops


def _entry(plan: DocumentPlan, op: str, doc: DocumentFile, *, note: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"path": doc.path, "op": op, "sha256": doc.sha256, "bytes": doc.size}
    if doc.sha256 in plan.uploads:
        out["upload"] = True
    if note:
        out["note"] = note
    return out


def _changed(p: _Planning, plan: DocumentPlan, new: DocumentFile, old_sha: str) -> dict[str, Any]:
    entry = _entry(plan, "change", new)
    entry["oldSha256"] = old_sha
    if not new.text:
        return entry
    before = p.reader.text_at(p.state.sha, new.path, old_sha) if p.state is not None and p.state.sha else None
    after = p.reader.current_text(new)
    if before is None or after is None:
        entry["note"] = "no text diff: the previous text is not at hand (it is read from git at the applied sha)"
        return entry
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=3))[2:]
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… {len(lines) - DIFF_LINES} more diff lines"]
    entry["diff"] = lines
    return entry


def _plan_deletes(
    p: _Planning,
    plan: DocumentPlan,
    kb_ids: Mapping[str, str],
    attached: dict[str, list[dict[str, Any]]],
    kbs: Mapping[str, DesiredResource],
) -> None:
    """Files of ours that nothing needs any more: deleted when nothing outside this plan uses them."""
    candidates = {fid: sha for fid, sha in p.index.owned.items() if sha not in plan.needed}
    candidates |= {
        fid: sha
        for fid, sha in p.index.owned.items()
        if sha in p.index.by_hash and str(p.index.by_hash[sha]["id"]) != fid and sha in plan.needed
    }  # duplicates of a hash we keep one file for
    if not candidates:
        return
    # Every base's attachments: a candidate attached to a base this plan does not converge stays.
    live_kbs = [str(o["id"]) for o in p.ctx.live.get(KB, [])]
    missing = [k for k in live_kbs if k not in attached]
    if missing:
        attached.update(p.live.attachments(missing))
    managed_ids = set(kb_ids.values())
    going = {
        str(c.id)
        for c in p.ctx.plan.changes
        if c.action == "delete" and not c.blocked and c.kind in (KB, "Tool") and c.id
    }
    tools = p.ctx.identity.get("Tool")
    desired_tools = {str(m.live["id"]) for m in tools.matches.values()} if tools is not None else set()
    recorded_paths: dict[str, set[str]] = {sha: set() for sha in candidates.values()}
    for docs in _recorded_kbs(p.state).values():
        for path, sha in docs.items():
            if sha in recorded_paths:
                recorded_paths[sha].add(path)
    for sha, info in _recorded_files(p.state).items():
        if sha in recorded_paths and info.get("path"):
            recorded_paths[sha].add(str(info["path"]))
    listed_now = {d.path for docs in kbs.values() for d in docs.documents or []}
    listed_now |= {d.path for d in plan.needed.values() if d is not None}
    for fid, sha in sorted(candidates.items(), key=lambda item: item[1]):
        in_use = any(
            kb_id not in managed_ids and kb_id not in going and any(str(a.get("fileId")) == fid for a in atts)
            for kb_id, atts in attached.items()
        )
        in_use = in_use or any(
            str(tool.get("id")) not in desired_tools and str(tool.get("id")) not in going and _names_id(tool, fid)
            for tool in p.ctx.live.get("Tool", [])
        )
        if in_use:
            plan.kept[fid] = sha
            continue
        replaced = bool(recorded_paths.get(sha, set()) & listed_now) or sha in plan.needed
        plan.deletes.append((fid, sha, not replaced and not p.allow_deletes))


def _names_id(obj: Any, fid: str) -> bool:
    if isinstance(obj, dict):
        return any(_names_id(v, fid) for v in obj.values())
    if isinstance(obj, list):
        return any(_names_id(v, fid) for v in obj)
    return bool(obj == fid)


def _file_changes(p: _Planning, plan: DocumentPlan, users: Mapping[str, list[str]]) -> list[Change]:
    from ci_deployer.engine.plan import Change

    out: list[Change] = []
    for sha, doc in plan.uploads.items():
        fields = [
            FieldChange(("sha256",), "add", None, sha),
            FieldChange(("bytes",), "add", None, doc.size),
            FieldChange(("mimetype",), "add", None, doc.mimetype),
        ]
        if users.get(sha):
            fields.append(FieldChange(("usedBy",), "add", None, users[sha]))
        out.append(Change("create", FILE_KIND, doc.path, name=f"sha256:{sha[:12]}", fields=fields))
    recorded = _recorded_files(p.state)
    for fid, sha, blocked in plan.deletes:
        obj = p.index.objs.get(fid, {})
        path = str((recorded.get(sha) or {}).get("path") or owner_meta(obj).get("path") or obj.get("name") or fid)
        reason = None
        if blocked:
            reason = f"deletes are not allowed in {p.env} (pass --allow-deletes, or set allowDeletes: true)"
        out.append(Change("delete", FILE_KIND, path, fid, f"sha256:{sha[:12]}", blocked=reason, referenced_by=[]))
    return out


def _hash_view(
    plan: DocumentPlan,
    kbs: Mapping[str, DesiredResource],
    kb_ids: Mapping[str, str],
    attached: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """What "the same documents change" means: the listed paths and hashes, what is attached live
    (hashes, or ids of files that are not ours), the ids of the files held, and the file changes."""

    def held(att: Mapping[str, Any]) -> str:
        return plan.index.sha_of(str(att.get("fileId"))) or f"id:{att.get('fileId')}"

    live = {slug: sorted(held(a) for a in attached.get(kb_id, [])) for slug, kb_id in kb_ids.items()}
    return {
        "listed": {slug: sorted([d.path, d.sha256] for d in res.documents or []) for slug, res in kbs.items()},
        "attached": live,
        "held": sorted([sha, str(obj["id"])] for sha, obj in plan.index.by_hash.items() if sha in plan.needed),
        "uploads": sorted(plan.uploads),
        "deletes": sorted([fid, sha, blocked] for fid, sha, blocked in plan.deletes),
    }


# --- rollback -------------------------------------------------------------------------------------


def desired_documents(section: Mapping[str, Any], slug: str, revision: str | None) -> list[DocumentFile] | None:
    """A snapshot's record of a base's documents as desired ones (rollback): the recorded hashes,
    reused where the org still holds them, uploaded again from git at ``revision`` (the snapshot's
    sha) where it does not."""
    kbs = section.get("knowledgeBases") or {}
    record = kbs.get(slug)
    if not isinstance(record, dict):
        return None
    files = recorded_files_of(section)

    out = []
    for path, sha in sorted(record.items()):
        kind = file_type(str(path)) or ("application/octet-stream", False)
        size = files.get(str(sha), {}).get("bytes")
        out.append(DocumentFile(str(path), str(sha), int(size or 0), kind[0], kind[1], revision))
    return out


def recorded_files_of(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A snapshot section's ``files``: sha256 → {id, path, bytes}."""
    files = section.get("files") or {}
    return {str(sha): info for sha, info in files.items() if isinstance(info, dict)}
