"""Apply: carry out a plan against the org, in dependency order, idempotently.

- Order: levels from the reference graph (:mod:`ci_deployer.engine.graph`); a level runs
  concurrently through ``client.map`` (bounded, backing off on 429); reference cycles are created
  without the cyclic fields and patched afterwards; deletes run last, kinds in reverse order (a
  squad before its assistants, an assistant before its tools: Vapi answers 409 for a delete of a
  resource still referenced).
- Idempotent: a create whose answer was lost is looked up (label, name, or identical payload)
  before it is retried, so a rerun converges with no duplicate.
- Every assistant written carries ``metadata.ciDeployer`` labels (slug, env, app, owner, sha,
  hash); the labels are not part of any diff or hash.
- Failure midway: what was written is recorded in a partial snapshot (the env's state), and the
  error says what was and was not applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ci_deployer import redact
from ci_deployer.config.secrets import SecretResolver, substitute
from ci_deployer.engine import documents_apply as documents
from ci_deployer.engine import graph
from ci_deployer.engine.auditlog import current_operation
from ci_deployer.engine.canonical import (
    LABELS_KEY,
    content_hash,
    drop_mirrored,
    ref_token,
    refs_to_ids,
    sort_keys,
    strip_server_fields,
)
from ci_deployer.engine.identity import label_of
from ci_deployer.engine.model import display_name
from ci_deployer.engine.plan import Change, DriftItem, PlanContext, kind_order, merge_recorded
from ci_deployer.engine.session import PlatformClient
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.errors import ApiError, DeployerError
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import GENERATED_TOOL_TYPES, KB_TOOL, KINDS, owner_of
from ci_deployer.platform.upsert import create_or_adopt


class Progress(Protocol):
    """Where apply reports as it goes (the faces draw a bar or print lines): the number of writes
    first, then each finished (or skipped) write with its line, then the results."""

    def start(self, total: int) -> None: ...

    def step(self, result: OpResult, line: str) -> None: ...

    def finish(self, results: list[OpResult]) -> None: ...


class ApplyFailed(DeployerError):
    """Some writes failed; the partial snapshot records what was applied."""

    failure_reason = "api-error"


class ApplyInterrupted(DeployerError):
    """A SIGTERM/SIGINT stopped the apply between writes; the partial snapshot records what was done."""


class DeletesRefused(DeployerError):
    """The plan deletes resources and the env does not allow deletes."""

    failure_reason = "deletes-not-allowed"


@dataclass
class OpResult:
    """The outcome of one write."""

    action: str
    kind: str
    slug: str
    id: str | None = None
    status: str = "pending"  # ok | failed | skipped | pending
    error: str | None = None
    duration_ms: float = 0.0
    recovered: bool = False  # a lost create found again instead of created twice

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "kind": self.kind,
            "slug": self.slug,
            "id": self.id,
            "status": self.status,
            "durationMs": round(self.duration_ms, 1),
        }
        if self.error:
            out["error"] = redact.redact(self.error)
        if self.recovered:
            out["recovered"] = True
        return out


@dataclass
class ApplyResult:
    """What an apply did: one :class:`OpResult` per write, and the snapshot it left."""

    env: str
    plan_hash: str
    results: list[OpResult]
    snapshot: Snapshot
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "failed": 0, "skipped": 0, "pending": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "formatVersion": 1,
            "kind": "apply",
            "ok": self.ok,
            "env": self.env,
            "planHash": self.plan_hash,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
            "complete": self.snapshot.complete,
            "warnings": self.warnings,
        }


SYMBOLS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "rename": ">",
    "adopt": "<",
    "patch": "~",
    "documents": "~",  # a knowledge base's attachments (engine/documents.py)
    "ready": "…",  # an uploaded document Vapi has not read
}


class Applier:
    """Executes the writes of one plan context (one instance per apply)."""

    def __init__(
        self,
        ctx: PlanContext,
        client: PlatformClient,
        resolver: SecretResolver,
        *,
        sha: str | None,
        run: str | None,
        progress: Progress | None = None,
        journal: Callable[[dict[str, Any]], None] | None = None,
        cancel: threading.Event | None = None,
        checkpoint: Callable[[list[OpResult]], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.journal = journal
        self.cancel = cancel or threading.Event()
        self.checkpoint = checkpoint
        self.expected_org = ctx.environment.org_id or (ctx.state.org_id if ctx.state is not None else None)
        self.wrong_org: str | None = None  # the org a write landed in, when it is not the env's
        self.client = client
        self.resolver = resolver
        self.sha = sha
        self.run = run
        self.progress = progress
        self.env = ctx.environment.name
        self.ids: dict[str, str] = dict(ctx.ids)  # ref token → id; grows as creates land
        self._tokens: dict[str, str] = {v: k for k, v in self.ids.items()}  # id → ref token, grown with ids
        self.responses: dict[str, dict[str, Any]] = {}  # key → raw response of the last write
        # key → (response, the token lookups of its canonical form, that form, its desired's hash):
        # made by the worker that got the response (see _canonical_form); every checkpoint's snapshot
        # reuses it for the same response while those lookups still hold
        self._canonical: dict[str, tuple[dict[str, Any], dict[str, str | None], Any, str]] = {}
        self.deleted: set[str] = set()
        self._lock = threading.Lock()
        self._kb_tools: dict[str, str] | None = None
        self._live_by_id: dict[tuple[str, str], dict[str, Any]] | None = None
        self._unsaved: list[OpResult] | None = None  # the results of a batch not checkpointed yet

    # --- payloads ---------------------------------------------------------------------------------

    def _resolve_token(self, kind: str, slug: str) -> str:
        token = ref_token(kind, slug)
        with self._lock:
            found = self.ids.get(token)
        if found is not None:
            return found
        if kind == KB_TOOL:
            tool = self._kb_tool_id(slug)
            if tool is not None:
                with self._lock:
                    self.ids[token] = tool
                    self._tokens[tool] = token
                return tool
        raise DeployerError(
            f"{token.removeprefix('ref:')} has no id in {self.env} yet (it was not created)",
            hint="fix the failure reported for it above, then apply again",
        )

    def _kb_tool_id(self, slug: str) -> str | None:
        # Vapi generates one search tool per knowledge base; a fresh base's tool is found by listing.
        kb_id = self.ids.get(ref_token("KnowledgeBase", slug))
        if kb_id is None:
            return None
        if self._kb_tools is None or kb_id not in self._kb_tools:  # a base created by this apply: list again
            self._kb_tools = {
                str(t.get("knowledgeBaseId")): str(t["id"])
                for t in self.client.list("Tool")
                if t.get("type") in GENERATED_TOOL_TYPES
            }
        return self._kb_tools.get(kb_id)

    def labels(self, key: str) -> dict[str, Any]:
        res = self.ctx.desired[key]
        return {
            "slug": res.slug,
            "env": self.env,
            "app": res.labels.get("app"),
            "owner": res.labels.get("owner"),
            "sha": self.sha,
            "hash": content_hash(self.ctx.desired_canonical[key]),
        }

    def payload(self, key: str, keys: list[str] | None, *, drop: list[Path] | None = None) -> dict[str, Any]:
        """The body to send: ids for ref tokens, secret values for placeholders, labels added."""
        res = self.ctx.desired[key]
        spec = res.spec if drop is None else graph.without_paths(res.spec, drop)
        body = {k: v for k, v in spec.items() if keys is None or k in keys}
        kind = KINDS[res.kind]
        if keys is not None:
            for always in kind.patch_always:
                if always in spec:
                    body[always] = spec[always]
            for dropped in kind.patch_drop:
                body.pop(dropped, None)
        if kind.labels:
            metadata = dict(spec.get("metadata") or {})
            metadata[LABELS_KEY] = self.labels(key)
            body["metadata"] = metadata
        body = refs_to_ids(body, self._resolve_token)
        resolved: dict[str, Any] = substitute(body, self.resolver)
        return resolved

    # --- one write ---------------------------------------------------------------------------------

    def _say(self, result: OpResult, note: str = "") -> None:
        if self.progress is None:
            return
        symbol = SYMBOLS.get(result.action, "*")
        outcome = result.status if result.status != "failed" else f"FAILED: {result.error}"
        if result.status == "skipped" and result.error:
            outcome = result.error
        extra = f" {note}" if note else ""
        line = f"{symbol} {result.action} {result.key} … {outcome}{extra} ({result.duration_ms:.0f} ms)"
        self.progress.step(result, redact.redact(line))

    def _run(self, result: OpResult, fn: Callable[[], dict[str, Any] | None]) -> OpResult:
        if self.cancel.is_set():
            # Interrupted (SIGTERM/SIGINT): no new write starts; the ones in flight finish.
            result.status = "skipped"
            result.error = "not attempted: the apply was interrupted"
            self._say(result)
            return result
        op_key = f"{self.run or 'run'}:{result.action}:{result.key}"
        token = current_operation.set((op_key, f"{result.action} {result.key}"))
        started = time.perf_counter()
        try:
            response = fn()
            if response is not None and response.get("id") is not None:
                result.id = str(response["id"])
                self._check_org(result, response)
                with self._lock:
                    self.responses[result.key] = response
                    if result.action != "delete":
                        self.ids[ref_token(result.kind, result.slug)] = result.id
                        self._tokens[result.id] = ref_token(result.kind, result.slug)
                if result.action != "delete":
                    self._canonical_form(result.key, result.kind, response)
            result.status = "ok"
        except DeployerError as exc:
            result.status = "failed"
            result.error = redact.redact(str(exc))
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
            current_operation.reset(token)
        if self.journal is not None:
            self.journal(
                {
                    "action": result.action,
                    "kind": result.kind,
                    "slug": result.slug,
                    "id": result.id,
                    "status": result.status,
                    "recovered": result.recovered,
                }
            )
        self._say(result, "(found after a lost answer)" if result.recovered else "")
        return result

    def _check_org(self, result: OpResult, response: dict[str, Any]) -> None:
        """An empty org cannot be told from another org by listing it (Vapi has no "who am I"): with
        the env's org known (``orgId`` pin, or its state), the first answer is checked at once; a
        write that landed elsewhere is deleted again and the apply stops."""
        landed = response.get("orgId")
        if not landed or self.expected_org is None or str(landed) == self.expected_org:
            return
        self.wrong_org = str(landed)
        self.cancel.set()
        if result.action == "create" and result.id is not None:
            try:
                if result.kind in KINDS:
                    self.client.delete(result.kind, result.id)
                else:  # an uploaded document (engine/documents.py)
                    documents.undo_upload(self.client, result.id)
                undone = "deleted again"
            except DeployerError as exc:
                undone = f"NOT deleted ({exc}): delete it by hand"
        else:
            undone = "not undone (an update)"
        raise DeployerError(f"{result.action} {result.key} landed in org {landed}, not {self.expected_org}: {undone}")

    def _level_done(self, results: list[OpResult]) -> None:
        """A batch of writes ended.  Its checkpoint is taken when the next batch starts: after the last
        batch the apply's own snapshot follows at once, and a checkpoint would only write it twice."""
        self._unsaved = list(results)

    def _level_starts(self) -> None:
        """Before a batch of writes: the checkpoint of those done so far (the journal made durable, the
        state saved; see ``checkpoint``)."""
        if self.checkpoint is not None and self._unsaved is not None:
            unsaved, self._unsaved = self._unsaved, None
            self.checkpoint(unsaved)

    def create(self, change: Change, deferred: list[Path] | None) -> OpResult:
        result = OpResult("create", change.kind, change.slug)

        def go() -> dict[str, Any]:
            body = self.payload(change.key, None, drop=deferred)
            return self._create_or_find(change, body, result)

        return self._run(result, go)

    def _create_or_find(self, change: Change, body: dict[str, Any], result: OpResult) -> dict[str, Any]:
        """Create; when the answer is lost, find the create before retrying (Vapi has no idempotency
        keys): by label, else name, else — for nameless kinds — the payload itself."""
        kind = change.kind
        name = display_name(kind, body)
        want = _comparable(kind, body)

        def mine(obj: dict[str, Any]) -> bool:
            if KINDS[kind].labels and label_of(obj, self.env) == change.slug:
                return True
            if name is not None:
                return display_name(kind, obj) == name
            return bool(_comparable(kind, obj, restrict=want) == want)

        def taken() -> set[str]:
            with self._lock:
                return set(self.ids.values())

        created, found = create_or_adopt(self.client, kind, body, mine, exclude=taken)
        result.recovered = found
        return created

    def update(self, change: Change) -> OpResult:
        result = OpResult(change.action, change.kind, change.slug, change.id)
        assert change.id is not None

        def go() -> dict[str, Any] | None:
            if change.state_only:  # already equal to the document: recorded, nothing written
                return self._live(change.kind, change.id) or {"id": change.id}
            keys = list(change.send) if change.action != "adopt" or change.send else []
            body = self.payload(change.key, keys)
            for key in change.unset:
                body[key] = None  # Vapi unsets a top-level field sent as null
            if not body:
                # Nothing to send (an adopt of a resource that already equals the document): what is
                # live is what the snapshot records, not an empty payload that would read as drift.
                return self._live(change.kind, change.id) or {"id": change.id}
            assert change.id is not None
            return self.client.update(change.kind, change.id, body)

        return self._run(result, go)

    def _live(self, kind: str, rid: str | None) -> dict[str, Any] | None:
        if rid is None:
            return None
        with self._lock:
            if self._live_by_id is None:  # indexed once: looked up per state-only write
                self._live_by_id = {
                    (k, str(obj.get("id"))): obj for k, objs in self.ctx.live.items() for obj in reversed(objs)
                }
        return self._live_by_id.get((kind, rid))

    def patch_deferred(self, key: str, paths: list[Path]) -> OpResult:
        res = self.ctx.desired[key]
        result = OpResult("patch", res.kind, res.slug)

        def go() -> dict[str, Any]:
            rid = self.ids.get(ref_token(res.kind, res.slug))
            if rid is None:
                raise DeployerError(f"{key} was not created, so its references cannot be patched in")
            result.id = rid
            keys = sorted({str(p[0]) for p in paths})
            return self.client.update(res.kind, rid, self.payload(key, keys))

        return self._run(result, go)

    def delete(self, change: Change) -> OpResult:
        result = OpResult("delete", change.kind, change.slug, change.id)

        def go() -> dict[str, Any] | None:
            assert change.id is not None
            try:
                self.client.delete(change.kind, change.id)
            except ApiError as exc:
                if exc.status != 404:  # already gone (a lost answer to an earlier delete): converged
                    raise
            with self._lock:
                self.deleted.add(change.key)
            return None

        return self._run(result, go)

    # --- the whole apply ---------------------------------------------------------------------------

    def execute(self) -> list[OpResult]:
        """Every write of the plan; failures are collected (a failed resource's dependants are skipped)."""
        plan = self.ctx.plan
        docs = self.ctx.documents  # knowledge-base documents (engine/documents.py), or None
        # File changes (uploads, deletes of documents) are carried out by engine/documents.py.
        writes = [c for c in plan.writes() if c.action != "delete" and c.kind in KINDS]
        deletes = [c for c in plan.writes() if c.action == "delete" and not c.blocked and c.kind in KINDS]
        by_key = {c.key: c for c in writes}
        creating = {c.key for c in writes if c.action == "create"}
        if docs is not None:  # assistants wait for the bases whose documents change, and for uploads
            creating |= set(docs.kb_ops) | {f"File/{sha}" for sha in docs.uploads}
        sched = graph.schedule({k: self.ctx.desired_canonical[k] for k in by_key}, creating)
        if self.progress is not None:
            extra = docs.count() if docs is not None else 0
            self.progress.start(len(writes) + len(sched.deferred) + len(deletes) + extra)
        results: list[OpResult] = []
        failed: set[str] = set()
        if docs is not None and docs.uploads:
            for r in documents.upload(self, docs):
                results.append(r)
                if r.status != "ok":
                    failed.add(r.key)
            self._level_done(results)
        for level in sched.levels:
            todo = []
            for key in level:
                change = by_key[key]
                blockers = [t for t in _targets(self.ctx.desired_canonical[key]) if t in failed and t in creating]
                if blockers:
                    skipped = OpResult(change.action, change.kind, change.slug, change.id, "skipped")
                    skipped.error = f"not attempted: {', '.join(blockers)} failed"
                    self._say(skipped)
                    results.append(skipped)
                    failed.add(key)
                    continue
                todo.append(change)

            def one(change: Change) -> list[OpResult]:
                if change.action == "create":
                    done = self.create(change, sched.deferred.get(change.key))
                else:
                    done = self.update(change)
                if docs is not None and change.key in docs.kb_ops and done.status == "ok":
                    return [done, documents.sync_kb(self, docs, change, done.id)]
                return [done]

            self._level_starts()
            level_results = [r for rs in self.client.map(one, todo) for r in rs]
            for r in level_results:
                results.append(r)
                if r.status != "ok":
                    failed.add(r.key)
            self._level_done(results)
        patches = [(k, p) for k, p in sched.deferred.items() if k not in failed]
        if patches:
            self._level_starts()
            for r in self.client.map(lambda item: self.patch_deferred(*item), patches):
                results.append(r)
            self._level_done(results)
        for kind in sorted(KINDS, key=kind_order, reverse=True):
            group = [c for c in deletes if c.kind == kind]
            if not group:
                continue
            if failed or self.cancel.is_set():
                # Never delete after a failed write: a reference the failed write was to remove
                # may still pin the resource, and the state must stay easy to reason about.
                for change in group:
                    skipped = OpResult("delete", change.kind, change.slug, change.id, "skipped")
                    skipped.error = (
                        "not attempted: the apply was interrupted"
                        if self.cancel.is_set()
                        else "not attempted: earlier writes failed"
                    )
                    self._say(skipped)
                    results.append(skipped)
                continue
            self._level_starts()
            for r in self.client.map(self.delete, group):
                results.append(r)
                if r.status != "ok":
                    failed.add(r.key)
            self._level_done(results)
        if docs is not None and any(not blocked for _, _, blocked in docs.deletes):
            skip = None
            if self.cancel.is_set():
                skip = "not attempted: the apply was interrupted"
            elif failed:
                skip = "not attempted: earlier writes failed"
            self._level_starts()
            results.extend(documents.delete_files(self, docs, skip=skip))
            self._level_done(results)
        if self.progress is not None:
            self.progress.finish(results)
        return results

    # --- the snapshot ------------------------------------------------------------------------------

    def _canonical_form(self, key: str, kind: str, response: dict[str, Any]) -> None:
        """The canonical form of a written resource's response, remembered for the snapshots.

        The worker that got the response makes it: it mostly waits on the network, while a checkpoint
        runs between two levels, where every write waits for it.  The token lookups it made are kept:
        a snapshot uses the form only while every one of them still gives the same answer.
        """
        want = self.ctx.desired_canonical.get(key)
        if want is None:
            return
        lookups: dict[str, str | None] = {}
        payload = drop_mirrored(kind, strip_server_fields(kind, response), want)
        payload = self.ctx.masker.canonical_live(payload, self.ctx.slots(key), want, self._tokens, lookups)
        memo = (response, lookups, payload, content_hash(want))
        with self._lock:
            self._canonical[key] = memo

    def snapshot(
        self, results: list[OpResult], *, plan_hash: str, logical_hash: str | None, partial: bool = False
    ) -> Snapshot:
        """The env's state after the writes: written resources from their responses, the others
        carried over from the previous state (so drift stays visible), failed ones as they were."""
        ctx = self.ctx
        with self._lock:
            tokens = dict(self._tokens)
        ok = {r.key for r in results if r.status == "ok"}
        touched = {r.key for r in results}
        records: list[SnapshotRecord] = []
        org_id: str | None = ctx.plan.org_id
        changes = {c.key: c for c in ctx.plan.changes}
        drifted = {f"{d.kind}/{d.slug}": d for d in ctx.plan.drift}
        for key, res in ctx.desired.items():
            want = ctx.desired_canonical[key]
            rid = self.ids.get(ref_token(res.kind, res.slug))
            prev = ctx.state.record(res.kind, res.slug) if ctx.state is not None else None
            change = changes.get(key)
            if change is not None and change.previous_slug and ctx.state is not None:
                prev = ctx.state.record(res.kind, change.previous_slug)
            secret_refs = ctx.secret_refs(key)
            if key in ok and key in self.responses:
                response = self.responses[key]
                org_id = org_id or response.get("orgId")
                memo = self._canonical.get(key)
                if memo is None or memo[0] is not response or any(tokens.get(s) != t for s, t in memo[1].items()):
                    lookups: dict[str, str | None] = {}
                    payload = drop_mirrored(res.kind, strip_server_fields(res.kind, response), want)
                    payload = ctx.masker.canonical_live(payload, ctx.slots(key), want, tokens, lookups)
                    memo = (response, lookups, payload, content_hash(want))
                    self._canonical[key] = memo
                payload = memo[2]
                if prev is not None and prev.id == rid and change is not None and key in drifted:
                    recorded = ctx.follow_renames(prev.payload)
                    payload = sort_keys(_keep_unwritten_drift(payload, recorded, change, drifted[key]))
                records.append(SnapshotRecord(res.kind, res.slug, str(rid), payload, want, secret_refs, memo[3]))
            elif key not in touched and rid is not None:
                if key in ctx.converged and key in ctx.live_canonical:  # live caught up with the config
                    records.append(
                        SnapshotRecord(
                            res.kind, res.slug, rid, ctx.live_canonical[key], want, secret_refs, content_hash(want)
                        )
                    )
                elif prev is not None and prev.id == rid:
                    payload, desired = ctx.follow_renames(prev.payload), ctx.follow_renames(prev.desired)
                    records.append(
                        SnapshotRecord(res.kind, res.slug, rid, payload, desired, prev.secret_refs, prev.hash)
                    )
                elif key in ctx.live_canonical:  # matched without a record (state lost): adopt what is live
                    records.append(
                        SnapshotRecord(
                            res.kind, res.slug, rid, ctx.live_canonical[key], want, secret_refs, content_hash(want)
                        )
                    )
            elif prev is not None and rid is not None and prev.id == rid:
                records.append(prev)  # the write failed: keep the old record, the change stays planned
        for change in ctx.plan.changes:
            if change.action == "delete" and change.key not in self.deleted and ctx.state is not None:
                prev = ctx.state.record(change.kind, change.slug)
                if prev is not None:
                    records.append(prev)  # not deleted (blocked or failed): still ours
        if ctx.plan.scope is not None and ctx.state is not None:
            # A partial apply wrote only its scope: every other resource stays as the state recorded it.
            kept = {r.key for r in records} | self.deleted
            records += [prev for prev in ctx.state.resources if prev.key not in kept]
        org_id = org_id or _org_id(ctx)
        complete = not partial and all(r.status == "ok" for r in results)
        secret_hmacs = dict(ctx.state.secret_hmacs) if ctx.state is not None else {}
        if complete:
            secret_hmacs.update(ctx.secret_hmacs)
        section = dict(ctx.state.documents) if ctx.state is not None else {}
        if ctx.documents is not None:
            section = documents.snapshot_section(self, ctx.documents, results)
        return Snapshot(
            env=self.env,
            org=ctx.environment.org,
            org_id=org_id,
            sha=self.sha,
            run=self.run,
            applied_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            complete=complete,
            resources=records,
            plan_hash=plan_hash,
            logical_hash=logical_hash,
            secret_hmacs=secret_hmacs,
            documents=section,
        )


