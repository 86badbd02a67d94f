"""Arguments shared by several commands, and how they become collaborators."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci_deployer.engine.state import StateBackend

FORMATS = ("text", "json", "github")


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="DIR",
        help="config repository root holding environments.yaml (default: ./platform, else .)",
    )


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output format: text (default), json (stable, documented), github (workflow annotations)",
    )


def add_env(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--env", required=required, metavar="ENV", help="environment name from environments.yaml")


def config_dir(args: argparse.Namespace) -> Path:
    from ci_deployer.compose import default_config_dir

    return args.config if args.config is not None else default_config_dir()


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding each env's state (<DIR>/<env>/snapshot.json); default: <config>/.ci-deployer/state "
        "(the GitHub Action seeds it from the newest default-branch apply artifact)",
    )


def state_backend(args: argparse.Namespace, root: Path) -> StateBackend:
    """The local state on ``--state-dir`` or the default folder under the config root."""
    from ci_deployer.compose import local_state

    return local_state(root, getattr(args, "state_dir", None))
