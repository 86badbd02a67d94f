"""An environment's newest behavioural test results, read from workflow artifacts like its state:
default-branch runs only, transient records skipped; and the local state's ``tests.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from test_github_state import API, artifact, backend, download, run, zipped  # noqa: F401  (backend: a fixture)

from ci_deployer.engine.state import LocalStateBackend
from ci_deployer.errors import StateError
from ci_deployer.github.state import ArtifactStateBackend


def record(mode: str = "managed", env: str = "uat", ok: bool = True) -> dict[str, Any]:
    return {"kind": "test-results", "env": env, "mode": mode, "ok": ok, "logicalHash": "sha256:1"}


@responses.activate
def test_the_newest_trusted_non_transient_record_wins(backend: ArtifactStateBackend) -> None:  # noqa: F811
    responses.get(
        f"{API}/actions/artifacts",
        json={
            "total_count": 5,
            "artifacts": [
                artifact(20, "ci-deployer-uat-test-95-1-test", 95, branch="feature"),  # a PR run: never trusted
                artifact(21, "ci-deployer-uat-test-94-1-test", 94),  # transient (a dispatch of --transient)
                artifact(22, "ci-deployer-uat-apply-93-1-apply", 93),  # an apply without canary results
                artifact(23, "ci-deployer-prod-test-92-1-test", 92),  # another env
                artifact(24, "ci-deployer-uat-test-91-1-test", 91),
            ],
        },
    )
    for run_id in (94, 93, 92, 91):
        run(run_id, "push")
    download(21, zipped({"test-results.json": record(mode="transient")}))
    download(22, zipped({"snapshot-after.json": {"kind": "snapshot", "env": "uat"}}))
    download(24, zipped({"test-results.json": record(ok=False)}))
    stored = backend.latest_test_results("uat", "main")
    assert stored is not None
    assert (stored.artifact_name, stored.run_id, stored.data["ok"]) == ("ci-deployer-uat-test-91-1-test", 91, False)
    with pytest.raises(StateError, match="default branch is unknown"):
        backend.latest_test_results("uat", "")


def test_local_state_keeps_the_latest_record_and_refuses_a_corrupt_one(tmp_path: Path) -> None:
    state = LocalStateBackend(tmp_path)
    assert state.latest_tests("uat") is None
    state.save_tests("uat", record())
    assert state.latest_tests("uat") == record()
    assert json.loads((tmp_path / "uat" / "tests.json").read_text()) == record()
    assert [p.name for p in (tmp_path / "uat").iterdir()] == ["tests.json"]  # written atomically, no leftovers
    (tmp_path / "uat" / "tests.json").write_text("{half", encoding="utf-8")
    with pytest.raises(StateError, match="cannot read the test results"):
        state.latest_tests("uat")
    state.save_tests("uat", record(env="prod"))
    with pytest.raises(StateError, match="is not a test-results record of uat"):
        state.latest_tests("uat")
