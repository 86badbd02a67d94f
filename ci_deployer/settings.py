"""Everything ci-deployer reads from its process environment, read once into a typed object.

The CLI and the action build one :class:`Settings` at their entry point (``Settings.from_environ``)
and hand it to the composition root (:mod:`ci_deployer.compose`); no other module reads
``os.environ``.  In the action the GitHub token is the ``github_token`` input (``INPUT_GITHUB_TOKEN``:
the runner passes inputs, not ``GITHUB_TOKEN``, to a container action); on the CLI it is
``GITHUB_TOKEN``.  The runner's variables (``GITHUB_*``, ``RUNNER_*``, ``ACTIONS_*``) are listed in
``../shared/reference/github-actions.md`` §1.2.

``environ`` is kept for one purpose only: resolving ``secrets://NAME`` placeholders of the config
(through the resolver the composition root builds, inside the boundary the env allows).  The
credentials of the secret managers behind ``secrets://vault|aws|gcp/…`` (the GitHub OIDC request
variables, ``VAULT_TOKEN``, ``AWS_*``, ``GOOGLE_*``) are the deployer's own: they are read here into
:class:`CloudCredentials`, never through placeholders (``config/secrets.py`` denies them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_deployer.errors import ConfigError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"


@dataclass(frozen=True)
class PullRequestRef:
    """The pull request a run is about: number, head and base commits and repositories."""

    number: int
    head_sha: str
    base_sha: str
    head_repo: str
    base_repo: str
    head_ref: str = ""
    author: str = ""

    @property
    def from_fork(self) -> bool:
        """A fork PR's token is read-only and gets no secrets (GitHub docs, "Events that trigger workflows")."""
        return bool(self.head_repo) and self.head_repo != self.base_repo


@dataclass(frozen=True)
class CloudCredentials:
    """The identities the secret managers accept (``ci_deployer.secrets``), as the runner or a
    developer's shell provides them.  Every value is a credential: never printed, never stored."""

    # GitHub OIDC (../shared/reference/github-actions.md §1.2): set only in jobs with
    # `permissions: id-token: write`; the token is requested per audience.
    oidc_request_url: str = field(repr=False, default="")
    oidc_request_token: str = field(repr=False, default="")
    vault_token: str = field(repr=False, default="")  # VAULT_TOKEN (BAO_TOKEN for OpenBao's CLI)
    aws_access_key_id: str = field(repr=False, default="")
    aws_secret_access_key: str = field(repr=False, default="")
    aws_session_token: str = field(repr=False, default="")
    aws_profile: str = ""
    google_access_token: str = field(repr=False, default="")  # GOOGLE_OAUTH_ACCESS_TOKEN, as gcloud and Terraform
    google_credentials_file: str = ""  # GOOGLE_APPLICATION_CREDENTIALS (application-default credentials)

    @property
    def oidc(self) -> bool:
        """Whether a GitHub OIDC token can be requested here."""
        return bool(self.oidc_request_url and self.oidc_request_token)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CloudCredentials:
        return cls(
            oidc_request_url=environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", ""),
            oidc_request_token=environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""),
            vault_token=(environ.get("VAULT_TOKEN") or environ.get("BAO_TOKEN") or "").strip(),
            aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID", ""),
            aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY", ""),
            aws_session_token=environ.get("AWS_SESSION_TOKEN", ""),
            aws_profile=environ.get("AWS_PROFILE", ""),
            google_access_token=environ.get("GOOGLE_OAUTH_ACCESS_TOKEN", "").strip(),
            google_credentials_file=environ.get("GOOGLE_APPLICATION_CREDENTIALS", ""),
        )


