"""Knowledge-base documents in an apply (the plan is :mod:`ci_deployer.engine.documents`).

Uploads first, each one journaled as it lands (``event: write``, ``kind: File``, ``slug: <sha256>``,
its id): a lost answer is found again by the metadata hash, never re-sent blindly; then a wait until
Vapi has read each upload (File ``status: done``).  Each base's attachments right after the base's
own write: attach, wait until indexed (an attachment's ``status: ready``; a failed one is retried
once), then detach — so an assistant that uses the base is written after its documents are ready.
File deletes last.  Every wait is bounded (:attr:`DocumentPlan.timeout`) and says what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ci_deployer.config.documents import FILE_KIND, DocumentFile, DocumentProblem, file_token
from ci_deployer.engine.canonical import ref_token
from ci_deployer.engine.documents import (
    KB,
    OWNER_KEY,
    PURPOSE,
    DocumentPlan,
    FileClient,
    owner_meta,
    recorded_files_of,
)
from ci_deployer.errors import ApiError, DeployerError

if TYPE_CHECKING:
    from ci_deployer.engine.apply import Applier, OpResult
    from ci_deployer.engine.plan import Change

_POLL_FIRST, _POLL_MAX = 0.1, 2.0


def upload(applier: Applier, plan: DocumentPlan) -> list[OpResult]:
    """Upload every new document (concurrently), each journaled as it lands; then wait until Vapi
    has read them (``status: done``).  A lost answer is found again by its metadata, never re-sent blindly."""
    from ci_deployer.engine.apply import OpResult

    client: FileClient = applier.client  # type: ignore[assignment]

    def one(item: tuple[str, DocumentFile]) -> OpResult:
        sha, doc = item
        result = OpResult("create", FILE_KIND, sha)

        def go() -> dict[str, Any]:
            try:
                data = plan.reader.content(doc)
            except DocumentProblem as problem:
                raise DeployerError(problem.message, hint=problem.hint) from None
            meta = {OWNER_KEY: {"sha256": sha, "env": plan.env, "path": doc.path[:1000]}}
            created, found = _upload_or_find(client, doc, data, env=plan.env, meta=meta)
            result.recovered = found
            return created

        return applier._run(result, go)

    results = client.map(one, sorted(plan.uploads.items()))
    landed = [r for r in results if r.status == "ok" and r.id]
    waited = client.map(lambda r: _wait_processed(applier, plan, r), landed)
    return [*results, *(w for w in waited if w is not None)]


def _upload_or_find(
    client: FileClient, doc: DocumentFile, data: bytes, *, env: str, meta: dict[str, Any], attempts: int = 3
) -> tuple[dict[str, Any], bool]:
    from ci_deployer.platform.client import AmbiguousWriteError

    sha = doc.sha256
    last: AmbiguousWriteError | None = None
    for _ in range(attempts):
        try:
            return client.upload_file(doc.name, data, PURPOSE, metadata=meta, mimetype=doc.mimetype), False
        except AmbiguousWriteError as exc:
            last = exc
        found = [
            f for f in client.files(PURPOSE) if owner_meta(f).get("sha256") == sha and owner_meta(f).get("env") == env
        ]
        if found:
            return max(found, key=lambda f: str(f.get("createdAt") or "")), True
    assert last is not None
    raise last


def _wait_processed(applier: Applier, plan: DocumentPlan, uploaded: OpResult) -> OpResult | None:
    """``None`` once the file is done; an OpResult saying why it is not (failed, timed out)."""
    from ci_deployer.engine.apply import OpResult

    client: FileClient = applier.client  # type: ignore[assignment]
    assert uploaded.id is not None
    doc = plan.uploads[uploaded.slug]
    try:
        status = _poll(
            applier,
            plan,
            lambda: str(client.get_file(str(uploaded.id)).get("status") or "done"),
            ready={"done"},
            failed={"failed"},
        )
    except DeployerError as exc:
        status = str(exc)
    if status == "done":
        return None
    message = (
        f"Vapi could not read {doc.path} (file {uploaded.id}: status failed)"
        if status == "failed"
        else f"{doc.path} (file {uploaded.id}): {status}"
    )
    failed = OpResult("ready", FILE_KIND, uploaded.slug, uploaded.id, "failed", error=message)
    applier._say(failed)
    return failed


def _poll(applier: Applier, plan: DocumentPlan, read: Callable[[], str], *, ready: set[str], failed: set[str]) -> str:
    """Read a status until it is ready or failed; :class:`DeployerError` after ``plan.timeout``."""
    deadline = time.monotonic() + plan.timeout
    delay = _POLL_FIRST
    while True:
        status = read()
        if status in ready or status in failed:
            return status
        if applier.cancel.is_set():
            raise DeployerError(f"the apply was interrupted while Vapi was still processing it (status {status})")
        if time.monotonic() + delay > deadline:
            raise DeployerError(
                f"still {status} after {plan.timeout:g} s: Vapi has not finished reading it; apply again "
                "later (nothing is uploaded twice, and the wait resumes)"
            )
        time.sleep(delay)
        delay = min(delay * 2, _POLL_MAX)


def sync_kb(applier: Applier, plan: DocumentPlan, change: Change, kb_id: str | None) -> OpResult:
    """Attach the base's new documents, wait until they are indexed, retry a failed one once, then
    detach the ones no longer listed (attach first: the base is never empty while it changes)."""
    from ci_deployer.engine.apply import OpResult

    client: FileClient = applier.client  # type: ignore[assignment]
    ops = plan.kb_ops[change.key]
    result = OpResult("documents", change.kind, change.slug, kb_id)

    def go() -> dict[str, Any] | None:
        if kb_id is None:
            raise DeployerError(f"{change.key} has no id: its documents cannot be attached")
        attached: list[str] = []
        for sha in ops.attach:
            fid = applier.ids.get(file_token(sha))
            if fid is None:
                path = plan.uploads[sha].path if sha in plan.uploads else f"sha256:{sha[:12]}"
                raise DeployerError(f"{path} was not uploaded, so it cannot be attached to {change.key}")
            client.attach_kb_file(kb_id, fid)
            attached.append(fid)
        for fid in ops.retry:
            client.retry_kb_file(kb_id, fid)
        waiting = set(attached) | set(ops.retry)
        if waiting:
            _wait_indexed(applier, plan, change, kb_id, waiting)
        for fid in ops.detach:
            try:
                client.detach_kb_file(kb_id, fid)
            except ApiError as exc:
                if exc.status != 404:  # already detached: converged
                    raise
        return None

    return applier._run(result, go)


def _wait_indexed(applier: Applier, plan: DocumentPlan, change: Change, kb_id: str, waiting: set[str]) -> None:
    client: FileClient = applier.client  # type: ignore[assignment]
    retried: set[str] = set()

    def read() -> str:
        states = {str(a.get("fileId")): str(a.get("status") or "ready") for a in client.kb_files(kb_id)}
        for fid in sorted(waiting):
            if states.get(fid) == "failed" and fid not in retried:
                retried.add(fid)  # Vapi offers a retry for a failed indexing: once, then it is an error
                client.retry_kb_file(kb_id, fid)
                states[fid] = "indexing"
        mine = [states.get(fid, "missing") for fid in waiting]
        if any(s in ("failed", "missing") for s in mine):
            return "failed"
        return "ready" if all(s == "ready" for s in mine) else "indexing"

    def names() -> str:
        by_id = {str(obj["id"]): sha for sha, obj in plan.index.by_hash.items()}
        by_id |= {applier.ids.get(file_token(sha), ""): sha for sha in plan.uploads}
        paths = []
        for fid in sorted(waiting):
            sha = by_id.get(fid)
            doc = plan.needed.get(sha) if sha else None
            paths.append(doc.path if doc is not None else fid)
        return ", ".join(paths)

    try:
        status = _poll(applier, plan, read, ready={"ready"}, failed={"failed"})
    except DeployerError as exc:
        raise DeployerError(f"{change.key}: indexing {names()}: {exc.message}", hint=exc.hint) from None
    if status == "failed":
        raise DeployerError(
            f"{change.key}: Vapi could not index {names()} (failed again after a retry)",
            hint="check the file opens and holds text Vapi can read; fix it and apply again",
        )


def delete_files(applier: Applier, plan: DocumentPlan, *, skip: str | None) -> list[OpResult]:
    """Delete the files nothing lists any more (after every other write); ``skip``: why not now."""
    from ci_deployer.engine.apply import OpResult

    client: FileClient = applier.client  # type: ignore[assignment]
    todo = [(fid, sha) for fid, sha, blocked in plan.deletes if not blocked]
    if skip is not None:
        out = []
        for fid, sha in todo:
            skipped = OpResult("delete", FILE_KIND, sha, fid, "skipped", error=skip)
            applier._say(skipped)
            out.append(skipped)
        return out

    def one(item: tuple[str, str]) -> OpResult:
        fid, sha = item
        result = OpResult("delete", FILE_KIND, sha, fid)

        def go() -> None:
            try:
                client.delete_file(fid)
            except ApiError as exc:
                if exc.status != 404:  # already gone
                    raise

        return applier._run(result, go)

    return client.map(one, todo)


def undo_upload(client: Any, file_id: str) -> None:
    """Delete a file uploaded into the wrong org (apply's org check)."""
    client.delete_file(file_id)


# --- the snapshot -----------------------------------------------------------------------------------


def snapshot_section(applier: Applier, plan: DocumentPlan, results: Sequence[OpResult]) -> dict[str, Any]:
    """The ``documents`` section of the snapshot after (part of) an apply."""
    ok = {(r.action, r.key) for r in results if r.status == "ok"}
    failed_ready = {r.slug for r in results if r.action == "ready" and r.status != "ok"}
    deleted = {str(r.id) for r in results if r.action == "delete" and r.kind == FILE_KIND and r.status == "ok"}
    recorded_files = recorded_files_of(plan.recorded)
    files: dict[str, dict[str, Any]] = {}
    for sha, doc in plan.needed.items():
        fid = applier.ids.get(file_token(sha))
        if fid is None or sha in failed_ready:
            continue
        prior = recorded_files.get(sha, {})
        path = doc.path if doc is not None else prior.get("path")
        size = doc.size if doc is not None else prior.get("bytes")
        files[sha] = {"id": fid, "path": path, "bytes": size}
    for fid, sha in [*plan.kept.items(), *((f, s) for f, s, _ in plan.deletes)]:
        if fid not in deleted and sha not in files:
            obj = plan.index.objs.get(fid, {})
            prior = recorded_files.get(sha, {})
            path = prior.get("path") or owner_meta(obj).get("path")
            files[sha] = {"id": fid, "path": path, "bytes": obj.get("bytes")}
    recorded_kbs = {str(k): v for k, v in (plan.recorded.get("knowledgeBases") or {}).items()}
    kbs: dict[str, dict[str, str]] = {}
    for slug, documents in plan.managed.items():
        key = f"{KB}/{slug}"
        ops = plan.kb_ops.get(key)
        wrote_base = any(k == key for _, k in ok)
        done = ("documents", key) in ok if ops else (wrote_base or applier.ids.get(ref_token(KB, slug)) is not None)
        if done:
            kbs[slug] = {d.path: d.sha256 for d in documents}
        else:
            before = recorded_kbs.get(plan.previous.get(slug, slug)) or recorded_kbs.get(slug)
            if before:
                kbs[slug] = dict(before)
    out: dict[str, Any] = {}
    if files:
        out["files"] = files
    if kbs:
        out["knowledgeBases"] = kbs
    return out
