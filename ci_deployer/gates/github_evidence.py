"""Gathering the approvals evidence from GitHub with PyGithub (the only I/O of the gates).

- PRs: ``repo.compare(base, head).commits`` → ``commit.get_pulls()``, keeping PRs that are merged
  and whose merge commit is in that range (so a PR merged elsewhere that merely contains a commit is
  not counted), each once.  Without a ``base`` (nothing applied yet) only the PRs of ``head`` are.
- Per PR: ``pr.get_reviews()`` (chronological), ``pr.get_commits()`` (their authors and committers),
  and for every approval on an older commit, ``repo.compare(commit, pr_head)``: the config "did not
  change since" when that comparison is ``ahead``/``identical`` and touches no file under the config
  path prefix (a force-push that dropped the reviewed commit counts as a change).
- Teams: ``org.get_team_by_slug(slug)`` must be readable (403/404 → a clear message naming the
  permission, and the team is left unresolved); then ``get_team_membership(login)`` for the logins
  that approved (404: not a member; only ``active`` memberships count).

PyGithub errors are translated here into :class:`~ci_deployer.errors.GitHubError` (via
:func:`ci_deployer.github.client.translated`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ci_deployer.gates.approvals import APPROVED, PullRequestEvidence, Review, is_team, latest_opinions
from ci_deployer.github.client import translated

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository


def team_permission_message(team: str) -> str:
    """What to tell the user when ``team``'s members cannot be read."""
    return (
        f"token cannot read org membership of {team}: grant `members: read` "
        "(GitHub App or fine-grained PAT) or list users explicitly"
    )


def _login(user: Any) -> str | None:
    return user.login if user is not None else None


def _config_unchanged(repo: Repository, since: str, head: str, prefix: str) -> bool:
    with translated(f"compare {since[:7]}...{head[:7]}"):
        comparison = repo.compare(since, head)
        if comparison.status not in ("ahead", "identical"):
            return False
        names = [(f.filename, f.previous_filename) for f in comparison.files]
    return not any(name is not None and (not prefix or name.startswith(prefix)) for pair in names for name in pair)


def pull_request_evidence(repo: Repository, pr: Any, config_prefix: str) -> PullRequestEvidence:
    """Everything the gates need about one PR (``pr`` is a PyGithub ``PullRequest``)."""
    with translated(f"read PR #{pr.number}"):
        reviews = [
            Review(user=r.user.login, state=r.state, commit_id=r.commit_id or "", submitted_at=r.submitted_at)
            for r in pr.get_reviews()
            if r.user is not None and r.submitted_at is not None
        ]
        committers: list[str] = []
        for commit in pr.get_commits():
            for login in (_login(commit.author), _login(commit.committer)):
                if login and login not in committers:
                    committers.append(login)
        evidence = PullRequestEvidence(
            number=pr.number,
            title=pr.title or "",
            body=pr.body or "",
            branch=pr.head.ref,
            author=pr.user.login if pr.user is not None else "",
            head_sha=pr.head.sha,
            committers=committers,
            reviews=reviews,
        )
    stale = {
        r.commit_id
        for r in latest_opinions(reviews).values()
        if r.state.upper() == APPROVED and r.commit_id and r.commit_id != evidence.head_sha
    }
    evidence.unchanged_since = {
        c for c in sorted(stale) if _config_unchanged(repo, c, evidence.head_sha, config_prefix)
    }
    return evidence


def merged_pull_requests(
    repo: Repository, base: str | None, head: str, config_prefix: str
) -> list[PullRequestEvidence]:
    """The PRs merged between ``base`` (the env's last applied sha; ``None``: none) and ``head``."""
    with translated(f"list commits {base[:7] if base else '(start)'}...{head[:7]}"):
        shas = [c.sha for c in repo.compare(base, head).commits] if base else [head]
        range_shas = set(shas) | {head}
        found: dict[int, Any] = {}
        for sha in shas:
            for pr in repo.get_commit(sha).get_pulls():
                if pr.number in found or pr.merged_at is None or pr.merge_commit_sha not in range_shas:
                    continue
                found[pr.number] = pr
    return [pull_request_evidence(repo, found[n], config_prefix) for n in sorted(found)]


def resolve_teams(gh: Github, reviewers: list[str], logins: Iterable[str]) -> tuple[dict[str, set[str]], str | None]:
    """``"@org/team"`` → the ``logins`` that are active members, for each readable listed team.

    Returns the mapping (unreadable teams left out) and a message naming the missing permission
    when any team could not be read.  Other GitHub failures raise :class:`GitHubError`.
    """
    from github import GithubException

    members: dict[str, set[str]] = {}
    problems: list[str] = []
    wanted = sorted(set(logins))
    for team_name in (r for r in reviewers if is_team(r)):
        org_name, _, slug = team_name[1:].partition("/")
        team = gh.get_organization(org_name).get_team_by_slug(slug)
        try:
            team.id  # noqa: B018 - completing the lazy object is the readability check
        except GithubException as exc:
            if exc.status in (401, 403, 404):
                problems.append(team_permission_message(team_name))
                continue
            with translated(f"read team {team_name}"):
                raise
        found: set[str] = set()
        for login in wanted:
            try:
                membership = team.get_team_membership(login)
            except GithubException as exc:
                if exc.status == 404:
                    continue
                with translated(f"read membership of {login} in {team_name}"):
                    raise
            if membership.state == "active":
                found.add(login)
        members[team_name] = found
    return members, "; ".join(problems) or None


def approving_logins(prs: list[PullRequestEvidence]) -> set[str]:
    """Logins whose latest opinion on some PR is an approval: the only ones worth a team lookup."""
    return {r.user for pr in prs for r in latest_opinions(pr.reviews).values() if r.state.upper() == APPROVED}
