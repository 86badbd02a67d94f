"""`ci-deployer validate`: schemas, references, duplicates, names, templates, plaintext secrets and,
with ``--base REF``, backward compatibility of tool parameter schemas; with ``--check-secrets``,
every ``secrets://`` placeholder of the env resolved now (env variables, files, secret managers).

Findings are printed through a reporter (text, json, github) with paths relative to the workspace
(the working directory, or ``GITHUB_WORKSPACE`` in Actions); exit 1 when any is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ci_deployer.commands import _common
from ci_deployer.settings import Settings

if TYPE_CHECKING:
    from ci_deployer.config.model import ConfigRepo
    from ci_deployer.findings import Finding


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
    parser.add_argument(
        "--check-secrets",
        action="store_true",
        help="also resolve every secrets:// placeholder of the environment(s) now, with this run's identities "
        "(variables, files, Vault/AWS/GCP), and report those that cannot be resolved; values are never shown",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer.validate import report, runner

    root: Path = _common.config_dir(args)
    envs = None if not args.env or "all" in args.env else list(args.env)
    from ci_deployer import compose

    result = runner.run(root, envs, args.base, cache=compose.parse_cache(settings, root))
    if args.check_secrets and result.repo is not None:
        result.findings = report.sorted_findings([*result.findings, *_unresolved(result.repo, envs, settings)])
    findings = report.relocate(result.findings, root, settings.workspace)
    output = report.reporter(args.format)(findings, documents=result.documents, environments=result.environments)
    sys.stdout.write(output)
    return 0 if result.ok else 1


def _unresolved(repo: ConfigRepo, envs: list[str] | None, settings: Settings) -> list[Finding]:
    """Findings for the placeholders of ``envs`` (None: all) that do not resolve here, through the
    resolver plan and apply use (the composition root's: env-bound, masking every value it reads)."""
    from ci_deployer import compose
    from ci_deployer.config import render
    from ci_deployer.validate import secret_check

    findings: list[Finding] = []
    for name in envs if envs is not None else list(repo.environments):
        environment = repo.environments.get(name)
        if environment is None:
            continue  # reported by validate (E-ENV-UNKNOWN)
        resources, _ = render.render_env(repo, name)
        findings += secret_check.check_env(environment, resources, compose.secret_resolver(settings, environment))
    return findings
