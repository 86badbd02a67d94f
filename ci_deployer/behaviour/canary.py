"""The prod canary: right after an apply to a protected environment, run its canary evals; when they
fail and the env asks for it (``protection.canary.rollbackOnFailure``), restore the before-snapshot.

- Which evals: those marked ``test: {canary: true}``.  Each runs managed (the eval by its id) where the
  env holds it — its ``metadata.environments`` include the env — else inline, without being written.
- The results are the env's test state (``tests.json``) and ``test-results.json`` beside the apply log.
- The apply log records ``event: canary`` (outcome, counts, the failing tests) and, for a rollback,
  ``event: rollback`` and ``event: rollback-end``.
- The rollback is :func:`ci_deployer.engine.operations.rollback` — the code of ``ci-deployer rollback``
  — with the apply's own ``backup-before.json``, into a sibling folder ``<out>-canary-rollback/``
  (its own journal, backup, snapshot and log; found again after an interrupt like any apply's).
  Two choices differ from a rollback a person runs: the gates are not evaluated again (the restore
  returns the env to the state it had before this very run, which its gates allowed moments ago —
  a change window closing in between must not keep a broken config live), and deletes are allowed
  (they remove what this apply created, which the before-snapshot does not have).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_deployer import redact
from ci_deployer.behaviour.model import RESULTS_FILE, TestReport
from ci_deployer.behaviour.runner import TestOptions, run_tests
from ci_deployer.config.behaviour import evals_for
from ci_deployer.errors import CanaryFailed, DeployerError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ci_deployer.engine.apply import ApplyResult
    from ci_deployer.engine.session import Session

ROLLBACK_SUFFIX = "-canary-rollback"


@dataclass
class CanaryOutcome:
    """What the canary did after an apply."""

    env: str
    report: TestReport | None = None  # None: no canary ran (unprotected env, or no canary evals)
    rollback_on_failure: bool = False
    rolled_back: ApplyResult | None = None
    rollback_dir: Path | None = None
    rollback_error: DeployerError | None = None
    run_error: DeployerError | None = None  # the canary could not run at all (the org unreachable…)

    @property
    def ran(self) -> bool:
        return self.report is not None or self.run_error is not None

    @property
    def failed(self) -> bool:
        return self.run_error is not None or (self.report is not None and not self.report.ok)

    def summary(self) -> str:
        """One sentence: what the canary found and what happened to the env."""
        if self.run_error is not None:
            # Not rolled back: nothing shows the new config is wrong, and a restore would most likely
            # meet the same outage.
            return (
                f"the canary could not run in {self.env} after the apply ({self.run_error.message}); "
                f"{self.env} keeps the new config"
            )
        if self.report is None:
            return "no canary evals"
        if self.report.ok:
            return f"canary passed ({self.report.summary_line().split(': ', 1)[1]})"
        failing = ", ".join(r.name for r in self.report.failing()[:3])
        head = f"canary failed in {self.env} after the apply ({failing})"
        if not self.rollback_on_failure:
            return f"{head}; rollbackOnFailure is off: {self.env} keeps the new config"
        if self.rollback_error is not None:
            return f"{head}; the automatic rollback failed too: {self.rollback_error.message}"
        return f"{head}; {self.env} was rolled back to its before-snapshot"

    def error(self) -> CanaryFailed:
        """The failure of the step (``canary-failed``)."""
        where = f" Rollback files: {self.rollback_dir}." if self.rollback_dir else ""
        if self.run_error is not None:
            hint = f"run `ci-deployer test --env {self.env} --canary` once the org answers"
        elif self.rolled_back is not None:
            hint = "the env is back on its before-snapshot: fix the config (see the failing checkpoints), apply again"
        elif self.rollback_error is not None:
            hint = f"restore it by hand: `ci-deployer rollback --env {self.env} --snapshot <backup-before.json>`"
        else:
            hint = (
                f"roll back with `ci-deployer rollback --env {self.env} --snapshot <backup-before.json>`, or fix "
                "forward; set protection.canary.rollbackOnFailure: true to restore automatically"
            )
        return CanaryFailed(redact.redact(self.summary() + "." + where), hint=hint)


def has_canary(session: Session) -> bool:
    """Whether an apply to the session's env is followed by a canary run."""
    return session.environment.protection is not None and bool(evals_for(session.repo, session.env, canary=True))


def after_apply(
    session: Session,
    out_dir: Path,
    options: TestOptions,
    *,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> CanaryOutcome:
    """Run the canary evals of a protected env after its apply wrote ``out_dir``; roll back on failure
    when the env asks for it.  Never raises for a failing canary: the caller reports and fails."""
    from ci_deployer.engine.auditlog import AuditLog
    from ci_deployer.engine.operations import BACKUP_FILE, LOG_FILE

    protection = session.environment.protection
    outcome = CanaryOutcome(session.env, rollback_on_failure=bool(protection and protection.canary_rollback))
    if not has_canary(session):
        return outcome
    try:
        report = run_tests(session, replace(options, canary=True, transient=False, only=()))
    except DeployerError as error:
        outcome.run_error = error
        with AuditLog(out_dir / LOG_FILE) as audit:
            audit.event("canary", outcome="error", failureReason=error.failure_reason, message=str(error))
        return outcome
    outcome.report = report
    (out_dir / RESULTS_FILE).write_text(redact.redact(report.to_json()), encoding="utf-8")
    session.state.save_tests(session.env, report.to_dict())
    with AuditLog(out_dir / LOG_FILE) as audit:
        audit.event(
            "canary",
            outcome="passed" if report.ok else "failed",
            counts=report.counts(),
            failed=[r.name for r in report.failing()],
        )
        if report.ok or not outcome.rollback_on_failure:
            return outcome
        rollback_dir = out_dir.with_name(out_dir.name + ROLLBACK_SUFFIX)
        outcome.rollback_dir = rollback_dir
        audit.event(
            "rollback",
            reason="canary-failed",
            snapshot=BACKUP_FILE,
            outDir=str(rollback_dir),
            gates="not re-evaluated: restores the state this run's gates allowed",
        )
        audit.sync()
        try:
            outcome.rolled_back = rollback(session, out_dir / BACKUP_FILE, rollback_dir, progress, cancel)
        except DeployerError as error:
            outcome.rollback_error = error
            audit.event("rollback-end", outcome="failed", failureReason=error.failure_reason, message=str(error))
        else:
            audit.event("rollback-end", outcome="ok", counts=outcome.rolled_back.counts())
    return outcome


def rollback(
    session: Session,
    backup: Path,
    out_dir: Path,
    progress: Callable[[str], None] | None,
    cancel: threading.Event | None,
) -> ApplyResult:
    """``ci-deployer rollback`` to the apply's own backup (see the module docstring for why gates are
    not re-evaluated and deletes are allowed)."""
    from ci_deployer.engine.operations import ApplyOptions
    from ci_deployer.engine.operations import rollback as restore
    from ci_deployer.progress import LineProgress

    said = LineProgress(lambda line: progress(f"canary rollback: {line}")) if progress is not None else None
    options = ApplyOptions(out_dir=out_dir, allow_deletes=True, progress=said, cancel=cancel)
    return restore(session, backup, options)
