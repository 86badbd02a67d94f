"""Golden transcripts: evals run through /eval/run against the emulator served over HTTP, by the CLI
(as a subprocess and in-process) — passing and failing transcripts, exact and regex judges, runs that
must be polled, runs that never end, and transient runs of a config that is not applied."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from behaviour_helpers import GREETING, Served, ToolServer, run_cli, write_repo

from ci_deployer import cli, compose
from ci_deployer.behaviour.evals import Polling
from ci_deployer.behaviour.runner import TestOptions, run_tests
from ci_deployer.settings import Settings


def apply(root: Path, env: str = "uat") -> None:
    assert cli.main(["apply", "--config", str(root), "--env", env, "--auto-approve"]) == 0


def state_record(root: Path, env: str = "uat") -> dict[str, Any]:
    return dict(json.loads((root / ".ci-deployer" / "state" / env / "tests.json").read_text(encoding="utf-8")))


def test_a_passing_golden_transcript_through_the_cli_subprocess(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    apply(root)
    proc = run_cli("test", "--config", str(root), "--env", "uat", "--format", "json", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["kind"], data["env"], data["mode"], data["ok"]) == ("test-results", "uat", "managed", True)
    assert data["counts"] == {"passed": 2, "failed": 0, "errors": 0, "total": 2}
    assert [(r["target"], r["evalSource"], r["targetSource"]) for r in data["evals"]] == [
        ("assistant/billing-agent", "managed", "managed"),
        ("squad/front-door", "managed", "managed"),
    ]
    checkpoints = data["evals"][0]["checkpoints"]
    assert [(c["judge"]["type"], c["status"]) for c in checkpoints] == [
        ("exact", "pass"),
        ("regex", "pass"),
        ("exact", "pass"),
        ("regex", "pass"),
    ]
    assert checkpoints[2]["reply"] == {"content": "", "toolCalls": ["lookup_order"]}
    assert checkpoints[3]["reply"]["content"] == "Order 42 has shipped."  # the mocked tool answer, relayed
    # the results are uat's test state, keyed by the logical hash
    assert state_record(root) == data
    assert data["logicalHash"].startswith("sha256:")


def test_a_failing_transcript_names_the_checkpoint_the_judge_and_the_transcript(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, greeting="Welcome to billing!")
    apply(root)
    proc = run_cli("test", "--config", str(root), "--env", "uat", env=cli_env)
    assert proc.returncode == 1
    out = proc.stdout
    assert "✗ eval/billing-greeting → assistant/billing-agent (eval managed, target managed" in out
    assert "checkpoint 1 of 4 (spec.messages[1]) expected exact 'Welcome to billing!'" in out
    assert f"reply:  '{GREETING}'" in out
    assert "transcript:\n        user: Hi\n        assistant: Billing desk, how can I help?" in out
    assert out.rstrip().endswith("uat: 0 passed, 2 failed, 0 errors (2 tests)")
    assert "error: behavioural tests failed in uat: eval/billing-greeting → assistant/billing-agent" in proc.stderr
    assert "Traceback" not in proc.stderr
    as_json = run_cli("test", "--config", str(root), "--env", "uat", "--format", "json", env=cli_env)
    data = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and data["failure_reason"] == "tests-failed" and data["ok"] is False
    first = data["evals"][0]
    assert first["status"] == "failed" and first["line"] == 12  # the failing judge's line in the eval file
    assert [c["status"] for c in first["checkpoints"]] == ["fail", "pass", "pass", "pass"]
    assert first["checkpoints"][0]["reason"] == f"expected exactly 'Welcome to billing!', got '{GREETING}'"
    assert state_record(root)["ok"] is False


def test_exact_and_regex_judges_fail_for_their_own_reasons(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    doc = root / "evals" / "billing-greeting.yaml"
    doc.write_text(doc.read_text().replace('content: "billing questions"', 'content: "refunds?"'), encoding="utf-8")
    apply(root)
    capsys.readouterr()
    assert cli.main(["test", "--config", str(root), "--env", "uat", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    checkpoint = data["evals"][0]["checkpoints"][1]
    assert checkpoint["status"] == "fail" and checkpoint["judge"] == {"type": "regex", "content": "refunds?"}
    assert checkpoint["reason"] == "'You answer billing questions.' does not match /refunds?/"
    assert checkpoint["excerpt"] == [
        {"role": "user", "content": "What do you do?"},
        {"role": "assistant", "content": "You answer billing questions."},
    ]
    # exact is case-insensitive (Vapi's docs), a JS-style /…/i regex literal is honoured
    assert data["evals"][0]["checkpoints"][3]["status"] == "pass"


def session_for(root: Path, env: str = "uat") -> Any:
    return compose.open_session(Settings.from_environ(os.environ), root, env)


def test_eval_runs_are_polled_until_they_end(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    apply(root)
    served.emulator.eval_run_polls = 3  # POST answers `queued`, then three GETs answer `running`
    naps: list[float] = []
    polling = Polling(timeout=60, interval=0.01, max_interval=0.02, sleep=naps.append)
    with session_for(root) as session:
        report = run_tests(session, TestOptions(only=("assistant/billing-agent",), polling=polling))
    assert [r.status for r in report.evals] == ["passed"]
    polls = [r for r in served.emulator.request_log if r.method == "GET" and r.path.startswith("/eval/run/")]
    assert len(polls) == 4
    assert naps == [0.01, 0.015, 0.02, 0.02]  # backs off ×1.5 up to max_interval


def test_an_eval_run_that_never_ends_times_out_as_an_error(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    apply(root)
    served.emulator.eval_run_polls = 10**9
    proc = run_cli(
        "test",
        "--config",
        str(root),
        "--env",
        "uat",
        "--eval-timeout",
        "0.5",
        "--only",
        "squad/front-door",
        env=cli_env,
    )
    assert proc.returncode == 1
    assert "! eval/billing-greeting → squad/front-door" in proc.stdout
    assert "did not end within 0.5 s (last status: running)" in proc.stdout
    assert "uat: 0 passed, 0 failed, 1 errors (1 tests)" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_target_not_applied_is_an_error_pointing_at_transient(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    assert cli.main(["test", "--config", str(root), "--env", "uat"]) == 1
    out = capsys.readouterr().out
    assert "assistant/billing-agent is not applied in uat: apply it first, or test the config as it is with " in out
    assert "`ci-deployer test --transient`" in out
    assert served.writes("acme-uat") == []


def test_transient_runs_the_config_inline_and_writes_nothing(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url)
    apply(root)
    assert cli.main(["test", "--config", str(root), "--env", "uat"]) == 0
    # a PR: a new greeting (eval and assistant) and a new tool the assistant uses, none of it applied
    new = "Hi, billing and invoices here!"
    write_repo(root, served.url, tool_server.url, greeting=new, first_message=new)
    (root / "tools" / "lookup-invoice.yaml").write_text(
        (root / "tools" / "lookup-order.yaml")
        .read_text()
        .replace("lookup-order", "lookup-invoice")
        .replace("lookup_order", "lookup_invoice"),
        encoding="utf-8",
    )
    agent = root / "assistants" / "billing-agent.yaml"
    agent.write_text(agent.read_text().replace("[lookup-order]", "[lookup-order, lookup-invoice]"), encoding="utf-8")
    before = served.writes("acme-uat")
    assistants_before = served.list("uat", "/assistant")

    capsys.readouterr()
    assert cli.main(["test", "--config", str(root), "--env", "uat", "--format", "json"]) == 1  # uat runs the old one
    managed = json.loads(capsys.readouterr().out)
    assert [r["evalSource"] for r in managed["evals"]] == ["inline", "inline"]  # the eval changed: sent inline
    assert "eval/billing-greeting changed since it was applied in uat" in managed["warnings"][0]
    recorded = state_record(root)
    assert recorded["ok"] is False and recorded["logicalHash"] == managed["logicalHash"]

    assert cli.main(["test", "--config", str(root), "--env", "uat", "--transient", "--format", "json"]) == 0
    transient = json.loads(capsys.readouterr().out)
    assert transient["mode"] == "transient" and transient["ok"] is True
    assert [(r["evalSource"], r["targetSource"]) for r in transient["evals"]] == [("inline", "inline")] * 2
    assert served.writes("acme-uat") == before  # nothing written to the org
    assert served.list("uat", "/assistant") == assistants_before
    assert len(served.list("uat", "/tool")) == 1
    # the run sent the new tool inline and the live one by id
    runs = served.list("uat", "/eval/run")[:2]  # newest first: the transient run's two targets
    inline_assistant = next(r["target"]["assistant"] for r in runs if "assistant" in r["target"])
    assert [t["function"]["name"] for t in inline_assistant["model"]["tools"]] == ["lookup_invoice"]
    assert inline_assistant["model"]["toolIds"] == [served.list("uat", "/tool")[0]["id"]]
    squad_run = next(r for r in runs if "squad" in r["target"])
    assert squad_run["target"]["squad"]["members"][0]["assistant"]["firstMessage"] == new
    # a transient run is never the env's test state
    assert state_record(root) == recorded
