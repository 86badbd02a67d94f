"""The gates wired into `ci-deployer apply`: refused outside a window with no API write; break-glass
goes through and is recorded in the gate report and the apply log."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from ci_deployer import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform"
WRITES = {"POST", "PATCH", "DELETE"}


@pytest.fixture
def protected_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    env_file = root / "environments.yaml"
    text = env_file.read_text(encoding="utf-8")
    marker = "    api: {url: embedded}"
    assert marker in text
    window = (
        "\n    protection:\n      changeWindows:\n"
        '        - {days: [sat], start: "09:00", end: "10:00", timezone: UTC}\n'
        "      planAgainst: live"
    )
    line_end = text.index("\n", text.index(marker))
    env_file.write_text(text[:line_end] + window + text[line_end:], encoding="utf-8")
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token-value-42")
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    return root


def _log(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "apply-log.jsonl").read_text(encoding="utf-8").splitlines()]


# Monday 2026-11-30 12:00 UTC: outside the Saturday window.
@time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False)
def test_apply_outside_window_is_refused_without_any_write(
    protected_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run1"
    code = cli.main(
        [
            "apply",
            "--config",
            str(protected_dev),
            "--env",
            "dev",
            "--auto-approve",
            "--out-dir",
            str(out),
            "--format",
            "json",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 1
    assert payload["failure_reason"] == "gate-refused"
    assert "next window opens Sat 2026-12-05 09:00 UTC" in payload["error"]
    lines = _log(out)
    assert not [line for line in lines if line.get("method") in WRITES]
    assert [line["outcome"] for line in lines if line.get("event") == "gates"] == ["refused"]
    assert (out / "backup-before.json").is_file()

    # Nothing reached the org: a plan still creates everything.
    assert cli.main(["plan", "--config", str(protected_dev), "--env", "dev", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["summary"]["create"] >= 8


@time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False)
def test_break_glass_applies_and_is_recorded(protected_dev: Path, tmp_path: Path) -> None:
    out = tmp_path / "run2"
    code = cli.main(
        [
            "apply",
            "--config",
            str(protected_dev),
            "--env",
            "dev",
            "--auto-approve",
            "--out-dir",
            str(out),
            "--break-glass-reason",
            "INC-7 outage fix",
        ]
    )
    assert code == 0
    report = json.loads((out / "gate-report.json").read_text(encoding="utf-8"))
    assert report["breakGlass"] == "INC-7 outage fix"
    lines = _log(out)
    gates = [line for line in lines if line.get("event") == "gates"]
    assert gates and gates[0]["outcome"] == "allowed" and gates[0]["breakGlass"] == "INC-7 outage fix"
    assert len([line for line in lines if line.get("method") == "POST"]) >= 8
    for path in out.iterdir():
        assert "orders-token-value-42" not in path.read_text(encoding="utf-8")


# Saturday 09:30 UTC: inside the window, no break-glass needed.
@time_machine.travel(datetime(2026, 12, 5, 9, 30, tzinfo=UTC), tick=False)
def test_apply_inside_window_proceeds(protected_dev: Path, tmp_path: Path) -> None:
    out = tmp_path / "run3"
    assert (
        cli.main(["apply", "--config", str(protected_dev), "--env", "dev", "--auto-approve", "--out-dir", str(out)])
        == 0
    )
    report = json.loads((out / "gate-report.json").read_text(encoding="utf-8"))
    assert report["breakGlass"] is None
    assert report["allowed"] is True
