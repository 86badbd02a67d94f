"""`ci-deployer gate`: evaluate an environment's protection gates and print the promotion checklist.

Exit 0 when the gates allow an apply now; otherwise the checklist is printed and the command fails
with ``failure_reason=gate-refused`` (exit 1).  With ``--format json`` stdout is one JSON document:
the report (docs in :mod:`ci_deployer.gates.model`) when allowed, the error with the checklist in
``findings`` when refused.  ``--checklist-out FILE`` also writes ``[{id, title, status, evidence}]``
for the GitHub edge (PR comment, job summary).

Approvals are read from GitHub when ``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY`` are set (API base
from ``GITHUB_API_URL``); otherwise they are pending.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ci_deployer.commands import _common
from ci_deployer.errors import ConfigError

if TYPE_CHECKING:
    from ci_deployer.gates.model import GateReport
    from ci_deployer.github.client import ClientOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser, required=True)
    _common.add_format(parser)
    _common.add_state_dir(parser)
    parser.add_argument("--sha", metavar="SHA", help="the commit being applied (default: GITHUB_SHA, else git HEAD)")
    parser.add_argument("--ticket", metavar="T", help="change ticket for this deployment (the dispatch input)")
    parser.add_argument(
        "--break-glass-reason",
        metavar="R",
        help="let an apply through outside a change window or during a freeze (never through missing approvals)",
    )
    parser.add_argument(
        "--attest", action="append", default=[], metavar="NAME", help="confirm a manual monitoring check (repeatable)"
    )
    parser.add_argument("--plan", type=Path, metavar="FILE", help="a plan.json whose hash is checked")
    parser.add_argument("--reviewed-plan-hash", metavar="H", help="the plan hash reviewers saw (PR comment marker)")
    parser.add_argument("--checklist-out", type=Path, metavar="FILE", help="also write the checklist as JSON here")


def _plan_hash(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the plan {path}: {exc}", hint="pass the plan.json written by `plan --out`"
        ) from exc
    value = data.get("hash") if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise ConfigError(f"{path} has no plan hash", hint="pass the plan.json written by `plan --out`")
    return value


def gate(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    now: datetime,
    *,
    github_options: ClientOptions | None = None,
) -> GateReport:
    """Gather the evidence and evaluate the gates of ``args.env`` (no printing)."""
    from ci_deployer.config.loader import load_repo
    from ci_deployer.engine.compose import git_sha
    from ci_deployer.gates.collect import collect_inputs, github_source, snapshot_reader
    from ci_deployer.gates.evaluate import evaluate

    root = _common.config_dir(args)
    repo, _ = load_repo(root)  # problems are reported by the `config` line (validation)
    if args.env not in repo.environments:
        known = ", ".join(repo.environments) or "none"
        raise ConfigError(f"unknown environment {args.env!r}", path="environments.yaml", hint=f"known: {known}")
    inputs = collect_inputs(
        root,
        repo,
        args.env,
        environ,
        now,
        sha=args.sha or git_sha(root, environ),
        ticket=args.ticket,
        break_glass_reason=args.break_glass_reason,
        attestations=args.attest,
        plan_hash=_plan_hash(args.plan),
        reviewed_plan_hash=args.reviewed_plan_hash,
        github=github_source(environ, github_options),
        read_snapshot=snapshot_reader(_common.state_root(args)),
    )
    return evaluate(repo.environments[args.env], inputs)


def emit(report: GateReport, args: argparse.Namespace) -> int:
    """Print the report in ``args.format``, write ``--checklist-out``, and enforce it."""
    from ci_deployer.gates import render
    from ci_deployer.gates.evaluate import enforce

    if args.checklist_out is not None:
        args.checklist_out.parent.mkdir(parents=True, exist_ok=True)
        args.checklist_out.write_text(json.dumps(report.checklist(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    # JSON: one document on stdout; a refusal's error output carries the checklist itself.
    if args.format != "json" or report.allowed:
        sys.stdout.write(render.reporter(args.format)(report))
    enforce(report)
    return 0


def run(args: argparse.Namespace) -> int:
    """The CLI entry: the real environment and clock."""
    return emit(gate(args, os.environ, datetime.now(UTC)), args)
