"""Whole operations over a :class:`~ci_deployer.engine.session.Session`: apply (with its lock,
checks, backup, log and snapshots) and rollback.  The commands and the GitHub action call these."""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

from ci_deployer import jsontext, redact
from ci_deployer.config.model import Environment, SecretRef
from ci_deployer.config.secrets import find_placeholders
from ci_deployer.engine import snapshot as snapshots
from ci_deployer.engine.apply import (
    Applier,
    ApplyFailed,
    ApplyInterrupted,
    ApplyResult,
    DeletesRefused,
    OpResult,
    Progress,
    backup_snapshot,
    describe_failure,
)
from ci_deployer.engine.auditlog import AuditLog
from ci_deployer.engine.documents import desired_documents
from ci_deployer.engine.model import DesiredResource
from ci_deployer.engine.plan import Plan, PlanContext
from ci_deployer.engine.scope import Scope
from ci_deployer.engine.session import Session
from ci_deployer.engine.snapshot import Snapshot
from ci_deployer.errors import ConfigError, DeployerError, DriftFound, PlanChanged, StateError
from ci_deployer.paths import get_path, parse_pattern

# Returns evidence to record in the apply log (the gates' report), or None; raises to refuse.
PreWriteCheck = Callable[[Environment, Plan], "dict[str, Any] | None"]

BACKUP_FILE = "backup-before.json"
SNAPSHOT_FILE = "snapshot-after.json"
LOG_FILE = "apply-log.jsonl"
RESULT_FILE = "apply-result.json"


@dataclass
class ApplyOptions:
    """How to apply: the reviewed plan (``--plan``), deletes, adoption, drift handling, output."""

    out_dir: FsPath
    reviewed: Plan | None = None
    reviewed_hash: str | None = None  # the hash reviewers saw when only the hash is known (a PR comment)
    reviewed_scope: Scope | None = None  # that plan's scope when it was partial (the comment's marker)
    allow_deletes: bool | None = None  # None: the env's allowDeletes
    adopt: bool = False
    overwrite_drift: bool = False
    pre_write_check: PreWriteCheck | None = None  # gates: called before the first write
    progress: Progress | None = None
    on_plan: Callable[[Plan], None] | None = None  # sees the fresh plan before any check (e.g. to save it)
    cancel: threading.Event | None = None  # set (by a SIGTERM/SIGINT handler) to stop starting new writes
    documents_timeout: float | None = None  # seconds to wait for Vapi to read a document (None: 300)


def _change_lines(plan: Plan) -> set[str]:
    out = {f"{c.action} {c.key}" + (" (blocked)" if c.blocked else "") for c in plan.changes if c.action != "noop"}
    out |= {f"drift {d.kind}/{d.slug}" for d in plan.drift}
    return out


DIFF_LINES = 12  # of a long text's diff, shown per field in a plan-changed refusal


def plan_difference(reviewed: Plan, fresh: Plan) -> str:
    """A readable list of what differs between a reviewed plan and a fresh one: changes that came
    or went, then, for a resource changing in both, each field planned differently (a long text as a
    short unified diff of what the reviewed plan would have written against what the fresh one would)."""
    old, new = _change_lines(reviewed), _change_lines(fresh)
    parts = [f"  now also: {item}" for item in sorted(new - old)]
    parts += [f"  no longer: {item}" for item in sorted(old - new)]
    before, after = _planned_fields(reviewed), _planned_fields(fresh)
    for key in sorted(before.keys() & after.keys()):
        for path in sorted(before[key].keys() | after[key].keys()):
            was, now = before[key].get(path), after[key].get(path)
            if was != now:
                parts += _field_difference(key, path, was, now)
    if not parts:
        parts = ["  the same changes, planned against a live state that differs from the one reviewed"]
    return "\n".join(parts)


def _planned_fields(plan: Plan) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        c.key: {str(f["path"]): f for f in (field.to_dict() for field in c.fields)}
        for c in plan.changes
        if c.action != "noop"
    }


