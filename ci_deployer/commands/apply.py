"""`ci-deployer apply`: apply the config to an env's org in dependency order.

With ``--plan FILE`` the org is planned again first and apply refuses (exit 1, ``plan-changed``)
unless the fresh plan has the reviewed plan's hash.  Without a terminal and without
``--auto-approve`` it refuses at once instead of waiting for an answer.

After an apply to a protected environment, its canary evals run (:mod:`ci_deployer.behaviour.canary`);
when they fail the step fails with ``canary-failed``, after restoring the before-snapshot where the
env sets ``protection.canary.rollbackOnFailure``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer import logsafe, redact
from ci_deployer.commands import _common
from ci_deployer.engine.apply import ApplyResult
from ci_deployer.engine.plan import Plan
from ci_deployer.engine.session import Session
from ci_deployer.errors import DeployerError, GateRefused, StateError
from ci_deployer.settings import Settings

if TYPE_CHECKING:
    from ci_deployer.behaviour.canary import CanaryOutcome
    from ci_deployer.compose import GateRequest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    add_apply_options(parser)
    _common.add_partial(parser)
    parser.add_argument("--plan", type=Path, default=None, metavar="FILE", help="the reviewed plan JSON")


def add_apply_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by apply and rollback."""
    parser.add_argument("--auto-approve", action="store_true", help="apply without asking (required without a TTY)")
    parser.add_argument(
        "--allow-deletes", action="store_true", default=None, help="allow deletes even where allowDeletes is false"
    )
    parser.add_argument("--adopt", action="store_true", help="take over live resources matching a document by name")
    parser.add_argument(
        "--overwrite-drift", action="store_true", help="write the config's values over changes made outside"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the backup, snapshot and apply log go (default: .ci-deployer/runs/<env>/<stamp>/ in the config)",
    )
    _common.add_state_dir(parser)
    gates = parser.add_argument_group("gates (protected environments)")
    gates.add_argument("--ticket", default=None, help="change ticket id, matched against protection.ticket.pattern")
    gates.add_argument(
        "--break-glass-reason",
        default=None,
        metavar="REASON",
        help="apply outside a change window or freeze; recorded, never bypasses approvals",
    )
    gates.add_argument(
        "--attest", action="append", default=[], metavar="NAME", help="a manual attestation (repeatable)"
    )


def read_plan(path: Path, env: str) -> Plan:
    """The reviewed plan file (``plan --out``), checked to be one of ``env``."""
    try:
        reviewed = Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read the plan {path}: {exc}", hint="pass the file `plan --out` wrote") from None
    if reviewed.env != env:
        raise StateError(f"{path} is a plan for {reviewed.env}, not {env}", hint=f"pass a plan of {env}")
    return reviewed


def prompt_summary(plan: Plan) -> str:
    """What a person is asked to approve, most important first: the counts, then every destructive
    change; the full diff only on request."""
    from ci_deployer.report.plan import counts_line

    lines = [f"{plan.env}: {counts_line(plan.summary)}"]
    deletes = [c for c in plan.changes if c.action == "delete"]
    if deletes:
        lines.append(f"⚠️  {len(deletes)} resource(s) will be DELETED:")
        lines += [
            f"  - {c.key}" + (f" ({c.name})" if c.name else "") + (" [blocked]" if c.blocked else "") for c in deletes
        ]
    replaced = [c for c in plan.changes if c.action in ("rename", "adopt") and c.fields]
    if replaced:
        lines.append(f"{len(replaced)} resource(s) taken over or renamed with changes:")
        lines += [f"  - {c.action} {c.key}" for c in replaced]
    return "\n".join(lines) + "\n"


def confirm_or_refuse(args: argparse.Namespace, plan: Plan | None, full_text: Callable[[], str] | None = None) -> None:
    """Refuse at once without a TTY (DESIGN §3); on a terminal show the summary and ask ('diff' shows
    every change first)."""
    if args.auto_approve:
        return
    if not sys.stdin.isatty():
        raise DeployerError(
            "apply needs approval and there is no terminal to ask on; nothing was applied",
            hint="review the plan and pass --auto-approve "
            "(in CI, apply the reviewed plan with --plan FILE --auto-approve)",
        )
    if plan is not None:
        sys.stderr.write(prompt_summary(plan))
    while True:
        ask = "Apply these changes? 'yes' applies" + (", 'diff' shows every change" if full_text else "") + ": "
        sys.stderr.write(ask)
        sys.stderr.flush()
        answer = sys.stdin.readline().strip()
        if answer == "diff" and full_text is not None:
            sys.stderr.write(full_text())
            continue
        if answer != "yes":
            raise DeployerError("apply cancelled; nothing was applied")
        return


