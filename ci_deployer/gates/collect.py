"""Gathering :class:`GateInputs` from what the edge hands in: config, state, secrets, GitHub.

Pure but for the GitHub adapter it is given (the approvals evidence is read through it): the
composition root (:mod:`ci_deployer.compose`) passes the clock's ``now``, who dispatched the run,
which placeholders resolve, the validation verdict, a snapshot reader and the config's path prefix
in its git work tree.  Nothing here reads the environment or runs git.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ci_deployer.config.model import ConfigRepo, RenderedResource
from ci_deployer.gates.evaluate import GateInputs

if TYPE_CHECKING:
    from ci_deployer.github.client import GitHubSource

# env name → that env's latest snapshot as docs/formats.md JSON (None: nothing applied)
SnapshotReader = Callable[[str], "dict[str, Any] | None"]
# env name → that env's latest test results record (None: tests never ran); raises DeployerError
# when a record exists but cannot be read
TestsReader = Callable[[str], "dict[str, Any] | None"]


def collect_inputs(
    repo: ConfigRepo,
    env: str,
    now: datetime,
    *,
    sha: str | None,
    validation: tuple[bool, str],
    dispatcher: str | None,
    secrets_resolvable: dict[str, bool],
    read_snapshot: SnapshotReader,
    github: GitHubSource | None,
    config_prefix: str = "",
    ticket: str | None = None,
    break_glass_reason: str | None = None,
    attestations: Iterable[str] = (),
    plan_hash: str | None = None,
    reviewed_plan_hash: str | None = None,
    backup_exists: bool | None = None,
    rollback_of_known_snapshot: bool = False,
    read_tests: TestsReader | None = None,
    rendered: list[RenderedResource] | None = None,
    logical: str | None = None,
) -> GateInputs:
    """Every piece of evidence for ``env`` that can be gathered here.

    ``rendered`` and ``logical``: the env's rendered resources and logical spec hash when the
    caller has them (the session's: the config is not rendered a second time)."""
    from ci_deployer.config.behaviour import tests_defined
    from ci_deployer.config.render import logical_specs, render_env
    from ci_deployer.errors import DeployerError
    from ci_deployer.gates import github_evidence
    from ci_deployer.gates.approvals import is_team
    from ci_deployer.gates.promotion import logical_hash

    environment = repo.environments[env]
    validated, validation_evidence = validation
    if rendered is None:
        rendered, _ = render_env(repo, env)  # render problems are validation findings already
    inputs = GateInputs(
        now=now,
        dispatcher=dispatcher,
        ticket_input=ticket,
        break_glass_reason=break_glass_reason,
        plan_hash=plan_hash,
        reviewed_plan_hash=reviewed_plan_hash,
        validated=validated,
        validation_evidence=validation_evidence,
        secrets_resolvable=secrets_resolvable,
        backup_exists=backup_exists,
        logical_hash=logical if logical is not None else logical_hash(logical_specs(repo, env)),
        rollback_of_known_snapshot=rollback_of_known_snapshot,
        desired=rendered,
        attestations=set(attestations),
    )
    if environment.promotes_from:
        upstream = environment.promotes_from
        inputs.upstream_snapshot = read_snapshot(upstream)
        inputs.tests_defined = tests_defined(repo, upstream)
        if read_tests is not None and inputs.tests_defined:
            try:
                inputs.upstream_tests = read_tests(upstream)
            except DeployerError as error:
                inputs.upstream_tests_error = error.message
    protection = environment.protection
    if protection is None or protection.required_approvals <= 0:
        return inputs
    if github is None:
        return inputs  # approvals stay pending: "no GitHub context"
    if not sha:
        inputs.no_github_reason = "no commit sha known: pass --sha or run inside a git checkout"
        return inputs
    own = read_snapshot(env)
    base = str(own["sha"]) if own and own.get("sha") else None
    inputs.prs = github_evidence.merged_pull_requests(github.repo, base, sha, config_prefix)
    if any(is_team(r) for r in protection.reviewers):
        logins = github_evidence.approving_logins(inputs.prs)
        inputs.team_members, inputs.team_lookup_error = github_evidence.resolve_teams(
            github.client, protection.reviewers, logins
        )
    return inputs
