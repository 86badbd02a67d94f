"""`ci-deployer rollback`: plan and apply the org back to a recorded snapshot.

Secrets are re-resolved from the placeholders the snapshot recorded; changes made outside
ci-deployer since are overwritten (that is the point of a rollback).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ci_deployer.commands import _common
from ci_deployer.commands.apply import add_apply_options, confirm_or_refuse, gate_request, print_result
from ci_deployer.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    parser.add_argument(
        "--snapshot", type=Path, required=True, metavar="FILE", help="snapshot-after.json or backup-before.json"
    )
    add_apply_options(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.engine.operations import ApplyOptions, rollback
    from ci_deployer.gates.hook import report_writer
    from ci_deployer.interrupts import cancellable
    from ci_deployer.progress import for_terminal

    root = _common.config_dir(args)
    with compose.open_session(settings, root, args.env, state=_common.state_backend(args, root)) as session:
        confirm_or_refuse(args, None)
        out_dir = args.out_dir or compose.runs_dir(root, session.env)
        with cancellable() as cancel:
            options = ApplyOptions(
                out_dir=out_dir,
                allow_deletes=args.allow_deletes,
                adopt=args.adopt,
                overwrite_drift=True,
                # a snapshot this env already ran skips promotesFrom, never approvals (DESIGN §6)
                pre_write_check=compose.pre_write_check(
                    session,
                    settings,
                    root,
                    gate_request(args, out_dir, None, rollback=True),
                    github=compose.github_source(settings),
                    record=report_writer(out_dir),
                ),
                progress=for_terminal(ci=settings.ci),
                cancel=cancel,
            )
            result = rollback(session, args.snapshot, options)
        print_result(result, args.format, out_dir)
        return 0
