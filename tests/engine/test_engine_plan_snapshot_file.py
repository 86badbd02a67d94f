"""`plan --snapshot FILE`: plan against a downloaded snapshot (the PR path that needs no prod key)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ci_deployer import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform"


def test_plan_against_a_snapshot_file_reads_no_api_and_checks_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token-value-42")
    out = tmp_path / "run"
    assert cli.main(["apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    snapshot = out / "snapshot-after.json"

    # The embedded org is wiped: a live plan would create everything, a snapshot plan must not look at it.
    shutil.rmtree(root / ".ci-deployer" / "emulator")
    assert (
        cli.main(["plan", "--config", str(root), "--env", "dev", "--snapshot", str(snapshot), "--format", "json"]) == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["against"] == "snapshot"
    assert plan["hasChanges"] is False
    # No HMAC key is configured (secrets.hmacKey), and a snapshot plan sees no live value: unknown.
    assert {s["status"] for s in plan["secrets"]} == {"unknown"}

    assert (
        cli.main(["plan", "--config", str(root), "--env", "uat", "--snapshot", str(snapshot), "--format", "json"]) == 1
    )
    error = json.loads(capsys.readouterr().out)
    assert error["failure_reason"] == "state-error"
    assert "snapshot of dev, not uat" in error["error"]
