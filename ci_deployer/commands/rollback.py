"""`ci-deployer rollback`: plan and apply the org back to a recorded snapshot.

Secrets are re-resolved from the placeholders the snapshot recorded; changes made outside
ci-deployer since are overwritten (that is the point of a rollback).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ci_deployer.commands import _common
from ci_deployer.commands.apply import add_apply_options, confirm_or_refuse, gate_check, print_result, progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    parser.add_argument(
        "--snapshot", type=Path, required=True, metavar="FILE", help="snapshot-after.json or backup-before.json"
    )
    add_apply_options(parser)


def run(args: argparse.Namespace) -> int:
    from ci_deployer.engine.compose import open_session
    from ci_deployer.engine.operations import ApplyOptions, rollback

    with open_session(_common.config_dir(args), args.env, os.environ, state=_common.state_backend(args)) as session:
        confirm_or_refuse(args, None)
        out_dir = args.out_dir or session.runs_dir()
        options = ApplyOptions(
            out_dir=out_dir,
            allow_deletes=args.allow_deletes,
            adopt=args.adopt,
            overwrite_drift=True,
            # a snapshot this env already ran skips promotesFrom, never approvals (DESIGN §6)
            pre_write_check=gate_check(session, args, out_dir, None, rollback=True),
            progress=progress,
        )
        result = rollback(session, args.snapshot, options)
        print_result(result, args.format, out_dir)
        return 0