@dataclass(frozen=True)
class Settings:
    """The process environment of one run, typed (CLI or action)."""

    environ: Mapping[str, str] = field(repr=False, default_factory=dict)
    github_token: str = field(repr=False, default="")
    repository: str = ""
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    event_name: str = ""
    event: Mapping[str, Any] = field(default_factory=dict)
    sha: str = ""
    ref: str = ""
    actor: str = ""
    triggering_actor: str = ""
    run_id: str = ""
    run_attempt: str = "1"
    job: str = ""
    workspace: Path = Path()
    runner_temp: Path | None = None
    runtime_token: str = field(repr=False, default="")
    results_url: str = ""
    retention_days: int | None = None
    in_actions: bool = False
    ci: bool = False  # CI=true: a CI system's log, never an interactive terminal
    pull_request: PullRequestRef | None = None
    dispatch_inputs: Mapping[str, str] = field(default_factory=dict)
    cloud: CloudCredentials = field(repr=False, default_factory=CloudCredentials)
    cache_dir: Path | None = None  # parsed config files kept between runs (config/parsecache.py); None: off

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping (``os.environ`` at an entry point)."""
        event_name = environ.get("GITHUB_EVENT_NAME", "")
        event = read_event(environ.get("GITHUB_EVENT_PATH", ""))
        dispatch: dict[str, str] = {}
        if event_name == "workflow_dispatch" and isinstance(event.get("inputs"), Mapping):
            dispatch = {str(k): "" if v is None else str(v) for k, v in event["inputs"].items()}
        retention = environ.get("GITHUB_RETENTION_DAYS", "")
        runner_temp = environ.get("RUNNER_TEMP", "")
        return cls(
            environ=environ,
            # The action gets its token as an input; GITHUB_TOKEN is not passed to containers.
            github_token=(environ.get("INPUT_GITHUB_TOKEN") or environ.get("GITHUB_TOKEN") or "").strip(),
            repository=environ.get("GITHUB_REPOSITORY", ""),
            # GHES sets GITHUB_API_URL to https://HOST/api/v3; github.com to https://api.github.com.
            api_url=(environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(environ.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            event_name=event_name,
            event=event,
            sha=environ.get("GITHUB_SHA", ""),
            ref=environ.get("GITHUB_REF", ""),
            actor=environ.get("GITHUB_ACTOR", ""),
            triggering_actor=environ.get("GITHUB_TRIGGERING_ACTOR", ""),
            run_id=environ.get("GITHUB_RUN_ID", ""),
            run_attempt=environ.get("GITHUB_RUN_ATTEMPT", "1") or "1",
            job=environ.get("GITHUB_JOB", ""),
            workspace=Path(environ.get("GITHUB_WORKSPACE") or "."),
            runner_temp=Path(runner_temp) if runner_temp else None,
            runtime_token=environ.get("ACTIONS_RUNTIME_TOKEN", ""),
            results_url=environ.get("ACTIONS_RESULTS_URL", ""),
            retention_days=int(retention) if retention.isdigit() else None,
            in_actions=environ.get("GITHUB_ACTIONS") == "true" and bool(environ.get("GITHUB_RUN_ID")),
            ci=environ.get("CI", "").lower() in ("true", "1") or environ.get("GITHUB_ACTIONS") == "true",
            pull_request=pull_request_from_event(event_name, event),
            dispatch_inputs=dispatch,
            cloud=CloudCredentials.from_environ(environ),
            cache_dir=cache_dir(environ),
        )

    @property
    def run_url(self) -> str:
        """Link to this workflow run (``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID``)."""
        if not (self.repository and self.run_id):
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

    @property
    def dispatcher(self) -> str | None:
        """Who dispatched this run (``workflow_dispatch`` only: on a push the actor merely merged)."""
        if self.event_name != "workflow_dispatch":
            return None
        return self.triggering_actor or self.actor or None

    @property
    def read_only_token(self) -> bool:
        """A fork PR's workflow token can write nothing (no comment, no status)."""
        return self.pull_request is not None and self.pull_request.from_fork


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """ci-deployer's cache folder: ``CI_DEPLOYER_CACHE_DIR`` (``off``: none), else
    ``$XDG_CACHE_HOME/ci-deployer``, else ``~/.cache/ci-deployer`` (None without ``HOME``)."""
    chosen = environ.get("CI_DEPLOYER_CACHE_DIR", "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = environ.get("XDG_CACHE_HOME", "").strip() or (
        str(Path(environ["HOME"], ".cache")) if environ.get("HOME") else ""
    )
    return Path(base, "ci-deployer") if base else None


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
    user = pr.get("user") if isinstance(pr.get("user"), Mapping) else {}
    assert isinstance(head, Mapping) and isinstance(base, Mapping) and isinstance(user, Mapping)

    def repo_name(side: Mapping[str, Any]) -> str:
        repo = side.get("repo")
        return _str(repo.get("full_name")) if isinstance(repo, Mapping) else ""

    return PullRequestRef(
        number=number,
        head_sha=_str(head.get("sha")),
        base_sha=_str(base.get("sha")),
        head_repo=repo_name(head),
        base_repo=repo_name(base),
        head_ref=_str(head.get("ref")),
        author=_str(user.get("login")),
    )