def _keep_unwritten_drift(
    payload: dict[str, Any], recorded: Mapping[str, Any], change: Change, drift: DriftItem | None
) -> dict[str, Any]:
    """The recorded response of a written resource, except top-level fields that drifted and that
    this apply did not write: those keep their previous record, so the drift stays reported (a
    response would otherwise make the value changed outside the new baseline, silently)."""
    if drift is None:
        return payload
    out = dict(payload)
    for top in {str(f.path[0]) for f in drift.fields if f.path} - set(change.send) - set(change.unset):
        if top in recorded:
            out[top] = recorded[top]
        else:
            out.pop(top, None)
    return out


def backup_snapshot(ctx: PlanContext, *, sha: str | None, run: str | None) -> Snapshot:
    """The org before any write (``backup-before.json``): managed resources as records (usable by
    ``rollback``), everything else under ``unmanaged``; secrets redacted like every snapshot."""
    records: list[SnapshotRecord] = []
    tokens = {v: k for k, v in ctx.ids.items()}
    for kind, ident in ctx.identity.items():
        claimed = [(slug, m.live) for slug, m in ident.matches.items()] + list(ident.orphans.items())
        for slug, obj in claimed:
            key = f"{kind}/{slug}"
            prev = ctx.state.record(kind, slug) if ctx.state is not None else None
            if prev is not None and prev.id == str(obj["id"]):
                slots = merge_recorded(ctx.slots(key), prev)
                desired = prev.desired
                secret_refs = prev.secret_refs
            else:
                slots = ctx.slots(key)
                desired = {}
                secret_refs = {}
            payload = ctx.masker.canonical_live(
                strip_server_fields(kind, obj), slots, ctx.desired_canonical.get(key), tokens
            )
            desired = desired or payload
            records.append(
                SnapshotRecord(kind, slug, str(obj["id"]), payload, desired, secret_refs, content_hash(desired))
            )
    unmanaged = []
    for kind, ident in ctx.identity.items():
        for obj in ident.unmanaged:
            payload = ctx.masker.canonical_live(strip_server_fields(kind, obj), {}, None, tokens)
            unmanaged.append({"kind": kind, "id": str(obj["id"]), "payload": payload})
    org_id = ctx.plan.org_id or _org_id(ctx)
    return Snapshot(
        env=ctx.environment.name,
        org=ctx.environment.org,
        org_id=org_id,
        sha=ctx.state.sha if ctx.state is not None else None,
        run=run,
        applied_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        complete=True,
        resources=records,
        plan_hash=None,
        logical_hash=None,
        secret_hmacs=dict(ctx.state.secret_hmacs) if ctx.state is not None else {},
        kind_name="backup",
        unmanaged=unmanaged,
        documents=dict(ctx.state.documents) if ctx.state is not None else {},
    )