def _field_difference(key: str, path: str, was: dict[str, Any] | None, now: dict[str, Any] | None) -> list[str]:
    """Lines saying how one field's planned change differs (values as the plan shows them: secrets
    as their status, never a value)."""
    a, b = _planned_value(was), _planned_value(now)
    if isinstance(a, str) and isinstance(b, str) and ("\n" in a or "\n" in b):
        diff = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "reviewed", "now", lineterm="", n=1))
        shown = diff[2 : 2 + DIFF_LINES] + (
            [f"… {len(diff) - 2 - DIFF_LINES} more lines"] if len(diff) > DIFF_LINES + 2 else []
        )
        return [f"  {key} {path}: the reviewed plan would write other text:"] + [f"      {line}" for line in shown]
    return [f"  {key} {path}: reviewed {_shown(a)}, now {_shown(b)}"]


def _planned_value(field: dict[str, Any] | None) -> Any:
    if field is None:
        return _NOT_PLANNED
    if "secret" in field:
        return f"secret {field['secret']}"
    return field.get("new") if field.get("op") != "remove" else _REMOVED


_NOT_PLANNED = "(no change)"
_REMOVED = "(removed)"


def _shown(value: Any) -> str:
    if value in (_NOT_PLANNED, _REMOVED) or (isinstance(value, str) and value.startswith("secret ")):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "…"


