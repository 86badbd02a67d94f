"""Gathering :class:`GateInputs` at the edge: config, state, local git and (in CI) GitHub.

Used by ``ci-deployer gate`` and meant for apply's pre-write check (which passes the plan hash, the
reviewed hash and ``backup_exists=True`` once its before-snapshot is saved).  ``environ`` and
``now`` are passed in; nothing is read at import time.

The env's state is read by :func:`read_latest_snapshot` only (one function, so it can be swapped
for the engine's artifact-backed state backend): ``<config>/.ci-deployer/state/<env>/``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer.config.model import ConfigRepo, Environment, RenderedResource
from ci_deployer.gates.evaluate import GateInputs

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

    from ci_deployer.github.client import ClientOptions

SnapshotReader = Callable[[Path, str], "dict[str, Any] | None"]
DEFAULT_API_URL = "https://api.github.com"


def read_latest_snapshot(root: Path, env: str) -> dict[str, Any] | None:
    """The env's latest snapshot as docs/formats.md JSON, or ``None`` when nothing was applied."""
    from ci_deployer.engine.compose import STATE_DIR
    from ci_deployer.engine.state import LocalStateBackend

    snapshot = LocalStateBackend(root.joinpath(*STATE_DIR)).latest(env)
    return snapshot.to_dict() if snapshot is not None else None


def snapshot_reader(state_root: Path | None) -> SnapshotReader:
    """A reader for ``--state-dir`` (``<state_root>/<env>/snapshot.json``), or the default one."""
    if state_root is None:
        return read_latest_snapshot

    def read(root: Path, env: str) -> dict[str, Any] | None:
        from ci_deployer.engine.state import LocalStateBackend

        snapshot = LocalStateBackend(state_root).latest(env)
        return snapshot.to_dict() if snapshot is not None else None

    return read


@dataclass
class GitHubSource:
    """A PyGithub client and the repository the config lives in."""

    client: Github
    repo: Repository


def github_source(environ: Mapping[str, str], options: ClientOptions | None = None) -> GitHubSource | None:
    """A client when ``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY`` are set (base URL from ``GITHUB_API_URL``)."""
    token, repository = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_REPOSITORY")
    if not token or not repository:
        return None
    from ci_deployer.github.client import connect

    client = connect(token, environ.get("GITHUB_API_URL") or DEFAULT_API_URL, options)
    return GitHubSource(client, client.get_repo(repository))  # lazy: the client is built lazy


def dispatcher_of(environ: Mapping[str, str]) -> str | None:
    """Who dispatched this run (``workflow_dispatch`` only: on a push the actor merely merged)."""
    if environ.get("GITHUB_EVENT_NAME") != "workflow_dispatch":
        return None
    return environ.get("GITHUB_TRIGGERING_ACTOR") or environ.get("GITHUB_ACTOR") or None


def git_prefix(root: Path) -> str:
    """The config root relative to its git work tree, with a trailing slash (``""`` at the top)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-prefix"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def secret_status(
    environment: Environment, resources: list[RenderedResource], environ: Mapping[str, str]
) -> dict[str, bool]:
    """REF → whether it resolves here, for every placeholder of the env (values are never kept)."""
    from ci_deployer.config.secrets import EnvSecretResolver, find_placeholders, resolve_credential

    resolver = EnvSecretResolver(environ, environment)  # placeholders: the env's secrets boundary
    status = {ref.ref: resolver.resolve(ref.ref) is not None for res in resources for ref in res.secrets}
    if environment.api_token:  # the API token is the deployer's own credential: outside the boundary
        refs = [ref for ref, _, _ in find_placeholders(environment.api_token)]
        status |= {ref: resolve_credential(resolver, ref) is not None for ref in refs}
    return dict(sorted(status.items()))


def _validation(root: Path, env: str) -> tuple[bool, str]:
    from ci_deployer.validate.runner import validate_repo

    findings = validate_repo(root, [env])
    errors = [f for f in findings if f.level == "error"]
    if not errors:
        warnings = len(findings)
        return True, "validate: no errors" + (f", {warnings} warning(s)" if warnings else "")
    first = errors[0]
    return False, f"validate: {len(errors)} error(s), first {first.location()}: {first.message}"


def collect_inputs(
    root: Path,
    repo: ConfigRepo,
    env: str,
    environ: Mapping[str, str],
    now: datetime,
    *,
    sha: str | None = None,
    ticket: str | None = None,
    break_glass_reason: str | None = None,
    attestations: Iterable[str] = (),
    plan_hash: str | None = None,
    reviewed_plan_hash: str | None = None,
    backup_exists: bool | None = None,
    rollback_of_known_snapshot: bool = False,
    upstream_tests_passed: bool | None = None,
    validation: tuple[bool, str] | None = None,
    github: GitHubSource | None = None,
    read_snapshot: SnapshotReader = read_latest_snapshot,
) -> GateInputs:
    """Every piece of evidence for ``env`` that can be gathered here."""
    from ci_deployer.config.render import logical_specs, render_env
    from ci_deployer.gates import github_evidence
    from ci_deployer.gates.approvals import is_team
    from ci_deployer.gates.promotion import logical_hash

    environment = repo.environments[env]
    # Apply has validated already and passes its verdict; the `gate` command validates here.
    validated, validation_evidence = validation if validation is not None else _validation(root, env)
    resources, _ = render_env(repo, env)  # render problems are validation findings already
    inputs = GateInputs(
        now=now,
        dispatcher=dispatcher_of(environ),
        ticket_input=ticket,
        break_glass_reason=break_glass_reason,
        plan_hash=plan_hash,
        reviewed_plan_hash=reviewed_plan_hash,
        validated=validated,
        validation_evidence=validation_evidence,
        secrets_resolvable=secret_status(environment, resources, environ),
        backup_exists=backup_exists,
        logical_hash=logical_hash(logical_specs(repo, env)),
        upstream_tests_passed=upstream_tests_passed,
        rollback_of_known_snapshot=rollback_of_known_snapshot,
        desired=resources,
        attestations=set(attestations),
    )
    if environment.promotes_from:
        inputs.upstream_snapshot = read_snapshot(root, environment.promotes_from)
    protection = environment.protection
    if protection is None or protection.required_approvals <= 0:
        return inputs
    if github is None:
        return inputs  # approvals stay pending: "no GitHub context"
    if not sha:
        inputs.no_github_reason = "no commit sha known: pass --sha or run inside a git checkout"
        return inputs
    own = read_snapshot(root, env)
    base = str(own["sha"]) if own and own.get("sha") else None
    inputs.prs = github_evidence.merged_pull_requests(github.repo, base, sha, git_prefix(root))
    if any(is_team(r) for r in protection.reviewers):
        logins = github_evidence.approving_logins(inputs.prs)
        inputs.team_members, inputs.team_lookup_error = github_evidence.resolve_teams(
            github.client, protection.reviewers, logins
        )
    return inputs
