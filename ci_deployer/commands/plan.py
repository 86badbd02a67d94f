"""`ci-deployer plan`: render → resolve → read the org (or its last snapshot) → diff.

Exit codes: 0 no changes (or changes without ``--detailed-exitcode``); 2 changes with
``--detailed-exitcode``; 3 drift where the env's policy is ``fail`` (changes and drift together → 3).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ci_deployer.commands import _common

EXIT_CHANGES = 2
EXIT_DRIFT = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_state_dir(parser)
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    parser.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the plan JSON here")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE", help="write the plan as Markdown here")
    parser.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when the plan has changes (0: none)")
    parser.add_argument(
        "--against",
        choices=("live", "snapshot"),
        default=None,
        help="read the live org (default) or the env's last snapshot (no API call; the env's planAgainst by default)",
    )
    parser.add_argument("--adopt", action="store_true", help="take over live resources that match a document by name")
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        metavar="FILE",
        help="plan against this snapshot (e.g. prod's last apply artifact) instead of the local state; "
        "implies --against snapshot",
    )


def run(args: argparse.Namespace) -> int:
    from ci_deployer.engine.compose import open_session
    from ci_deployer.report import plan as report

    root = _common.config_dir(args)
    state = _common.state_backend(args)
    if args.snapshot is not None:
        from ci_deployer.engine.compose import STATE_DIR
        from ci_deployer.engine.state import LocalStateBackend, SnapshotFileState

        state = SnapshotFileState(args.snapshot, state or LocalStateBackend(root.joinpath(*STATE_DIR)))
    with open_session(root, args.env, os.environ, state=state) as session:
        against = "snapshot" if args.snapshot is not None else args.against or session.environment.plan_against
        ctx = session.plan(against=against, adopt=args.adopt)
        plan = ctx.plan
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(plan.to_json(), encoding="utf-8")
        if args.markdown is not None:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(report.render_markdown(plan), encoding="utf-8")
        render = {"text": report.render_text, "json": report.render_json, "github": report.render_github}[args.format]
        sys.stdout.write(render(plan))
        return exit_code(plan.has_changes, bool(plan.drift), session.environment.drift, args.detailed_exitcode)


def exit_code(has_changes: bool, has_drift: bool, drift_policy: str, detailed: bool) -> int:
    """DESIGN §3: drift under ``fail`` → 3 (also with changes); changes → 2 only when asked."""
    if has_drift and drift_policy == "fail":
        return EXIT_DRIFT
    if has_changes and detailed:
        return EXIT_CHANGES
    return 0
