"""Each apply recorded as a GitHub Deployment: environment, commit and a final status.

``POST /repos/{o}/{r}/deployments`` then ``…/deployments/{id}/statuses`` (needs ``deployments: write``).
``required_contexts=[]`` skips the commit-status check (the run already passed its own checks) and
``auto_merge=False`` keeps GitHub from merging the default branch into the ref.  The deployment's
``task`` is ``deploy:ci-deployer`` so it is told apart from the one GitHub creates for a job with
``environment:``.  A token without the permission is not fatal: the apply stands, a warning says the
record is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_deployer.github.client import translated

if TYPE_CHECKING:
    from github.Deployment import Deployment
    from github.Repository import Repository

TASK = "deploy:ci-deployer"
STATES = frozenset({"error", "failure", "inactive", "in_progress", "queued", "pending", "success"})


@dataclass
class DeploymentRecord:
    """A started deployment; :meth:`finish` gives it its final state."""

    deployment: Deployment
    env: str
    log_url: str

    def finish(self, state: str, description: str) -> None:
        """Record the outcome (``success`` / ``failure`` / ``error``)."""
        assert state in STATES, state
        with translated(f"record deployment status {state}"):
            self.deployment.create_status(
                state,
                # target_url: the API's older name of `log_url` (the link to the run); PyGithub has no log_url.
                target_url=self.log_url or _NOT_SET(),
                description=description[:140],  # GitHub: description is at most 140 characters
                environment=self.env,
                auto_inactive=True,
            )


def _NOT_SET() -> Any:
    from github.GithubObject import NotSet

    return NotSet


def start(
    repo: Repository,
    *,
    env: str,
    sha: str,
    log_url: str,
    description: str,
    payload: dict[str, Any],
    production: bool,
) -> DeploymentRecord:
    """Create the deployment for ``sha`` in ``env`` and mark it in progress."""
    with translated(f"create a deployment to {env}"):
        deployment = repo.create_deployment(
            ref=sha,
            task=TASK,
            auto_merge=False,
            required_contexts=[],
            payload=payload,
            environment=env,
            description=description[:140],
            transient_environment=False,
            production_environment=production,
        )
    record = DeploymentRecord(deployment=deployment, env=env, log_url=log_url)
    record.finish("in_progress", description)
    return record


def ever_succeeded(repo: Repository, env: str) -> bool:
    """Whether ci-deployer ever recorded a successful apply to ``env`` (its Deployment history):
    what tells "never deployed" from "state lost" when no snapshot can be read."""
    with translated(f"list the deployments of {env}"):
        for deployment in repo.get_deployments(task=TASK, environment=env):
            if any(status.state == "success" for status in deployment.get_statuses()):
                return True
    return False
