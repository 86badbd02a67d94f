"""Gathering approvals evidence from a `responses`-mocked GitHub REST API (PyGithub at the HTTP layer)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from responses import matchers

from ci_deployer.errors import GitHubError
from ci_deployer.gates.approvals import evaluate_approvals
from ci_deployer.gates.github_evidence import approving_logins, merged_pull_requests, resolve_teams
from ci_deployer.github.client import ClientOptions, connect

API = "https://api.github.com"  # URLs inside payloads and Link headers: no :443
REPO = f"{API}/repos/acme/platform"
BASE, HEAD, MERGE, OLD, PR_HEAD = "b" * 40, "e" * 40, "m" * 40, "0" * 40, "d" * 40


def url(path: str) -> re.Pattern[str]:
    """PyGithub requests https://api.github.com:443/...; match with or without the port, any query."""
    return re.compile(r"https://api\.github\.com(:443)?" + re.escape(path) + r"(\?.*)?$")


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def client() -> Any:
    return connect("t0k", API, ClientOptions.for_tests())


def pr_json(number: int, *, merged: bool = True, merge_sha: str = MERGE, head: str = PR_HEAD) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"CHG-{number} change",
        "body": "",
        "head": {"ref": f"feature/{number}", "sha": head},
        "user": {"login": "carol"},
        "merged_at": "2026-11-27T10:00:00Z" if merged else None,
        "merge_commit_sha": merge_sha,
        "url": f"{REPO}/pulls/{number}",
    }


def review_json(rid: int, user: str, state: str, commit: str = PR_HEAD, minute: int = 0) -> dict[str, Any]:
    return {
        "id": rid,
        "user": {"login": user},
        "state": state,
        "commit_id": commit,
        "submitted_at": f"2026-11-27T09:{minute:02d}:00Z",
    }


def commit_json(sha: str, author: str | None, committer: str | None) -> dict[str, Any]:
    return {
        "sha": sha,
        "url": f"{REPO}/commits/{sha}",
        "author": {"login": author} if author else None,
        "committer": {"login": committer} if committer else None,
    }


def range_with_one_pr(mock: responses.RequestsMock, reviews: list[dict[str, Any]]) -> None:
    mock.add(
        responses.GET,
        url(f"/repos/acme/platform/compare/{BASE}...{HEAD}"),
        json={"status": "ahead", "commits": [commit_json(MERGE, "carol", "web-flow")], "files": [], "total_commits": 1},
    )
    # A PR merged into another branch also contains the commit: it must be ignored.
    mock.add(
        responses.GET,
        url(f"/repos/acme/platform/commits/{MERGE}/pulls"),
        json=[pr_json(12), pr_json(99, merge_sha="9" * 40), pr_json(98, merged=False)],
    )
    mock.add(responses.GET, url("/repos/acme/platform/pulls/12/reviews"), json=reviews)
    mock.add(
        responses.GET,
        url("/repos/acme/platform/pulls/12/commits"),
        json=[commit_json(PR_HEAD, "carol", "carol"), commit_json("c" * 40, "dave", "web-flow")],
    )


def test_latest_review_per_reviewer_and_committers(mock: responses.RequestsMock) -> None:
    range_with_one_pr(
        mock,
        [
            review_json(1, "alice", "CHANGES_REQUESTED", minute=1),
            review_json(2, "alice", "APPROVED", minute=2),
            review_json(3, "bob", "APPROVED", minute=3),
            review_json(4, "bob", "COMMENTED", minute=4),
            review_json(5, "erin", "DISMISSED", minute=5),
            review_json(6, "dave", "APPROVED", minute=6),
        ],
    )
    prs = merged_pull_requests(client().get_repo("acme/platform"), BASE, HEAD, "platform/")
    assert [p.number for p in prs] == [12]
    pr = prs[0]
    assert (pr.author, pr.branch, pr.head_sha) == ("carol", "feature/12", PR_HEAD)
    assert pr.committers == ["carol", "dave", "web-flow"]
    item = evaluate_approvals(prs, 2, ["alice", "bob", "dave", "erin"], None, None)
    assert item.status == "pass"
    assert item.evidence == "#12 CHG-12 change: 2/2 approvals (alice, bob); not counted: dave (committed to the PR)"


@pytest.mark.parametrize(
    ("changed_file", "counts"), [("README.md", True), ("platform/assistants/order-agent.yaml", False)]
)
def test_stale_head_approval_counts_only_without_config_change(
    mock: responses.RequestsMock, changed_file: str, counts: bool
) -> None:
    range_with_one_pr(mock, [review_json(1, "alice", "APPROVED", commit=OLD)])
    mock.add(
        responses.GET,
        url(f"/repos/acme/platform/compare/{OLD}...{PR_HEAD}"),
        json={"status": "ahead", "commits": [], "files": [{"filename": changed_file, "status": "modified"}]},
    )
    prs = merged_pull_requests(client().get_repo("acme/platform"), BASE, HEAD, "platform/")
    assert prs[0].unchanged_since == ({OLD} if counts else set())
    assert evaluate_approvals(prs, 1, ["alice"], None, None).status == ("pass" if counts else "fail")


