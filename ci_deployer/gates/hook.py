"""The gates as apply's ``pre_write_check(environment, plan)`` (``engine.operations.ApplyOptions``).

Built once at the composition root with everything the engine does not know (environ, clock,
dispatch inputs, GitHub), it gathers the evidence when apply has its fresh plan, evaluates, hands
the report to ``record`` (summary, artifacts) and raises :class:`~ci_deployer.errors.GateRefused`
before any API write when a blocking item is not passing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer.gates.evaluate import enforce, evaluate
from ci_deployer.gates.model import GateReport

if TYPE_CHECKING:
    from ci_deployer.config.model import ConfigRepo, Environment
    from ci_deployer.engine.plan import Plan
    from ci_deployer.gates.collect import GitHubSource, SnapshotReader

REPORT_FILE = "gate-report.json"


def report_writer(out_dir: Path) -> Callable[[GateReport], None]:
    """A ``record`` callback writing ``gate-report.json`` (the report's stable JSON) into ``out_dir``,
    next to the apply log, so the checklist and any break-glass reason travel with the artifacts."""

    def write(report: GateReport) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
        (out_dir / REPORT_FILE).write_text(text, encoding="utf-8")

    return write


def pre_write_check(
    root: Path,
    repo: ConfigRepo,
    environ: Mapping[str, str],
    clock: Callable[[], datetime],
    *,
    sha: str | None,
    ticket: str | None = None,
    break_glass_reason: str | None = None,
    attestations: Iterable[str] = (),
    reviewed_plan_hash: str | None = None,
    backup_path: Path | None = None,
    rollback_of_known_snapshot: bool = False,
    github: GitHubSource | None = None,
    record: Callable[[GateReport], None] | None = None,
    read_snapshot: SnapshotReader | None = None,
) -> Callable[[Environment, Plan], dict[str, Any]]:
    """A ``pre_write_check`` for apply: evaluate the gates on the fresh ``plan`` and enforce them.

    ``backup_path``: the before-snapshot file; when given, it must exist at check time (so apply
    should save the backup, a local file, before calling the check).  ``None``: backup pending.
    """
    from ci_deployer.gates.collect import collect_inputs, read_latest_snapshot

    def check(environment: Environment, plan: Plan) -> dict[str, Any]:
        inputs = collect_inputs(
            root,
            repo,
            environment.name,
            environ,
            clock(),
            sha=sha,
            ticket=ticket,
            break_glass_reason=break_glass_reason,
            attestations=attestations,
            plan_hash=plan.hash,
            reviewed_plan_hash=reviewed_plan_hash,
            backup_exists=backup_path.is_file() if backup_path is not None else None,
            rollback_of_known_snapshot=rollback_of_known_snapshot,
            validation=(True, "validated by apply"),
            github=github,
            read_snapshot=read_snapshot or read_latest_snapshot,
        )
        report = evaluate(environment, inputs)
        if record is not None:
            record(report)
        enforce(report)
        return report.to_dict()

    return check
