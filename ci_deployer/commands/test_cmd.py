"""`ci-deployer test` (not built yet: see the README's status section)."""

from __future__ import annotations

import argparse

from ci_deployer.commands import _common
from ci_deployer.errors import DeployerError
from ci_deployer.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser, required=False)
    _common.add_format(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise DeployerError(
        "`ci-deployer test` is not available in this version yet",
        hint="see the README's status section for what this version can do",
    )