def test_force_pushed_review_commit_counts_as_changed(mock: responses.RequestsMock) -> None:
    range_with_one_pr(mock, [review_json(1, "alice", "APPROVED", commit=OLD)])
    mock.add(
        responses.GET,
        url(f"/repos/acme/platform/compare/{OLD}...{PR_HEAD}"),
        json={"status": "diverged", "commits": [], "files": []},
    )
    prs = merged_pull_requests(client().get_repo("acme/platform"), BASE, HEAD, "platform/")
    assert prs[0].unchanged_since == set()


def test_reviews_are_read_across_pages(mock: responses.RequestsMock) -> None:
    mock.add(
        responses.GET,
        url(f"/repos/acme/platform/compare/{BASE}...{HEAD}"),
        json={"status": "ahead", "commits": [commit_json(MERGE, None, None)], "files": []},
    )
    mock.add(responses.GET, url(f"/repos/acme/platform/commits/{MERGE}/pulls"), json=[pr_json(12)])
    page2 = f"{REPO}/pulls/12/reviews?per_page=100&page=2"
    mock.add(
        responses.GET,
        "https://api.github.com:443/repos/acme/platform/pulls/12/reviews",
        json=[review_json(1, "alice", "APPROVED", minute=1)],
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    # The approval on page 1 is dismissed on page 2: only bob's stands.
    mock.add(
        responses.GET,
        "https://api.github.com:443/repos/acme/platform/pulls/12/reviews",
        json=[review_json(1, "alice", "DISMISSED", minute=1), review_json(2, "bob", "APPROVED", minute=2)],
        match=[matchers.query_param_matcher({"per_page": "100", "page": "2"})],
    )
    mock.add(responses.GET, url("/repos/acme/platform/pulls/12/commits"), json=[])
    prs = merged_pull_requests(client().get_repo("acme/platform"), BASE, HEAD, "")
    assert [(r.user, r.state) for r in prs[0].reviews] == [
        ("alice", "APPROVED"),
        ("alice", "DISMISSED"),
        ("bob", "APPROVED"),
    ]
    assert approving_logins(prs) == {"bob"}


def test_without_base_only_the_head_commits_prs(mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, url(f"/repos/acme/platform/commits/{HEAD}/pulls"), json=[pr_json(7, merge_sha=HEAD)])
    mock.add(responses.GET, url("/repos/acme/platform/pulls/7/reviews"), json=[])
    mock.add(responses.GET, url("/repos/acme/platform/pulls/7/commits"), json=[])
    prs = merged_pull_requests(client().get_repo("acme/platform"), None, HEAD, "")
    assert [p.number for p in prs] == [7]


def test_team_lookup_denied_names_the_permission(mock: responses.RequestsMock) -> None:
    mock.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners"),
        status=404,
        json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
    )
    members, error = resolve_teams(client(), ["alice", "@acme/platform-owners"], {"frank"})
    assert members == {}
    assert error == (
        "token cannot read org membership of @acme/platform-owners: grant `members: read` "
        "(GitHub App or fine-grained PAT) or list users explicitly"
    )


def test_team_members_resolved_for_approvers(mock: responses.RequestsMock) -> None:
    team_url = f"{API}/orgs/acme/teams/platform-owners"
    mock.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners"),
        json={"id": 7, "slug": "platform-owners", "url": team_url},
    )
    mock.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners/memberships/frank"),
        json={"state": "active", "role": "member", "url": f"{team_url}/memberships/frank"},
    )
    mock.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners/memberships/gina"),
        json={"state": "pending", "role": "member", "url": f"{team_url}/memberships/gina"},
    )
    mock.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners/memberships/mallory"),
        status=404,
        json={"message": "Not Found"},
    )
    members, error = resolve_teams(client(), ["@acme/platform-owners"], {"frank", "gina", "mallory"})
    assert (members, error) == ({"@acme/platform-owners": {"frank"}}, None)


def test_other_github_failures_become_github_errors(mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, url(f"/repos/acme/platform/compare/{BASE}...{HEAD}"), status=500, json={"message": "boom"})
    with pytest.raises(GitHubError, match=r"\(500\): boom"):
        merged_pull_requests(client().get_repo("acme/platform"), BASE, HEAD, "")