def apply(session: Session, options: ApplyOptions, *, desired: list[DesiredResource] | None = None) -> ApplyResult:
    """Plan live, check, back up, write, snapshot.  Raises :class:`PlanChanged`,
    :class:`DeletesRefused`, :class:`DriftFound` before any write; :class:`ApplyFailed` after a
    partial apply (the log and the partial snapshot are written first)."""
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    env = session.env
    with session.state.lock(env), AuditLog(out / LOG_FILE) as audit:
        client = session.client(on_request=audit.on_request)
        ctx = session.plan(
            client=client,
            adopt=options.adopt,
            allow_deletes=options.allow_deletes,
            desired=desired,
            repair_drift=options.overwrite_drift,
        )
        plan = ctx.plan
        if ctx.documents is not None and options.documents_timeout is not None:
            ctx.documents.timeout = options.documents_timeout
        if options.on_plan is not None:
            options.on_plan(plan)
        # A reviewed partial plan: apply planned in full (above); its scope is planned again on the
        # same listing, for the hash reviewers saw, and nothing outside it may change unseen.
        scope = options.reviewed.scope if options.reviewed is not None else options.reviewed_scope
        compared = plan
        if scope is not None and session.scope is None:
            compared = session.plan(
                adopt=options.adopt,
                allow_deletes=options.allow_deletes,
                desired=desired,
                repair_drift=options.overwrite_drift,
                scope=scope,
                listed=ctx.live,
            ).plan
        _check(session, ctx, options, compared)
        if compared is not plan:
            _check_outside(session, plan, scope)
        run = out.name
        # The backup is a local file written before the gates run, so the backup gate can check it
        # exists (a missing before-snapshot refuses the apply before any API write).
        snapshots.write(backup_snapshot(ctx, sha=session.sha, run=run), out / BACKUP_FILE)
        if options.pre_write_check is not None:
            # the gates check the hash reviewers saw: a reviewed partial plan's is its scope's
            _run_gates(options.pre_write_check, session, compared, audit)
        audit.event("start", env=env, org=session.environment.org, run=run, planHash=plan.hash)
        cancel = options.cancel or threading.Event()

        saving: list[Future[None]] = []

        def checkpoint(done: list[OpResult]) -> None:
            # State follows the writes level by level: an interrupt loses nothing that was created.  The
            # journal is durable before the next level starts (it alone says what an interrupted apply
            # created); the state is then written while that level's first requests are in flight —
            # serialising 1,000 resources took as long as a round trip, with nothing else to do.  One
            # save at a time, in order: the previous one is done (or its error raised) first.
            audit.sync()
            snapshot = applier.snapshot(done, plan_hash=plan.hash, logical_hash=session.logical_hash, partial=True)
            if saving:
                saving.pop().result()
            saving.append(saver.submit(session.state.save, snapshot))

        applier = Applier(
            ctx,
            client,
            session.resolver,
            sha=session.sha,
            run=run,
            progress=options.progress,
            journal=lambda line: audit.event("write", **line),
            cancel=cancel,
            checkpoint=checkpoint,
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ci-deployer-checkpoint") as saver:
            results = applier.execute()
            if saving:
                saving.pop().result()
        snap = applier.snapshot(results, plan_hash=plan.hash, logical_hash=session.logical_hash)
        text = snapshots.dump(snap)  # once, for the run's folder and the state
        snapshots.write(snap, out / SNAPSHOT_FILE, text=text)
        session.state.save(snap, text=text)
        result = ApplyResult(env, plan.hash, results, snap, warnings=list(plan.warnings))
        (out / RESULT_FILE).write_text(redact.redact(_json(result.to_dict())), encoding="utf-8")
        outcome = "interrupted" if cancel.is_set() else ("ok" if result.ok else "failed")
        audit.event("end", outcome=outcome, counts=result.counts())
        audit.sync()
    if applier.wrong_org is not None:
        raise StateError(
            f"the API key of {env} reaches org {applier.wrong_org}, not {applier.expected_org}: the apply "
            f"stopped at its first write; {describe_failure(results)}",
            hint=f"check which secret {env}'s api.token reads: it must be the private key of the env's org",
        )
    if cancel.is_set():
        raise ApplyInterrupted(
            "the apply was interrupted; " + describe_failure(results),
            hint=f"the partial state was saved; run apply again to finish (nothing is created twice). "
            f"Log and snapshots: {out}",
        )
    if not result.ok:
        raise ApplyFailed(
            describe_failure(results),
            hint=f"the partial state was saved; run apply again to converge. Log and snapshots: {out}",
        )
    return result


def _run_gates(check: PreWriteCheck, session: Session, plan: Plan, audit: AuditLog) -> None:
    """Run the pre-write check and record its outcome (allowed or refused, any break-glass
    reason) as an ``event: gates`` line of the apply log, so the audit trail says why a write happened."""
    try:
        evidence = check(session.environment, plan)
    except DeployerError as error:
        audit.write(
            {
                "event": "gates",
                "time": datetime.now(UTC).isoformat(),
                "outcome": "refused",
                "failureReason": error.failure_reason,
                "message": str(error),
            }
        )
        raise
    line: dict[str, Any] = {"event": "gates", "time": datetime.now(UTC).isoformat(), "outcome": "allowed"}
    if evidence:
        line["breakGlass"] = evidence.get("breakGlass")
        line["checklist"] = [
            {"id": i.get("id"), "status": i.get("status")} for i in evidence.get("items", []) if isinstance(i, dict)
        ]
    audit.write(line)


def _check_outside(session: Session, plan: Plan, scope: Scope | None) -> None:
    """A protected env applies nothing a reviewed partial plan did not show: a write outside its
    scope refuses (an unprotected env applies the full plan)."""
    if scope is None or session.environment.protection is None:
        return
    outside = [c for c in plan.writes() if c.key not in scope.keys and not c.state_only and not c.rotation_only]
    if outside:
        lines = "\n".join(f"  {c.action} {c.key}" for c in outside)
        raise PlanChanged(
            f"the reviewed plan for {session.env} was partial ({scope.reason}), but the full plan also "
            f"changes {len(outside)} resource(s) outside it; nothing was applied:\n{lines}",
            hint="plan the whole config (without --only/--changed-since), review it, and apply that plan",
        )


def _check(session: Session, ctx: PlanContext, options: ApplyOptions, compared: Plan | None = None) -> None:
    plan = ctx.plan
    env = session.env
    fresh = compared if compared is not None else plan
    reviewed_hash = options.reviewed.hash if options.reviewed is not None else options.reviewed_hash
    if reviewed_hash is not None and reviewed_hash != fresh.hash:
        detail = (
            plan_difference(options.reviewed, fresh)
            if options.reviewed is not None
            else "\n".join(f"  {line}" for line in sorted(_change_lines(fresh))) or "  (no changes now)"
        )
        raise PlanChanged(
            f"the plan for {env} changed since it was reviewed (reviewed {reviewed_hash}, "
            f"now {fresh.hash}); nothing was applied:\n{detail}",
            hint="run `ci-deployer plan` again, review the new plan, and apply that one",
        )
    writing = {c.key for c in plan.writes() if c.action != "delete"}
    missing = ctx.unresolvable(writing)
    if missing:
        where = {
            ref: f"{res.file}:{res.line}" if res.line else str(res.file)
            for res in reversed(list(ctx.desired.values()))
            if res.key in writing and res.file
            for ref in {s.ref for s in res.secrets}
        }
        named = ", ".join(f"secrets://{m}" + (f" ({where[m]})" if m in where else "") for m in missing)
        raise ConfigError(
            f"secret(s) {named} cannot be resolved here; nothing was applied",
            hint="set the environment variable(s) (in GitHub Actions: `env: NAME: ${{ secrets.NAME }}`)",
        )
    blocked = [c for c in plan.changes if c.action == "delete" and c.blocked]
    if blocked:
        names = ", ".join(c.key for c in blocked)
        raise DeletesRefused(
            f"the plan deletes {len(blocked)} resource(s) in {env} ({names}) and {env} does not allow deletes; "
            "nothing was applied",
            hint="pass --allow-deletes (or set allowDeletes: true for the env) if the deletes are intended",
        )
    if plan.drift and session.environment.drift == "fail" and not options.overwrite_drift:
        names = ", ".join(f"{d.kind}/{d.slug}" for d in plan.drift)
        raise DriftFound(
            f"{env} drifted outside ci-deployer ({names}); nothing was applied",
            hint="bring the change into the config (or revert it in the dashboard), or apply with "
            "--overwrite-drift to write the config's values over it",
        )


def desired_from_snapshot(snap: Snapshot) -> list[DesiredResource]:
    """A snapshot's resources as desired resources (rollback): the desired payloads it recorded,
    secrets re-resolved from the placeholders it kept."""
    out = []
    for rec in snap.resources:
        secrets = []
        for dotted in rec.secret_refs:
            path = tuple(p for p in parse_pattern(dotted) if p is not None)
            try:
                node: Any = get_path(rec.desired, path)
            except (KeyError, IndexError, TypeError):
                node = None
            if isinstance(node, str):
                for ref, start, end in find_placeholders(node):
                    secrets.append(SecretRef(path, ref, whole=start == 0 and end == len(node)))
        labels: dict[str, str] = {}
        res = DesiredResource(rec.kind, rec.slug, rec.desired, secrets=secrets, labels=labels)
        if rec.kind == "KnowledgeBase":  # its documents as recorded (engine/documents.py)
            res.documents = desired_documents(snap.documents, rec.slug, snap.sha)
            res.files = list(res.documents or [])
        out.append(res)
    return out


def rollback(session: Session, snapshot_file: FsPath, options: ApplyOptions) -> ApplyResult:
    """Plan and apply the org back to ``snapshot_file`` (drift overwritten: that is the point)."""
    snap = snapshots.load(snapshot_file)
    if snap.env != session.env:
        raise StateError(
            f"{snapshot_file} is a snapshot of {snap.env}, not {session.env}",
            hint=f"pass a snapshot recorded for {session.env}",
        )
    state = session.latest_state()
    if state is not None and state.org_id and snap.org_id and state.org_id != snap.org_id:
        raise StateError(
            f"{snapshot_file} was recorded in org {snap.org_id}, but {session.env}'s state is org {state.org_id}",
            hint="pass a snapshot of this environment's org",
        )
    desired = desired_from_snapshot(snap)
    current = {r.key: r for r in session.desired}
    for res in desired:  # keep the config's labels (app, owner) for the resources it still has
        if res.key in current:
            res.labels = dict(current[res.key].labels)
    options.overwrite_drift = True
    return apply(session, options, desired=desired)


def _json(data: Any) -> str:
    return jsontext.dumps(data, ensure_ascii=False) + "\n"
