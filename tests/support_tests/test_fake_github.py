"""The fake GitHub is faithful where PyGithub is concerned: the client built as the product builds it
(``ci_deployer.github.client.connect``) reads and writes the fake's state over HTTP."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from github import GithubException

from ci_deployer.github.client import ClientOptions, connect
from support.fake_github import BOT_LOGIN, FakeGitHub, effective_scopes
from support.gitrepo import GitRepo


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGitHub]:
    repo = GitRepo(tmp_path / "origin")
    with FakeGitHub(repo) as github:
        github.commit("main", {"platform/environments.yaml": "apiVersion: ci-deployer/v1\n"}, "initial", "carol")
        yield github


def _job(fake: FakeGitHub, permissions: dict[str, str], *, read_only: bool = False) -> tuple[int, str, str]:
    """(run id, workflow token, runtime token) of a job with ``permissions``."""
    head = fake.git.branch_head("main")
    assert head is not None
    run = fake.start_run(
        name="ci",
        path=".github/workflows/ci.yml",
        event="push",
        head_branch="main",
        head_sha=head,
        head_repo=fake.full_name,
        actor="carol",
    )
    job = fake.start_job(run.id, "build", effective_scopes(permissions, read_only=read_only))
    return run.id, job.token, job.runtime_token


def test_pygithub_lists_a_prs_comments_across_three_pages_then_creates_and_edits_one(fake: FakeGitHub) -> None:
    pr = fake.open_pull_request("feature", {"platform/a.yaml": "a: 1\n"}, title="Add a", author="carol")
    writer = fake.user_token("dave")
    gh_user = connect(writer, fake.api, ClientOptions.for_tests())
    issue = gh_user.get_repo(fake.full_name).get_issue(pr.number)
    for i in range(205):
        issue.create_comment(f"comment {i}")
    _, token, _ = _job(fake, {"pull-requests": "write"})
    gh = connect(token, fake.api, ClientOptions.for_tests())  # per_page=100 → three pages
    bodies = [c.body for c in gh.get_repo(fake.full_name).get_issue(pr.number).get_comments()]
    assert len(bodies) == 205 and bodies[-1] == "comment 204"
    pages = [r for r in fake.requests if r.path.endswith(f"/issues/{pr.number}/comments") and r.method == "GET"]
    assert [r.query.get("page", ["1"])[0] for r in pages] == ["1", "2", "3"]
    assert all(r.query["per_page"] == ["100"] for r in pages)

    created = gh.get_repo(fake.full_name).get_issue(pr.number).create_comment("<!-- marker --> plan")
    assert created.user.login == BOT_LOGIN and created.user.type == "Bot"
    created.edit("<!-- marker --> plan v2")
    assert fake.comments[created.id].body == "<!-- marker --> plan v2"
    assert fake.unknown_routes == []


def test_a_read_only_token_gets_403_on_writes_and_get_user_is_403_for_workflow_tokens(fake: FakeGitHub) -> None:
    pr = fake.open_pull_request("feature", {"platform/a.yaml": "a: 1\n"}, title="Add a", author="mallory")
    _, token, _ = _job(fake, {"pull-requests": "write", "statuses": "write"}, read_only=True)
    repo = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name)
    assert [c.body for c in repo.get_issue(pr.number).get_comments()] == []
    with pytest.raises(GithubException) as denied:
        repo.get_issue(pr.number).create_comment("hi")
    assert denied.value.status == 403 and denied.value.data["message"] == "Resource not accessible by integration"
    with pytest.raises(GithubException) as status_denied:
        repo.get_commit(pr.head_sha).create_status("success", context="ci-deployer/plan (uat)")
    assert status_denied.value.status == 403
    with pytest.raises(GithubException) as user_denied:
        connect(token, fake.api, ClientOptions.for_tests()).get_user().login  # noqa: B018
    assert user_denied.value.status == 403
    assert fake.comments == {} and fake.statuses == []


def test_statuses_and_combined_status(fake: FakeGitHub) -> None:
    pr = fake.open_pull_request("feature", {"platform/a.yaml": "a: 1\n"}, title="Add a", author="carol")
    _, token, _ = _job(fake, {"statuses": "write"})
    commit = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name).get_commit(pr.head_sha)
    commit.create_status("pending", description="planning", context="ci-deployer/plan (uat)")
    commit.create_status(
        "success", target_url="https://github.com/acme/config/actions/runs/1", context="ci-deployer/plan (uat)"
    )
    commit.create_status("failure", context="ci-deployer/plan (prod)")
    assert [(s.context, s.state) for s in commit.get_statuses()] == [
        ("ci-deployer/plan (prod)", "failure"),
        ("ci-deployer/plan (uat)", "success"),
        ("ci-deployer/plan (uat)", "pending"),
    ]
    combined = commit.get_combined_status()
    assert combined.state == "failure" and combined.total_count == 2
    assert {s.creator.login for s in commit.get_statuses()} == {BOT_LOGIN}


def test_deployment_and_its_statuses(fake: FakeGitHub) -> None:
    head = fake.git.branch_head("main")
    assert head is not None
    _, token, _ = _job(fake, {"deployments": "write"})
    repo = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name)
    deployment = repo.create_deployment(
        ref=head,
        task="deploy:ci-deployer",
        auto_merge=False,
        required_contexts=[],
        payload={"run": "1"},
        environment="prod",
        description="apply",
        production_environment=True,
    )
    deployment.create_status("in_progress", target_url="https://github.com/x", environment="prod")
    deployment.create_status("success", target_url="https://github.com/x", environment="prod", auto_inactive=True)
    found = list(repo.get_deployments(environment="prod", sha=head))
    assert [d.id for d in found] == [deployment.id] and found[0].payload == {"run": "1"}
    assert [s.state for s in found[0].get_statuses()] == ["success", "in_progress"]
    assert list(repo.get_deployments(environment="uat")) == []
    # Without required_contexts, every context on the commit must be green (GitHub's default).
    repo.get_commit(head)  # lazy
    fake.statuses.clear()
    _, status_token, _ = _job(fake, {"statuses": "write"})
    connect(status_token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name).get_commit(head).create_status(
        "failure", context="ci"
    )
    with pytest.raises(GithubException) as conflict:
        repo.create_deployment(ref=head, environment="prod")
    assert conflict.value.status == 409


def test_artifacts_uploaded_through_the_results_service_are_listed_and_downloadable(fake: FakeGitHub) -> None:
    run_id, token, runtime = _job(fake, {"actions": "read"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("snapshot-after.json", '{"kind": "snapshot"}')
    data = buffer.getvalue()
    twirp = fake.url + "/twirp/github.actions.results.api.v1.ArtifactService/"
    run = fake.runs[run_id]
    ids = {"workflow_run_backend_id": run.backend_id, "workflow_job_run_backend_id": run.jobs["build"].backend_id}
    headers = {"Authorization": f"Bearer {runtime}"}
    with httpx.Client() as http:
        created = http.post(twirp + "CreateArtifact", json={**ids, "name": "state", "version": 4}, headers=headers)
        url = created.json()["signed_upload_url"]
        assert url.startswith("http://localhost:")
        assert http.put(url, content=data, headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201
        import hashlib

        final = {**ids, "name": "state", "size": str(len(data)), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
        assert http.post(twirp + "FinalizeArtifact", json=final, headers=headers).json()["ok"] is True
        # the same name again in the same run: refused
        again = http.post(twirp + "CreateArtifact", json={**ids, "name": "state", "version": 4}, headers=headers)
        assert again.status_code == 409

    repo = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name)
    artifacts = list(repo.get_artifacts())
    assert [a.name for a in artifacts] == ["state"]
    artifact = artifacts[0]
    assert artifact.workflow_run.id == run_id and artifact.workflow_run.head_branch == "main"
    assert not artifact.expired
    workflow_run = repo.get_workflow_run(run_id)
    assert workflow_run.event == "push" and workflow_run.head_repository.full_name == fake.full_name
    # The download redirects to blob storage (another host name), which needs no Authorization.
    response = requests.get(artifact.archive_download_url, headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 200 and response.content == data
    assert response.history[0].status_code == 302
    assert "authorization" not in {k.lower() for k in response.request.headers}


def test_unknown_routes_are_404_and_recorded(fake: FakeGitHub) -> None:
    _, token, _ = _job(fake, {"contents": "write"})
    gh = connect(token, fake.api, ClientOptions.for_tests())
    with pytest.raises(GithubException) as missing:
        list(gh.get_repo(fake.full_name).get_branches())
    assert missing.value.status == 404
    assert [(r.method, r.path) for r in fake.unknown_routes] == [("GET", "/repos/acme/config/branches")]


def test_compare_and_commit_pulls_follow_the_real_history(fake: FakeGitHub) -> None:
    base = fake.git.branch_head("main")
    assert base is not None
    pr = fake.open_pull_request(
        "feature", {"platform/a.yaml": "a: 1\n", "platform/environments.yaml": None}, title="Add a", author="carol"
    )
    _, token, _ = _job(fake, {"contents": "read", "pull-requests": "read"})
    repo = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name)
    comparison = repo.compare(base, pr.head_sha)
    assert comparison.status == "ahead" and comparison.ahead_by == 1
    assert sorted((f.filename, f.status) for f in comparison.files) == [
        ("platform/a.yaml", "added"),
        ("platform/environments.yaml", "removed"),
    ]
    assert [c.sha for c in comparison.commits] == [pr.head_sha]
    assert [p.number for p in repo.get_commit(pr.head_sha).get_pulls()] == [pr.number]
    before, after = fake.merge_pull_request(pr.number, "alice")
    assert repo.compare(pr.head_sha, after).status == "ahead"
    assert repo.compare(after, before).status == "behind"
    pulls = list(repo.get_commit(after).get_pulls())
    assert [(p.number, p.merged, p.merge_commit_sha) for p in pulls] == [(pr.number, True, after)]
    commit = repo.get_commit(pr.head_sha)
    assert commit.author.login == "carol"
    assert [c.sha for c in repo.get_pull(pr.number).get_commits()] == [pr.head_sha]


def test_teams_are_readable_with_org_access_only(fake: FakeGitHub) -> None:
    fake.add_team("acme", "platform-owners", ["erin"])
    admin = connect(fake.user_token("root"), fake.api, ClientOptions.for_tests())
    team = admin.get_organization("acme").get_team_by_slug("platform-owners")
    assert team.get_team_membership("erin").state == "active"
    with pytest.raises(GithubException) as not_member:
        team.get_team_membership("mallory")
    assert not_member.value.status == 404
    _, token, _ = _job(fake, dict.fromkeys(("contents", "pull-requests", "actions"), "write"))
    workflow = connect(token, fake.api, ClientOptions.for_tests()).get_organization("acme")
    with pytest.raises(GithubException) as hidden:
        workflow.get_team_by_slug("platform-owners").id  # noqa: B018
    assert hidden.value.status == 404  # the workflow token has no org access


def test_reviews_are_chronological_and_dismissal_is_kept(fake: FakeGitHub) -> None:
    pr = fake.open_pull_request("feature", {"platform/a.yaml": "a: 1\n"}, title="Add a", author="carol")
    first = fake.review(pr.number, "alice", "APPROVED")
    fake.push_to_pull_request(pr.number, {"platform/a.yaml": "a: 2\n"}, "fixup")
    fake.review(pr.number, "bob", "CHANGES_REQUESTED")
    fake.dismiss_review(first.id)
    _, token, _ = _job(fake, {"pull-requests": "read"})
    pull = connect(token, fake.api, ClientOptions.for_tests()).get_repo(fake.full_name).get_pull(pr.number)
    assert [(r.user.login, r.state) for r in pull.get_reviews()] == [
        ("alice", "DISMISSED"),
        ("bob", "CHANGES_REQUESTED"),
    ]
    reviews = list(pull.get_reviews())
    assert reviews[0].commit_id != reviews[1].commit_id == pull.head.sha
    assert pull.head.repo.full_name == "acme/config" and pull.base.ref == "main"
    assert [f.filename for f in pull.get_files()] == ["platform/a.yaml"]
    assert len(list(pull.get_commits())) == 2
