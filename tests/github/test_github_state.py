from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
import responses

from ci_deployer.errors import GitHubError, StateError
from ci_deployer.github.client import ClientOptions, connect
from ci_deployer.github.state import ArtifactStateBackend

API = "https://api.github.com:443/repos/acme/config"
PAYLOAD_API = "https://api.github.com/repos/acme/config"


def zipped(files: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, json.dumps(data))
    return buffer.getvalue()


def artifact(aid: int, name: str, run_id: int, branch: str = "main", sha: str = "c" * 40) -> dict[str, Any]:
    return {
        "id": aid,
        "name": name,
        "expired": False,
        "archive_download_url": f"{PAYLOAD_API}/actions/artifacts/{aid}/zip",
        "workflow_run": {
            "id": run_id,
            "head_branch": branch,
            "head_sha": sha,
            "repository_id": 1,
            "head_repository_id": 1,
        },
    }


def run(run_id: int, event: str, branch: str = "main", head_repo: str = "acme/config") -> None:
    responses.get(
        f"{API}/actions/runs/{run_id}",
        json={"id": run_id, "event": event, "head_branch": branch, "head_repository": {"full_name": head_repo}},
    )


def download(aid: int, body: bytes) -> responses.BaseResponse:
    # the download goes through requests to the URL in the payload (no :443)
    responses.get(
        f"{PAYLOAD_API}/actions/artifacts/{aid}/zip",
        status=302,
        headers={"Location": f"https://blobs.example/{aid}?sig=zz"},
    )
    return responses.get(f"https://blobs.example/{aid}", body=body, content_type="application/zip")


@pytest.fixture
def backend() -> ArtifactStateBackend:
    return ArtifactStateBackend(
        connect("ghs_token", "https://api.github.com", ClientOptions.for_tests()), "acme/config", "ghs_token"
    )


def snapshot(sha: str, env: str = "prod") -> dict[str, Any]:
    return {
        "formatVersion": 1,
        "kind": "snapshot",
        "env": env,
        "sha": sha,
        "appliedAt": "2026-11-28T10:00:00Z",
        "resources": [],
    }


@responses.activate
def test_newest_snapshot_from_a_default_branch_run_wins_and_pr_uploads_are_ignored(
    backend: ArtifactStateBackend,
) -> None:
    responses.get(
        f"{API}/actions/artifacts",
        json={
            "total_count": 5,
            "artifacts": [
                artifact(10, "ci-deployer-prod-apply-90-1-apply", 90, branch="feature"),  # a PR branch run
                artifact(11, "ci-deployer-prod-apply-89-1-apply", 89, branch="main"),  # a fork PR from its main
                artifact(12, "ci-deployer-uat-apply-88-1-apply", 88),  # another env
                artifact(13, "ci-deployer-prod-plan-87-1-plan", 87),  # a plan, not state
                artifact(14, "ci-deployer-prod-apply-86-1-apply", 86, sha="d" * 40),
            ],
        },
    )
    run(89, "pull_request", head_repo="mallory/config")
    run(86, "push")
    blob = download(14, zipped({"snapshot-after.json": snapshot("d" * 40), "apply-log.jsonl": {}}))
    stored = backend.latest_snapshot("prod", "main")
    assert stored is not None
    assert (stored.artifact_name, stored.run_id, stored.head_sha) == ("ci-deployer-prod-apply-86-1-apply", 86, "d" * 40)
    assert stored.data["sha"] == "d" * 40
    # the token goes to the API, never to blob storage on the redirect
    assert blob.calls[0].request.headers.get("Authorization") is None
    assert responses.calls[-2].request.headers["Authorization"] == "token ghs_token"


@responses.activate
def test_no_trusted_snapshot_means_none(backend: ArtifactStateBackend) -> None:
    responses.get(
        f"{API}/actions/artifacts",
        json={"total_count": 1, "artifacts": [artifact(1, "ci-deployer-prod-apply-5-1-x", 5)]},
    )
    run(5, "pull_request")
    assert backend.latest_snapshot("prod", "main") is None
    with pytest.raises(StateError, match="default branch is unknown"):
        backend.latest_snapshot("prod", "")


@responses.activate
def test_plan_hash_of_a_commit_is_read_from_its_plan_artifact(backend: ArtifactStateBackend) -> None:
    responses.get(
        f"{API}/actions/artifacts",
        json={
            "total_count": 2,
            "artifacts": [artifact(2, "ci-deployer-prod-plan-9-1-plan", 9, branch="feature", sha="e" * 40)],
        },
    )
    download(2, zipped({"plan.json": {"kind": "plan", "env": "prod", "hash": "sha256:reviewed"}}))
    assert backend.plan_hash_for("prod", "e" * 40) == "sha256:reviewed"
    assert backend.plan_hash_for("prod", "f" * 40) is None


@responses.activate
def test_listing_failure_is_a_github_error(backend: ArtifactStateBackend) -> None:
    responses.get(f"{API}/actions/artifacts", status=403, json={"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubError, match="403") as info:
        backend.latest_snapshot("prod", "main")
    assert "permissions" in (info.value.hint or "")