def _org_id(ctx: PlanContext) -> str | None:
    return next((str(o["orgId"]) for objs in ctx.live.values() for o in objs if o.get("orgId")), None)


def _targets(payload: Mapping[str, Any]) -> set[str]:
    from ci_deployer.engine.canonical import iter_ref_tokens

    return {f"{owner_of(k)}/{s}" for _, k, s in iter_ref_tokens(payload)}


def _comparable(kind: str, obj: Mapping[str, Any], restrict: Any = None) -> Any:
    from ci_deployer.engine.canonical import restrict_to

    payload = strip_server_fields(kind, obj)
    if restrict is not None:
        payload = restrict_to(payload, restrict)
    return sort_keys(payload)


APPLIED_LISTED = 20


def describe_failure(results: list[OpResult]) -> str:
    """Exactly what happened, as a table: every failed and not-attempted write with why, and what
    was applied (listed up to 20; apply-result.json lists every write)."""
    done = [r for r in results if r.status == "ok"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    head = (
        f"{len(failed)} of {len(results)} writes failed, {len(skipped)} not attempted, {len(done)} applied"
        if failed
        else f"{len(skipped)} of {len(results)} writes not attempted, {len(done)} applied"
    )
    width = max((len(f"{r.action} {r.key}") for r in results), default=10)
    rows = [f"  ✗ failed         {r.action + ' ' + r.key:<{width}}  {r.error or ''}" for r in failed]
    rows += [f"  – not attempted  {r.action + ' ' + r.key:<{width}}  {r.error or ''}" for r in skipped]
    rows += [f"  ✓ applied        {r.action + ' ' + r.key:<{width}}" for r in done[:APPLIED_LISTED]]
    if len(done) > APPLIED_LISTED:
        rows.append(f"  ✓ applied        … and {len(done) - APPLIED_LISTED} more (apply-result.json lists every write)")
    return redact.redact(head + ":\n" + "\n".join(rows))