def print_warnings(plan: Plan) -> None:
    """The fresh plan's warnings (recovered resources, never-deleted kinds, …), on stderr before any
    write: stdout stays one JSON document with ``--format json``."""
    for warning in plan.warnings:
        sys.stderr.write(f"warning: {logsafe.neutralize(redact.redact(warning))}\n")


def print_result(result: ApplyResult, fmt: str, out_dir: Path, canary: CanaryOutcome | None = None) -> None:
    if fmt == "json":
        data = result.to_dict()
        data["artifactsDir"] = str(out_dir)
        if canary is not None and canary.ran:
            data["canary"] = {
                "ok": not canary.failed,
                "summary": canary.summary(),
                "results": canary.report.to_dict() if canary.report is not None else None,
                "rolledBack": canary.rolled_back is not None,
                "rollbackDir": str(canary.rollback_dir) if canary.rollback_dir else None,
            }
            if canary.failed:
                data["failure_reason"] = "canary-failed"
        sys.stdout.write(redact.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
        return
    counts = result.counts()
    sys.stdout.write(
        f"Applied to {result.env}: {counts['ok']} write(s) ok, {counts['failed']} failed, "
        f"{counts['skipped']} not attempted. Plan hash {result.plan_hash}.\nArtifacts: {out_dir}\n"
    )
    if canary is not None and canary.ran:
        from ci_deployer.report.tests import render_text

        if canary.report is not None:
            sys.stdout.write(render_text(canary.report))
        sys.stdout.write(canary.summary() + "\n")


def run_canary(session: Session, settings: Settings, out_dir: Path, cancel: Any = None) -> CanaryOutcome:
    """The canary evals after an apply to a protected env (nothing for the others)."""
    from ci_deployer.behaviour.canary import after_apply
    from ci_deployer.behaviour.runner import TestOptions
    from ci_deployer.progress import stderr_line

    options = TestOptions(run=settings.run_id or None, run_url=settings.run_url or None)
    return after_apply(session, out_dir, options, progress=stderr_line, cancel=cancel)


def gate_request(
    args: argparse.Namespace, out_dir: Path, reviewed: Plan | None, *, rollback: bool = False
) -> GateRequest:
    """What apply (or rollback) asks of the gates: the command's gate inputs and its backup file."""
    from ci_deployer.compose import GateRequest
    from ci_deployer.engine.operations import BACKUP_FILE

    return GateRequest(
        ticket=args.ticket,
        break_glass_reason=args.break_glass_reason,
        attestations=tuple(args.attest),
        reviewed_plan_hash=reviewed.hash if reviewed else None,
        backup=out_dir / BACKUP_FILE,
        rollback_of_known_snapshot=rollback,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.engine.operations import ApplyOptions, apply
    from ci_deployer.gates.hook import report_writer
    from ci_deployer.interrupts import cancellable
    from ci_deployer.progress import for_terminal
    from ci_deployer.report.plan import render_text

    root = _common.config_dir(args)
    partial = _common.partial(args)
    state = _common.state_backend(args, root)
    with compose.open_session(settings, root, args.env, state=state, partial=partial) as session:
        if session.scope is not None and session.environment.protection is not None:
            raise GateRefused(
                f"{session.env} is protected: it is applied in full, not a part of the config",
                hint="apply without --only/--changed-since (a reviewed partial plan is checked against the full plan)",
            )
        reviewed = read_plan(args.plan, session.env) if args.plan is not None else None
        if not args.auto_approve and sys.stdin.isatty():
            preview = session.plan(adopt=args.adopt, allow_deletes=args.allow_deletes).plan
            if not preview.has_changes and not preview.drift:
                sys.stdout.write(f"{session.env}: No changes. The org matches the config; nothing to apply.\n")
                return 0
            confirm_or_refuse(args, preview, lambda: render_text(preview))
        else:
            confirm_or_refuse(args, None)
        out_dir = args.out_dir or compose.runs_dir(root, session.env)
        check = compose.pre_write_check(
            session,
            settings,
            root,
            gate_request(args, out_dir, reviewed),
            github=compose.github_source(settings),
            record=report_writer(out_dir),
        )
        with cancellable() as cancel:
            options = ApplyOptions(
                out_dir=out_dir,
                reviewed=reviewed,
                allow_deletes=args.allow_deletes,
                adopt=args.adopt,
                overwrite_drift=args.overwrite_drift,
                pre_write_check=check,
                progress=for_terminal(ci=settings.ci),
                cancel=cancel,
                on_plan=print_warnings,
            )
            result = apply(session, options)
            canary = run_canary(session, settings, out_dir, cancel)
        print_result(result, args.format, out_dir, canary)
        if canary.failed:
            if args.format == "json":
                return 1  # one JSON document on stdout: the result, with failure_reason canary-failed
            raise canary.error()
        return 0
