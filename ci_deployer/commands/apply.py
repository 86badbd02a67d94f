"""`ci-deployer apply`: apply the config to an env's org in dependency order.

With ``--plan FILE`` the org is planned again first and apply refuses (exit 1, ``plan-changed``)
unless the fresh plan has the reviewed plan's hash.  Without a terminal and without
``--auto-approve`` it refuses at once instead of waiting for an answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ci_deployer import redact
from ci_deployer.commands import _common
from ci_deployer.errors import DeployerError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    add_apply_options(parser)
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


def gate_check(
    session: Any, args: argparse.Namespace, out_dir: Path, reviewed_hash: str | None, *, rollback: bool = False
) -> Any:
    """The gates as apply's pre-write check, for environments with ``protection`` or ``promotesFrom``
    (unprotected environments have nothing to enforce).  Built here, at the composition root, from
    the process environment, the clock and the command's inputs."""
    environment = session.environment
    if environment.protection is None and environment.promotes_from is None:
        return None
    from datetime import UTC, datetime

    from ci_deployer.engine.operations import BACKUP_FILE
    from ci_deployer.gates.collect import github_source, snapshot_reader
    from ci_deployer.gates.hook import pre_write_check, report_writer

    return pre_write_check(
        session.root,
        session.repo,
        os.environ,
        lambda: datetime.now(UTC),
        sha=session.sha,
        ticket=args.ticket,
        break_glass_reason=args.break_glass_reason,
        attestations=args.attest,
        reviewed_plan_hash=reviewed_hash,
        backup_path=out_dir / BACKUP_FILE,
        read_snapshot=snapshot_reader(_common.state_root(args)),
        rollback_of_known_snapshot=rollback,
        github=github_source(os.environ),
        record=report_writer(out_dir),
    )


def confirm_or_refuse(args: argparse.Namespace, plan_text: str | None) -> None:
    """Refuse at once without a TTY (DESIGN §3); ask on a terminal."""
    if args.auto_approve:
        return
    if not sys.stdin.isatty():
        raise DeployerError(
            "apply needs approval and there is no terminal to ask on; nothing was applied",
            hint="review the plan and pass --auto-approve "
            "(in CI, apply the reviewed plan with --plan FILE --auto-approve)",
        )
    if plan_text:
        sys.stderr.write(plan_text)
    sys.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip() != "yes":
        raise DeployerError("apply cancelled; nothing was applied")


def progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def print_result(result: Any, fmt: str, out_dir: Path) -> None:
    if fmt == "json":
        data = result.to_dict()
        data["artifactsDir"] = str(out_dir)
        sys.stdout.write(redact.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
        return
    counts = result.counts()
    sys.stdout.write(
        f"Applied to {result.env}: {counts['ok']} write(s) ok, {counts['failed']} failed, "
        f"{counts['skipped']} not attempted. Plan hash {result.plan_hash}.\nArtifacts: {out_dir}\n"
    )


def run(args: argparse.Namespace) -> int:
    from ci_deployer.engine.compose import open_session
    from ci_deployer.engine.operations import ApplyOptions, apply
    from ci_deployer.engine.plan import Plan
    from ci_deployer.errors import StateError
    from ci_deployer.report.plan import render_text

    with open_session(_common.config_dir(args), args.env, os.environ, state=_common.state_backend(args)) as session:
        reviewed = None
        if args.plan is not None:
            try:
                reviewed = Plan.from_dict(json.loads(args.plan.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise StateError(
                    f"cannot read the plan {args.plan}: {exc}", hint="pass the file `plan --out` wrote"
                ) from None
            if reviewed.env != session.env:
                raise StateError(f"{args.plan} is a plan for {reviewed.env}, not {session.env}")
        preview = None
        if not args.auto_approve and sys.stdin.isatty():
            preview = render_text(session.plan(adopt=args.adopt, allow_deletes=args.allow_deletes).plan)
        confirm_or_refuse(args, preview)
        out_dir = args.out_dir or session.runs_dir()
        options = ApplyOptions(
            out_dir=out_dir,
            reviewed=reviewed,
            allow_deletes=args.allow_deletes,
            adopt=args.adopt,
            overwrite_drift=args.overwrite_drift,
            pre_write_check=gate_check(session, args, out_dir, reviewed.hash if reviewed else None),
            progress=progress,
        )
        result = apply(session, options)
        print_result(result, args.format, out_dir)
        return 0
