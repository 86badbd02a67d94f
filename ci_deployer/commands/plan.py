"""`ci-deployer plan`: render → resolve → read the org (or its last snapshot) → diff.

Exit codes: 0 no changes (or changes without ``--detailed-exitcode``); 2 changes with
``--detailed-exitcode``; 3 drift where the env's policy is ``fail`` (changes and drift together → 3).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ci_deployer import jsontext, redact
from ci_deployer.commands import _common
from ci_deployer.engine.plan import Plan
from ci_deployer.engine.session import Session
from ci_deployer.error_handler import EXIT_CHANGES, EXIT_DRIFT, EXIT_OK
from ci_deployer.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_state_dir(parser)
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    _common.add_partial(parser)
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


@dataclass
class PlanOptions:
    """How to plan: against the live org or the snapshot (None: the env's ``planAgainst``), adoption,
    and whether a missing snapshot means "never deployed" (every document a create)."""

    against: str | None = None
    adopt: bool = False
    first_deployment: bool = False


def plan_env(session: Session, options: PlanOptions) -> Plan:
    """The plan of the session's env (the typed core the CLI and the action share)."""
    against = options.against or session.environment.plan_against
    return session.plan(against=against, adopt=options.adopt, first_deployment=options.first_deployment).plan


def exit_code(plan: Plan, drift_policy: str, detailed: bool) -> int:
    """DESIGN §3: drift under ``fail`` → 3 (also with changes); changes → 2 only when asked."""
    if plan.drift and drift_policy == "fail":
        return EXIT_DRIFT
    if plan.has_changes and detailed:
        return EXIT_CHANGES
    return EXIT_OK


def write_files(plan: Plan, out: Path | None, markdown: Path | None, *, raw_json: str | None = None) -> None:
    """``--out`` (the plan JSON) and ``--markdown`` (the same Markdown the PR comment shows).
    ``raw_json``: the plan's JSON text before redaction, when the caller made it already."""
    from ci_deployer.report import plan as report

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        text = plan.to_json() if raw_json is None else redact.redact(raw_json) + "\n"
        out.write_text(text, encoding="utf-8")
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report.render_markdown(plan), encoding="utf-8")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.engine.state import SnapshotFileState
    from ci_deployer.report import plan as report
    from ci_deployer.report.locations import config_prefix

    root = _common.config_dir(args)
    state = _common.state_backend(args, root)
    if args.snapshot is not None:
        state = SnapshotFileState(args.snapshot, state)
    with compose.open_session(settings, root, args.env, state=state, partial=_common.partial(args)) as session:
        against = "snapshot" if args.snapshot is not None else args.against
        plan = plan_env(session, PlanOptions(against=against, adopt=args.adopt))
        code = exit_code(plan, session.environment.drift, args.detailed_exitcode)
        # The plan JSON is written once when the file and the output show the same (10,000 resources: MBs)
        same = args.format == "json" and args.out is not None and code != EXIT_DRIFT
        raw = jsontext.dumps(plan.to_dict(), ensure_ascii=False) if same else None
        write_files(plan, args.out, args.markdown, raw_json=raw)
        if args.format == "json":
            if raw is None:
                data = plan.to_dict()
                if code == EXIT_DRIFT:
                    data["failure_reason"] = "drift"
                raw = jsontext.dumps(data, ensure_ascii=False)
            sys.stdout.write(raw + "\n")
        elif args.format == "github":
            sys.stdout.write(report.render_github(plan, prefix=config_prefix(root, settings.workspace)))
        else:
            sys.stdout.write(report.render_text(plan))
        return code
