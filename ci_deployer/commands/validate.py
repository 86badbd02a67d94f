"""`ci-deployer validate`: schemas, references, duplicates, names, templates, plaintext secrets and,
with ``--base REF``, backward compatibility of tool parameter schemas.

Findings are printed through a reporter (text, json, github) with paths relative to the workspace
(the working directory, or ``GITHUB_WORKSPACE`` in Actions); exit 1 when any is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ci_deployer.commands import _common
from ci_deployer.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    parser.add_argument(
        "--env",
        action="append",
        default=None,
        metavar="ENV",
        help="environment to validate (repeatable; default and `all`: every environment)",
    )
    _common.add_format(parser)
    parser.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="git ref to check tool parameter schemas against for breaking changes (e.g. main, origin/main)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer.validate import report, runner

    root: Path = _common.config_dir(args)
    envs = None if not args.env or "all" in args.env else list(args.env)
    result = runner.run(root, envs, args.base)
    findings = report.relocate(result.findings, root, settings.workspace)
    output = report.reporter(args.format)(findings, documents=result.documents, environments=result.environments)
    sys.stdout.write(output)
    return 0 if result.ok else 1
