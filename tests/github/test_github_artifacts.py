from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer import redact
from ci_deployer.github import artifacts


def _files(tmp_path: Path) -> list[Path]:
    (tmp_path / "plan.json").write_text('{"kind": "plan"}', encoding="utf-8")
    (tmp_path / "plan.md").write_text("# plan\n" * 200, encoding="utf-8")
    return [tmp_path / "plan.json", tmp_path / "plan.md"]


def test_backend_ids_come_from_the_scp_claim(token_for: Any) -> None:
    ids = artifacts.backend_ids_from_token(token_for("Actions.ExampleScope Actions.Results:run-1:job-2"))
    assert ids == artifacts.BackendIds("run-1", "job-2")
    for bad in ("not-a-jwt", token_for("Actions.GenericRead"), token_for("Actions.Results:only-run")):
        with pytest.raises(artifacts.ArtifactError, match="invalid and/or missing claims"):
            artifacts.backend_ids_from_token(bad)


def test_ghes_is_told_apart_from_github_com() -> None:
    assert not artifacts.is_ghes("https://github.com")
    assert not artifacts.is_ghes("https://acme.ghe.com")
    assert artifacts.is_ghes("https://github.acme.internal")


def test_artifact_names_are_unique_per_run_attempt_and_job_and_valid() -> None:
    assert artifacts.artifact_name("prod", "apply", "42", "2", "apply/prod") == "ci-deployer-prod-apply-42-2-apply-prod"


def test_upload_creates_puts_and_finalizes_with_size_and_hash(tmp_path: Path, fake_results: Any) -> None:
    files = _files(tmp_path)
    with artifacts.ArtifactUploader(fake_results.url + "/some/path", fake_results.token, sleep=lambda s: None) as up:
        result = up.upload("ci-deployer-uat-plan-42-1-plan", files, tmp_path)
    blob = fake_results.blobs["ci-deployer-uat-plan-42-1-plan"]
    assert result.size == len(blob) and result.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert result.artifact_id == "1001"
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sorted(archive.namelist()) == ["plan.json", "plan.md"]
        assert archive.read("plan.json") == b'{"kind": "plan"}'
        assert archive.getinfo("plan.md").compress_type == zipfile.ZIP_DEFLATED
    # exact wire format: proto field names, version 4, int64 as a string, hash a bare string
    posts = [(path, json.loads(body)) for method, path, _, body in fake_results.requests if method == "POST"]
    assert posts[0] == (
        "/twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact",
        {
            "workflow_run_backend_id": "ce7f54c7-61c7-4aae-887f-30da475f5f1a",
            "workflow_job_run_backend_id": "ca395085-040a-526b-2ce8-bdc85f692774",
            "name": "ci-deployer-uat-plan-42-1-plan",
            "version": 4,
        },
    )
    assert posts[1][1]["size"] == str(len(blob)) and posts[1][1]["hash"] == result.digest
    # the signed URL's sig is treated as a secret
    assert "s1gn4tur3-v4lue-XYZ" in redact.registered()


def test_retryable_answers_are_retried_with_backoff(tmp_path: Path, fake_results: Any) -> None:
    fake_results.fail_next = [503, 429]
    slept: list[float] = []
    with artifacts.ArtifactUploader(fake_results.url, fake_results.token, sleep=slept.append) as up:
        up.upload("retry-me", _files(tmp_path), tmp_path)
    assert len(slept) == 2 and slept[1] > 0
    assert "retry-me" in fake_results.finalized


def test_a_refusal_is_not_retried_and_says_why(tmp_path: Path, fake_results: Any) -> None:
    slept: list[float] = []
    with artifacts.ArtifactUploader(fake_results.url, fake_results.token, sleep=slept.append) as up:
        up.upload("once", _files(tmp_path), tmp_path)
        with pytest.raises(artifacts.ArtifactError, match=r"CreateArtifact failed \(409: artifact exists\)"):
            up.upload("once", _files(tmp_path), tmp_path)
    assert slept == []


def test_a_hash_the_service_disagrees_with_fails_finalize(tmp_path: Path, fake_results: Any) -> None:
    """The fake checks size and hash: corrupting the blob in transit must make finalize fail."""

    def corrupt(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            body = request.read() + b"x"
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request("PUT", request.url, headers=headers, content=body)
        with httpx.Client() as client:
            return client.send(request)

    with (
        artifacts.ArtifactUploader(
            fake_results.url, fake_results.token, sleep=lambda s: None, transport=httpx.MockTransport(corrupt)
        ) as up,
        pytest.raises(artifacts.ArtifactError, match="size or hash mismatch"),
    ):
        up.upload("corrupt", _files(tmp_path), tmp_path)
