"""Results that gate promotion, and the prod canary: prod's ``promotesFrom`` gate reads uat's test
results for the same logical hash (through ``ci-deployer gate`` and through ``apply``), and a failing
canary after a prod apply restores the before-snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from behaviour_helpers import GREETING, Served, ToolServer, run_cli, write_repo

from ci_deployer import cli, compose
from ci_deployer.engine import snapshot as snapshots
from ci_deployer.engine.operations import desired_from_snapshot
from ci_deployer.settings import Settings

SHIPPED = json.dumps({"name": "shipped", "arguments": {"orderNumber": "42"}, "expect": {"regex": "shipped"}})


def apply(root: Path, env: str, *extra: str) -> int:
    return cli.main(["apply", "--config", str(root), "--env", env, "--auto-approve", *extra])


def gate(root: Path, cli_env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    proc = run_cli("gate", "--config", str(root), "--env", "prod", "--format", "json", env=cli_env)
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    items = data["items"]  # one shape, allowed or refused
    return proc.returncode, {item["id"]: item for item in items}


def test_the_prod_gate_needs_uat_tests_passed_for_the_same_logical_hash(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, smoke=f"smoke:\n  - {SHIPPED}\n")
    assert apply(root, "uat") == 0

    # uat applied, never tested
    code, items = gate(root, cli_env)
    assert code == 1
    assert items["promotion"]["status"] == "pass"
    assert (items["tests"]["status"], items["tests"]["evidence"]) == (
        "fail",
        "uat has no recorded test results (tests never ran there)",
    )
    capsys.readouterr()
    assert apply(root, "prod") == 1
    assert "UAT behavioural tests passed (fail: uat has no recorded test results" in capsys.readouterr().err
    assert served.writes("acme-prod") == []

    # uat tested for this very hash, and a smoke test failed
    tool_server.order_status = "lost"
    ci = {**cli_env, "GITHUB_RUN_ID": "777", "GITHUB_REPOSITORY": "acme/config"}
    assert run_cli("test", "--config", str(root), "--env", "uat", env=ci).returncode == 1
    code, items = gate(root, cli_env)
    assert code == 1
    assert items["tests"]["status"] == "fail"
    assert (
        "failed, 2 of 3 passed: tool/lookup-order · shipped (run 777 (https://github.com/acme/config/actions/runs/777)"
        in (items["tests"]["evidence"])
    )
    assert apply(root, "prod") == 1
    assert served.writes("acme-prod") == []

    # fixed and tested again: the gate passes and prod is applied (its canary passes too)
    tool_server.order_status = "shipped"
    assert run_cli("test", "--config", str(root), "--env", "uat", env=ci).returncode == 0
    code, items = gate(root, cli_env)
    assert code == 0, items
    assert items["tests"]["status"] == "pass"
    assert items["tests"]["evidence"].startswith("uat's tests for sha256:")
    assert "passed, 3 of 3 passed (run 777" in items["tests"]["evidence"]
    capsys.readouterr()
    assert apply(root, "prod") == 0
    out = capsys.readouterr().out
    assert "canary passed (2 passed, 0 failed, 0 errors (2 tests))" in out
    prod_tests = json.loads((root / ".ci-deployer" / "state" / "prod" / "tests.json").read_text())
    assert (prod_tests["mode"], prod_tests["ok"]) == ("canary", True)


def test_a_config_without_tests_for_uat_is_not_blocked_by_them(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    (root / "evals" / "billing-greeting.yaml").unlink()
    assert apply(root, "uat") == 0
    code, items = gate(root, cli_env)
    assert code == 0
    assert (items["tests"]["status"], items["tests"]["evidence"], items["tests"]["blocking"]) == (
        "skip",
        "no tests defined for uat",
        False,
    )


def live_assistant(served: Served) -> dict[str, Any]:
    [agent] = served.list("prod", "/assistant")
    return agent


def test_a_failing_canary_rolls_prod_back_to_its_before_snapshot(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, promotes=False)
    assert apply(root, "prod", "--out-dir", str(tmp_path / "runs" / "1")) == 0
    before_ids = {t["id"] for t in served.list("prod", "/tool")}

    # v2: a new greeting the eval does not expect, and a new tool (created by the apply)
    write_repo(root, served.url, tool_server.url, first_message="Welcome to the new billing line!", promotes=False)
    (root / "tools" / "lookup-invoice.yaml").write_text(
        (root / "tools" / "lookup-order.yaml")
        .read_text()
        .replace("lookup-order", "lookup-invoice")
        .replace("lookup_order", "lookup_invoice"),
        encoding="utf-8",
    )
    agent = root / "assistants" / "billing-agent.yaml"
    agent.write_text(agent.read_text().replace("[lookup-order]", "[lookup-order, lookup-invoice]"), encoding="utf-8")
    out = tmp_path / "runs" / "2"
    proc = run_cli(
        "apply",
        "--config",
        str(root),
        "--env",
        "prod",
        "--auto-approve",
        "--out-dir",
        str(out),
        "--format",
        "json",
        env=cli_env,
    )
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["failure_reason"] == "canary-failed"
    assert result["counts"]["ok"] == 2  # the apply itself went through
    assert result["canary"]["rolledBack"] is True
    assert result["canary"]["summary"].startswith("canary failed in prod after the apply (eval/billing-greeting")
    assert result["canary"]["summary"].endswith("prod was rolled back to its before-snapshot")
    checkpoint = result["canary"]["results"]["evals"][0]["checkpoints"][0]
    assert checkpoint["reply"]["content"] == "Welcome to the new billing line!"

    # prod is back: the old greeting, the new tool deleted, and a plan of the before-snapshot is empty
    assert live_assistant(served)["firstMessage"] == GREETING
    assert {t["id"] for t in served.list("prod", "/tool")} == before_ids
    backup = snapshots.load(out / "backup-before.json")
    with compose.open_session(Settings.from_environ(os.environ), root, "prod") as session:
        plan = session.plan(desired=desired_from_snapshot(backup), against="live").plan
    assert not plan.has_changes and plan.drift == [], plan.to_dict()["changes"]

    # recorded: the apply log, the rollback's own files, the env's state and test results
    events = [json.loads(line) for line in (out / "apply-log.jsonl").read_text().splitlines()]
    named = [e for e in events if e.get("event") in ("end", "canary", "rollback", "rollback-end")]
    assert [(e["event"], e.get("outcome")) for e in named] == [
        ("end", "ok"),
        ("canary", "failed"),
        ("rollback", None),
        ("rollback-end", "ok"),
    ]
    rollback_dir = out.with_name("2-canary-rollback")
    assert (rollback_dir / "snapshot-after.json").is_file() and (rollback_dir / "apply-log.jsonl").is_file()
    state = json.loads((root / ".ci-deployer" / "state" / "prod" / "snapshot.json").read_text())
    assert state["run"] == "2-canary-rollback"
    tests = json.loads((out / "test-results.json").read_text())
    assert (tests["mode"], tests["ok"]) == ("canary", False)
    assert "Traceback" not in proc.stderr


def test_without_rollback_on_failure_prod_keeps_the_new_config_and_the_step_fails(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, promotes=False, rollback=False)
    # the eval is not deployed to prod: its canary run sends it inline, without writing it there
    doc = root / "evals" / "billing-greeting.yaml"
    doc.write_text(
        doc.read_text().replace(
            "metadata: {name: billing-greeting}", "metadata:\n  name: billing-greeting\n  environments: [dev, uat]"
        ),
        encoding="utf-8",
    )
    assert apply(root, "prod") == 0
    assert served.list("prod", "/eval") == []
    write_repo(root, served.url, tool_server.url, first_message="Welcome!", promotes=False, rollback=False)
    doc.write_text(
        doc.read_text().replace(
            "metadata: {name: billing-greeting}", "metadata:\n  name: billing-greeting\n  environments: [dev, uat]"
        ),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert apply(root, "prod") == 1
    out, err = capsys.readouterr()
    assert "✗ eval/billing-greeting → assistant/billing-agent (eval inline, target managed" in out
    assert "rollbackOnFailure is off: prod keeps the new config" in err
    assert "set protection.canary.rollbackOnFailure: true to restore automatically" in err
    assert live_assistant(served)["firstMessage"] == "Welcome!"
    assert served.list("prod", "/eval") == []


def test_a_canary_that_cannot_run_fails_the_step_without_rolling_back(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ci_deployer.behaviour.canary import after_apply
    from ci_deployer.behaviour.runner import TestOptions

    root = write_repo(tmp_path / "platform", served.url, tool_server.url, promotes=False)
    out = tmp_path / "runs" / "1"
    assert apply(root, "prod", "--out-dir", str(out)) == 0
    monkeypatch.setenv("VAPI_TOKEN_PROD", "tok-revoked-0123456789")  # the org now refuses the key (401)
    with compose.open_session(Settings.from_environ(os.environ), root, "prod") as session:
        outcome = after_apply(session, out, TestOptions())
    assert outcome.failed and outcome.report is None and outcome.rolled_back is None
    assert outcome.summary().startswith("the canary could not run in prod after the apply (GET /")
    assert outcome.summary().endswith("prod keeps the new config")
    error = outcome.error()
    assert error.failure_reason == "canary-failed"
    assert error.hint == "run `ci-deployer test --env prod --canary` once the org answers"
    last = json.loads((out / "apply-log.jsonl").read_text().splitlines()[-1])
    assert (last["event"], last["outcome"], last["failureReason"]) == ("canary", "error", "api-error")
    assert live_assistant(served)["firstMessage"] == GREETING
