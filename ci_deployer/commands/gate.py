"""`ci-deployer gate`: evaluate an environment's protection gates and print the promotion checklist.

Exit 0 when the gates allow an apply now; otherwise the checklist is printed and the command fails
with ``failure_reason=gate-refused`` (exit 1).  With ``--format json`` stdout is one JSON document
of one shape (docs/formats.md "Gates"): the report, with ``ok`` and, when refused, the error fields.
``--checklist-out FILE`` also writes ``[{id, title, status, evidence}]`` for the GitHub edge (PR
comment, job summary).

Approvals are read from GitHub when a token (``GITHUB_TOKEN``; the action's ``github_token`` input)
and ``GITHUB_REPOSITORY`` are set (API base from ``GITHUB_API_URL``); otherwise they are pending.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer import logsafe
from ci_deployer.commands import _common
from ci_deployer.error_handler import EXIT_FAILED, EXIT_OK
from ci_deployer.errors import ConfigError, GateRefused
from ci_deployer.gates.model import GateReport
from ci_deployer.settings import Settings

if TYPE_CHECKING:
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


def plan_hash_of(path: Path | None) -> str | None:
    """The ``hash`` of a plan file (``plan --out``)."""
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


def emit(report: GateReport, fmt: str, checklist_out: Path | None) -> int:
    """Print the report in ``fmt``, write ``checklist_out``, and enforce it."""
    from ci_deployer.gates import render
    from ci_deployer.gates.evaluate import enforce

    if checklist_out is not None:
        checklist_out.parent.mkdir(parents=True, exist_ok=True)
        checklist_out.write_text(json.dumps(report.checklist(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    if fmt != "json":
        sys.stdout.write(render.reporter(fmt)(report))
        enforce(report)
        return 0
    # JSON: one document of one shape, allowed or not (docs/formats.md "Gates"); a refusal adds the
    # error fields every command's JSON error carries, and exits 1 like any refusal.
    data: dict[str, Any] = {**report.to_dict(), "ok": True}
    try:
        enforce(report)
    except GateRefused as refused:
        data.update(ok=False, failure_reason=refused.failure_reason, error=refused.message, hint=refused.hint)
    sys.stdout.write(logsafe.neutralize_json(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)) + "\n")
    return EXIT_OK if data["ok"] else EXIT_FAILED


def gate_report(
    args: argparse.Namespace,
    settings: Settings,
    *,
    now: datetime | None = None,
    github_options: ClientOptions | None = None,
) -> GateReport:
    """Gather the evidence and evaluate the gates of ``args.env`` (no printing, not enforced)."""
    from ci_deployer import compose

    root = _common.config_dir(args)
    # The `config` line of the checklist reports validation problems: the session does not refuse them.
    with compose.open_session(settings, root, args.env, validate=False, state=_common.state_backend(args, root)) as s:
        request = compose.GateRequest(
            ticket=args.ticket,
            break_glass_reason=args.break_glass_reason,
            attestations=tuple(args.attest),
            plan_hash=plan_hash_of(args.plan),
            reviewed_plan_hash=args.reviewed_plan_hash,
            sha=args.sha,
        )
        github = compose.github_source(settings, github_options)
        return compose.evaluate_gates(s, settings, root, request, github=github, now=now)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return emit(gate_report(args, settings), args.format, args.checklist_out)
