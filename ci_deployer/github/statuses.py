"""Commit statuses ``ci-deployer/plan (<env>)`` and ``ci-deployer/apply (<env>)``: what branch
protection can require.

``POST /repos/{o}/{r}/statuses/{sha}`` (``statuses: write``; states error, failure, pending,
success; description at most 140 characters; 1,000 statuses per sha and context — GitHub REST docs,
"Commit statuses").  A token without the permission (a fork PR's read-only token) is not fatal: the
caller warns and the report stays in the job summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_deployer.github.client import translated

if TYPE_CHECKING:
    from github.Repository import Repository

STATES = frozenset({"error", "failure", "pending", "success"})


def context_for(command: str, env: str) -> str:
    """``ci-deployer/plan (uat)``: one required check per command and environment."""
    return f"ci-deployer/{command} ({env})"


def set_status(repo: Repository, sha: str, *, command: str, env: str, state: str, description: str, url: str) -> None:
    """Record the outcome of ``command`` for ``env`` on commit ``sha``."""
    assert state in STATES, state
    with translated(f"set the commit status {context_for(command, env)}"):
        repo.get_commit(sha).create_status(
            state,
            target_url=url or _not_set(),
            description=description[:140],
            context=context_for(command, env),
        )


def _not_set() -> Any:
    from github.GithubObject import NotSet

    return NotSet
