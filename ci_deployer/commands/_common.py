"""Arguments shared by several commands, and how they become collaborators."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_deployer.compose import Partial
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
    if args.config is not None:
        return args.config  # type: ignore[no-any-return]
    from ci_deployer.compose import default_config_dir  # the engine's imports: not for validate --config

    return default_config_dir()


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


def add_partial(parser: argparse.ArgumentParser) -> None:
    """``--only`` and ``--changed-since``: plan (or apply) a part of the config."""
    group = parser.add_argument_group("partial plans (what a change touched)")
    group.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KIND/SLUG",
        help="only these documents (repeatable, or comma-separated; e.g. tool/jira): the plan says it is partial",
    )
    group.add_argument(
        "--changed-since",
        default=None,
        metavar="REF",
        help="only the documents changed since git REF (edited, added, deleted, renamed, or including a changed "
        "file) and those that reference them or that they reference",
    )


def partial(args: argparse.Namespace) -> Partial | None:
    """The partial plan asked for by :func:`add_partial`'s options (None: the whole config)."""
    from ci_deployer.compose import Partial

    asked = Partial(tuple(args.only), args.changed_since)
    return asked if asked.asked else None
