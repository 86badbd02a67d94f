"""The GitHub-artifacts state backend: an environment's state is its newest applied snapshot.

Every apply (and rollback) uploads ``snapshot-after.json`` in the artifact
``ci-deployer-<env>-apply-<run>-<attempt>-<job>``.  The state is the newest such artifact **from a run
of the default branch** in this repository (push, dispatch or schedule): a pull-request run can upload
anything, so its artifacts are never trusted as state (DESIGN §5).  Partial snapshots of failed
applies count: they record what the org now holds.

The same listing finds the plan a PR run uploaded for a commit (``ci-deployer-<env>-plan-…``), the
fallback record of what reviewers saw when the PR comment is gone, and an env's newest behavioural
test results (``test-results.json`` of a ``test`` step, or of an apply's canary), trusted from
default-branch runs only, like state: what prod's ``promotesFrom`` gate reads for uat.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_deployer.errors import StateError
from ci_deployer.github.client import GitHubApiError, translated

if TYPE_CHECKING:
    from github import Github
    from github.Artifact import Artifact
    from github.Repository import Repository

SNAPSHOT_FILE = "snapshot-after.json"
PLAN_FILE = "plan.json"
TEST_RESULTS_FILE = "test-results.json"
TEST_COMMANDS = ("test", "apply")  # `test` steps, and the canary results an apply uploads
TRUSTED_EVENTS = frozenset({"push", "workflow_dispatch", "schedule"})
STATE_COMMANDS = ("apply", "rollback")
# Bound the scan: artifacts are listed newest first, 100 per page.
MAX_ARTIFACTS = 2_000
MAX_ZIP_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class StoredSnapshot:
    """A snapshot read from a trusted run's artifact."""

    data: dict[str, Any]
    artifact_name: str
    run_id: int
    head_sha: str


class ArtifactStateBackend:
    """Reads state and reviewed plans from this repository's workflow artifacts."""

    def __init__(self, github: Github, repository: str, token: str) -> None:
        self.github = github
        self.repository = repository
        self.token = token
        self.repo: Repository = github.get_repo(repository)

    def _artifacts(self, prefixes: tuple[str, ...]) -> Iterator[Artifact]:
        with translated("list workflow artifacts"):
            for index, artifact in enumerate(self.repo.get_artifacts()):
                if index >= MAX_ARTIFACTS:
                    return
                if artifact.expired or not artifact.name.startswith(prefixes):
                    continue
                yield artifact

    def _trusted(self, artifact: Artifact, default_branch: str) -> bool:
        partial = artifact.workflow_run
        if partial is None or partial.head_branch != default_branch:
            return False
        with translated(f"read workflow run {partial.id}"):
            run = self.repo.get_workflow_run(partial.id)
            head_repo = run.head_repository.full_name if run.head_repository is not None else ""
            # head_branch alone is not enough: a fork's PR from its own `main` has head_branch "main".
            return run.event in TRUSTED_EVENTS and run.head_branch == default_branch and head_repo == self.repository

    def _download(self, artifact: Artifact) -> zipfile.ZipFile:
        # The API answers 302 to blob storage (*.blob.core.windows.net), a host PyGithub refuses to
        # follow; requests drops the Authorization header when a redirect leaves the API host.
        import requests

        url = artifact.archive_download_url
        try:
            with requests.get(
                url,
                headers={"Authorization": f"token {self.token}", "Accept": "application/vnd.github+json"},
                stream=True,
                timeout=120,
            ) as response:
                if response.status_code != 200:
                    raise GitHubApiError(f"download artifact {artifact.name}", response.status_code, response.reason)
                buffer = io.BytesIO()
                for chunk in response.iter_content(chunk_size=1 << 16):
                    buffer.write(chunk)
                    if buffer.tell() > MAX_ZIP_BYTES:
                        raise StateError(f"artifact {artifact.name} is larger than {MAX_ZIP_BYTES} bytes")
        except requests.RequestException as exc:
            raise GitHubApiError(
                f"download artifact {artifact.name}", None, f"no answer: {type(exc).__name__}"
            ) from exc
        try:
            return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
        except zipfile.BadZipFile as exc:
            raise StateError(f"artifact {artifact.name} is not a zip archive") from exc

    @staticmethod
    def _read_json(archive: zipfile.ZipFile, name: str) -> dict[str, Any] | None:
        try:
            raw = archive.read(name)
        except KeyError:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def latest_snapshot(self, env: str, default_branch: str) -> StoredSnapshot | None:
        """The newest snapshot of ``env`` applied from the default branch (None: never applied)."""
        if not default_branch:
            raise StateError(
                "the repository's default branch is unknown (no `repository` in the event payload)",
                hint="state from artifacts is only trusted from runs of the default branch",
            )
        prefixes = tuple(f"ci-deployer-{env}-{command}-" for command in STATE_COMMANDS)
        for artifact in self._artifacts(prefixes):
            if not self._trusted(artifact, default_branch):
                continue
            data = self._read_json(self._download(artifact), SNAPSHOT_FILE)
            if data is None or data.get("kind") != "snapshot" or data.get("env") != env:
                continue
            partial = artifact.workflow_run
            return StoredSnapshot(
                data=data,
                artifact_name=artifact.name,
                run_id=partial.id,
                head_sha=str(partial.head_sha or ""),
            )
        return None

    def latest_test_results(self, env: str, default_branch: str) -> StoredSnapshot | None:
        """The newest test results of ``env`` recorded by a default-branch run (None: none).

        Transient records (a config tested inline before it was applied) are skipped: they say
        nothing about what the env runs."""
        if not default_branch:
            raise StateError(
                "the repository's default branch is unknown (no `repository` in the event payload)",
                hint="test results from artifacts are only trusted from runs of the default branch",
            )
        prefixes = tuple(f"ci-deployer-{env}-{command}-" for command in TEST_COMMANDS)
        for artifact in self._artifacts(prefixes):
            if not self._trusted(artifact, default_branch):
                continue
            data = self._read_json(self._download(artifact), TEST_RESULTS_FILE)
            if data is None or data.get("kind") != "test-results" or data.get("env") != env:
                continue
            if data.get("mode") == "transient":
                continue
            partial = artifact.workflow_run
            return StoredSnapshot(
                data=data, artifact_name=artifact.name, run_id=partial.id, head_sha=str(partial.head_sha or "")
            )
        return None

    def plan_hash_for(self, env: str, head_sha: str) -> str | None:
        """The hash of the plan uploaded for ``env`` at commit ``head_sha`` (what a PR run showed).

        Any run may be the source: the hash is only compared with a fresh live plan, so a forged one
        can only cause a refusal, never an unreviewed apply.
        """
        for artifact in self._artifacts((f"ci-deployer-{env}-plan-",)):
            partial = artifact.workflow_run
            if partial is None or partial.head_sha != head_sha:
                continue
            data = self._read_json(self._download(artifact), PLAN_FILE)
            if data and data.get("env") == env and isinstance(data.get("hash"), str):
                return str(data["hash"])
        return None
