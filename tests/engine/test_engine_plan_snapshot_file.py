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


def test_with_the_envs_hmac_key_a_snapshot_plan_tells_unchanged_and_no_key_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    environments = root / "environments.yaml"
    environments.write_text(
        environments.read_text(encoding="utf-8").replace(
            "    api: {url: embedded}",
            "    api: {url: embedded}\n    secrets: {hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_DEV}",
            1,
        ),
        encoding="utf-8",
    )
    key = "hmac-key-of-dev-0123456789abcdef"
    monkeypatch.setenv("CI_DEPLOYER_HMAC_KEY_DEV", key)
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token-value-42")
    out = tmp_path / "run"
    assert cli.main(["apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    snapshot = out / "snapshot-after.json"
    stored = json.loads(snapshot.read_text(encoding="utf-8"))
    assert "hmacKey" not in stored and key not in snapshot.read_text(encoding="utf-8")
    assert set(stored["secretHmacs"]) == {"ORDERS_API_TOKEN"}  # fingerprints, keyed by a key kept elsewhere

    def statuses(*extra: str) -> set[str]:
        argv = ["plan", "--config", str(root), "--env", "dev", "--snapshot", str(snapshot), "--format", "json"]
        assert cli.main([*argv, *extra]) == 0
        return {s["status"] for s in json.loads(capsys.readouterr().out)["secrets"]}

    assert statuses() == {"unchanged"}
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token-value-43")  # rotated outside git
    assert statuses() == {"changed"}
    monkeypatch.delenv("CI_DEPLOYER_HMAC_KEY_DEV")  # a job without the key can tell nothing
    assert statuses() == {"unknown"}


def test_a_state_that_kept_its_key_is_migrated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token-value-42")
    assert cli.main(["apply", "--config", str(root), "--env", "dev", "--auto-approve"]) == 0
    state = root / ".ci-deployer" / "state" / "dev" / "snapshot.json"
    data = json.loads(state.read_text(encoding="utf-8"))
    data["hmacKey"] = "ab" * 32  # as an older ci-deployer wrote it: the key beside its fingerprints
    data["secretHmacs"] = {"ORDERS_API_TOKEN": "f" * 64}
    state.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["plan", "--config", str(root), "--env", "dev", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert any("kept its HMAC key" in w for w in plan["warnings"])
    assert cli.main(["apply", "--config", str(root), "--env", "dev", "--auto-approve"]) == 0
    rewritten = json.loads(state.read_text(encoding="utf-8"))
    assert "hmacKey" not in rewritten and rewritten["secretHmacs"] == {}
