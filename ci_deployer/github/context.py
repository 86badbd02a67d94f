"""Everything the action knows about its run, read once from an environment mapping.

The runner passes inputs as ``INPUT_<NAME>`` (upper-cased, spaces → ``_``, hyphens kept: the reason
the inputs are snake_case), the ``GITHUB_*`` allow-list, ``RUNNER_*`` and, for container actions,
``ACTIONS_RUNTIME_TOKEN`` / ``ACTIONS_RESULTS_URL`` (actions/runner ``ContainerActionHandler.cs``).
Every declared input reaches the container, defaults included.  Nothing here reads ``os.environ``:
the mapping is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    github_token: str
    plan_path: str
    comment: bool
    allow_deletes: bool
    ticket: str
    break_glass_reason: str
    snapshot: str
    artifacts_dir: str


@dataclass(frozen=True)
class PullRequestRef:
    """The pull request a run is about: number, head and base commits."""

    number: int
    head_sha: str
    base_sha: str
    head_repo: str
    base_repo: str

    @property
    def from_fork(self) -> bool:
        """A fork PR's token is read-only and gets no secrets (GitHub docs, "Events that trigger workflows")."""
        return bool(self.head_repo) and self.head_repo != self.base_repo


@dataclass(frozen=True)
class ActionContext:
    """Inputs, ``GITHUB_*`` variables and the event payload of one action run."""

    inputs: Inputs
    repository: str
    event_name: str
    event: Mapping[str, Any]
    sha: str
    ref: str
    run_id: str
    run_attempt: str
    job: str
    server_url: str
    api_url: str
    workspace: Path
    runner_temp: Path | None
    output_file: Path | None
    summary_file: Path | None
    runtime_token: str
    results_url: str
    retention_days: int | None
    actor: str
    pull_request: PullRequestRef | None
    dispatch_inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def in_actions(self) -> bool:
        """True when running inside a GitHub Actions job."""
        return bool(self.repository and self.run_id)

    @property
    def run_url(self) -> str:
        """Link to this workflow run (``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID``)."""
        if not self.in_actions:
            return ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def default_branch(self) -> str:
        """The repository's default branch, from the event payload (every event carries ``repository``)."""
        repo = self.event.get("repository")
        if isinstance(repo, Mapping):
            branch = repo.get("default_branch")
            if isinstance(branch, str) and branch:
                return branch
        return ""

    @property
    def head_sha(self) -> str:
        """The commit the run is about: a PR's head (``GITHUB_SHA`` is the test merge commit there)."""
        if self.pull_request is not None and self.pull_request.head_sha:
            return self.pull_request.head_sha
        return self.sha

    @property
    def on_default_branch(self) -> bool:
        """True for runs of the default branch itself (push, dispatch or schedule on it)."""
        return bool(self.default_branch) and self.ref == f"refs/heads/{self.default_branch}"

    def work_dir(self) -> Path:
        """Where the action writes its files: an explicit ``artifacts_dir`` (workspace-relative), else
        ``RUNNER_TEMP`` — never the workspace unless asked (files written there as root break the next
        checkout on self-hosted runners, actions/runner#434)."""
        if self.inputs.artifacts_dir:
            path = Path(self.inputs.artifacts_dir)
            return path if path.is_absolute() else self.workspace / path
        base = self.runner_temp if self.runner_temp is not None else Path.cwd() / ".ci-deployer" / "out"
        env = self.inputs.environment or "all"
        return base / "ci-deployer" / f"{env}-{self.inputs.command}-{self.run_id or 'local'}-{self.run_attempt}"


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
        github_token=_input(environ, "github_token"),
        plan_path=_input(environ, "plan_path"),
        comment=_bool_input(environ, "comment", True),
        allow_deletes=_bool_input(environ, "allow_deletes", False),
        ticket=_input(environ, "ticket"),
        break_glass_reason=_input(environ, "break_glass_reason"),
        snapshot=_input(environ, "snapshot"),
        artifacts_dir=_input(environ, "artifacts_dir"),
    )


def read_event(path: str) -> dict[str, Any]:
    """The webhook payload at ``GITHUB_EVENT_PATH`` (``{}`` when absent, e.g. outside Actions)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the event payload {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def pull_request_from_event(event_name: str, event: Mapping[str, Any]) -> PullRequestRef | None:
    """The PR of a ``pull_request``/``pull_request_target`` event: ``pull_request.head.sha`` is the
    commit under review (``GITHUB_SHA`` is the test merge commit, GitHub docs "Events")."""
    if not event_name.startswith("pull_request"):
        return None
    pr = event.get("pull_request")
    if not isinstance(pr, Mapping):
        return None
    number = pr.get("number", event.get("number"))
    if not isinstance(number, int):
        return None
    head = pr.get("head") if isinstance(pr.get("head"), Mapping) else {}
    base = pr.get("base") if isinstance(pr.get("base"), Mapping) else {}
    assert isinstance(head, Mapping) and isinstance(base, Mapping)

    def repo_name(side: Mapping[str, Any]) -> str:
        repo = side.get("repo")
        return _str(repo.get("full_name")) if isinstance(repo, Mapping) else ""

    return PullRequestRef(
        number=number,
        head_sha=_str(head.get("sha")),
        base_sha=_str(base.get("sha")),
        head_repo=repo_name(head),
        base_repo=repo_name(base),
    )


def from_environ(environ: Mapping[str, str]) -> ActionContext:
    """Build the context from an environment mapping (``os.environ`` in the container)."""
    inputs = read_inputs(environ)
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    event = read_event(environ.get("GITHUB_EVENT_PATH", ""))
    dispatch: dict[str, str] = {}
    if event_name == "workflow_dispatch" and isinstance(event.get("inputs"), Mapping):
        dispatch = {str(k): "" if v is None else str(v) for k, v in event["inputs"].items()}
    retention = environ.get("GITHUB_RETENTION_DAYS", "")
    runner_temp = environ.get("RUNNER_TEMP", "")
    output = environ.get("GITHUB_OUTPUT", "")
    summary = environ.get("GITHUB_STEP_SUMMARY", "")
    return ActionContext(
        inputs=inputs,
        repository=environ.get("GITHUB_REPOSITORY", ""),
        event_name=event_name,
        event=event,
        sha=environ.get("GITHUB_SHA", ""),
        ref=environ.get("GITHUB_REF", ""),
        run_id=environ.get("GITHUB_RUN_ID", ""),
        run_attempt=environ.get("GITHUB_RUN_ATTEMPT", "1") or "1",
        job=environ.get("GITHUB_JOB", ""),
        server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
        # GHES sets GITHUB_API_URL to https://HOST/api/v3; github.com to https://api.github.com.
        api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        workspace=Path(environ.get("GITHUB_WORKSPACE") or "."),
        runner_temp=Path(runner_temp) if runner_temp else None,
        output_file=Path(output) if output else None,
        summary_file=Path(summary) if summary else None,
        runtime_token=environ.get("ACTIONS_RUNTIME_TOKEN", ""),
        results_url=environ.get("ACTIONS_RESULTS_URL", ""),
        retention_days=int(retention) if retention.isdigit() else None,
        actor=environ.get("GITHUB_ACTOR", ""),
        pull_request=pull_request_from_event(event_name, event),
        dispatch_inputs=dispatch,
    )
