"""The action's inputs (``action.yml``), read once from an environment mapping.

The runner passes inputs as ``INPUT_<NAME>`` (upper-cased, spaces → ``_``, hyphens kept: the reason
the inputs are snake_case); every declared input reaches the container, defaults included
(actions/runner ``ActionRunner.cs``).  The rest of the run (``GITHUB_*``, ``RUNNER_*``,
``ACTIONS_*``) is :class:`ci_deployer.settings.Settings`.  Nothing here reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ci_deployer.errors import ConfigError

COMMANDS = ("validate", "plan", "apply", "drift", "test", "gate", "rollback")
# Commands that act on one environment and therefore need `environment`.
ENV_COMMANDS = frozenset({"plan", "apply", "drift", "test", "gate", "rollback"})

# actions/toolkit getBooleanInput accepts exactly the YAML 1.2 core-schema spellings.
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")


@dataclass(frozen=True)
class Inputs:
    """The action's inputs (action.yml), typed."""

    command: str
    environment: str
    config_path: str
    plan_path: str
    comment: bool
    allow_deletes: bool
    ticket: str
    break_glass_reason: str
    snapshot: str
    artifacts_dir: str
    comment_author: str
    transient: bool | None = None  # test: None (the default) means "on pull requests"


def _bool_input(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(f"INPUT_{name.upper()}", "").strip()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"input `{name}` must be true or false, not {raw!r}",
        hint=f"write `{name}: true` or `{name}: false` in the step's `with:`",
    )


def _input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(f"INPUT_{name.upper()}", "").strip() or default


def read_inputs(environ: Mapping[str, str]) -> Inputs:
    """Read and check the action's inputs."""
    command = _input(environ, "command", "plan")
    if command not in COMMANDS:
        raise ConfigError(
            f"input `command` must be one of {', '.join(COMMANDS)}, not {command!r}",
            hint="set `command:` in the step's `with:`",
        )
    environment = _input(environ, "environment")
    if command in ENV_COMMANDS and not environment:
        raise ConfigError(
            f"command `{command}` needs the `environment` input",
            hint="set `environment: <name from environments.yaml>` in the step's `with:`",
        )
    return Inputs(
        command=command,
        environment=environment,
        config_path=_input(environ, "config_path"),
        plan_path=_input(environ, "plan_path"),
        comment=_bool_input(environ, "comment", True),
        allow_deletes=_bool_input(environ, "allow_deletes", False),
        ticket=_input(environ, "ticket"),
        break_glass_reason=_input(environ, "break_glass_reason"),
        snapshot=_input(environ, "snapshot"),
        artifacts_dir=_input(environ, "artifacts_dir"),
        comment_author=_input(environ, "comment_author", "github-actions[bot]"),
        transient=_bool_input(environ, "transient", False) if _input(environ, "transient") else None,
    )
