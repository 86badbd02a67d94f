"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("text", "json", "github")


def default_config_dir() -> Path:
    """DESIGN §2: ``--config`` defaults to ./platform when it exists, else the current folder."""
    platform = Path("platform")
    return platform if (platform / "environments.yaml").exists() else Path()


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


def state_root(args: argparse.Namespace) -> Path | None:
    """The ``--state-dir`` given, or None for the default under the config root."""
    value = getattr(args, "state_dir", None)
    return value if isinstance(value, Path) else None


def state_backend(args: argparse.Namespace) -> Any:
    """A local state backend on ``--state-dir``, or None (the session's default)."""
    root = state_root(args)
    if root is None:
        return None
    from ci_deployer.engine.state import LocalStateBackend

    return LocalStateBackend(root)
