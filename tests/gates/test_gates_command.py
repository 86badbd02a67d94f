"""`ci-deployer gate` end to end: a real config in a real git repo, frozen clocks, mocked GitHub."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
import time_machine

from ci_deployer import cli
from ci_deployer.commands import gate as gate_command
from ci_deployer.errors import GateRefused
from ci_deployer.github.client import ClientOptions
from ci_deployer.settings import Settings

INSIDE = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
OUTSIDE = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Saturday
BASE, HEAD, PR_HEAD = "b" * 40, "e" * 40, "d" * 40
REPO = "https://api.github.com/repos/acme/platform"

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  params: {model: gpt-4.1-mini}
environments:
  dev:
    org: acme-dev
    api: {url: embedded}
  uat:
    org: acme-uat
    api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_UAT}
    params: {model: gpt-4.1}
    protection:
      changeWindows:
        - {days: [mon, tue, wed, thu], start: "09:00", end: "16:00", timezone: America/New_York}
  prod:
    org: acme-prod
    api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_PROD}
    params: {model: gpt-4.1}
    promotesFrom: uat
    protection:
      requiredApprovals: 2
      reviewers: [alice, bob, "@acme/platform-owners"]
      changeWindows:
        - {days: [mon, tue, wed, thu], start: "09:00", end: "16:00", timezone: America/New_York}
      freezes:
        - {from: "2026-12-20", to: "2027-01-04", reason: holiday freeze}
      ticket: {pattern: "(CHG|INC)-[0-9]+", url: "https://jira.acme.example/browse/{ticket}"}
      monitoring:
        - {require: serverMessages, includes: [end-of-call-report, status-update], serverUrl: true}
"""

ASSISTANT = """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata: {name: order-agent}
spec:
  name: "Order Agent (${{ env.name }})"
  model: {provider: openai, model: "${{ params.model }}"}
  serverMessages: [end-of-call-report, status-update]
  server:
    url: https://hooks.acme.example/vapi
    headers: {Authorization: "Bearer secrets://HOOK_TOKEN"}
"""

# The logical spec as written: templates unrendered, secrets as placeholders (what uat applied).
LOGICAL_SPEC = {
    "Assistant/order-agent": {
        "name": "Order Agent (${{ env.name }})",
        "model": {"provider": "openai", "model": "${{ params.model }}"},
        "serverMessages": ["end-of-call-report", "status-update"],
        "server": {
            "url": "https://hooks.acme.example/vapi",
            "headers": {"Authorization": "Bearer secrets://HOOK_TOKEN"},
        },
    }
}
LOGICAL_HASH = (
    "sha256:"
    + hashlib.sha256(
        json.dumps(LOGICAL_SPEC, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "platform"
    (root / "assistants").mkdir(parents=True)
    (root / "environments.yaml").write_text(ENVIRONMENTS, encoding="utf-8")
    (root / "assistants" / "order-agent.yaml").write_text(ASSISTANT, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_EVENT_NAME", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOOK_TOKEN", "hook-secret-value")
    monkeypatch.setenv("VAPI_TOKEN_PROD", "prod-secret-value")
    monkeypatch.setenv("VAPI_TOKEN_UAT", "uat-secret-value")
    return root


def write_snapshot(root: Path, env: str, **fields: Any) -> None:
    data = {
        "formatVersion": 1,
        "kind": "snapshot",
        "env": env,
        "org": f"acme-{env}",
        "orgId": None,
        "sha": BASE,
        "run": "1",
        "appliedAt": "2026-11-27T10:00:00Z",
        "complete": True,
        "logicalHash": LOGICAL_HASH,
        "resources": [],
    }
    data.update(fields)
    folder = root / ".ci-deployer" / "state" / env
    folder.mkdir(parents=True)
    (folder / "snapshot.json").write_text(json.dumps(data), encoding="utf-8")


def run_cli(capsys: pytest.CaptureFixture[str], now: datetime, *argv: str) -> tuple[int, str, str]:
    with time_machine.travel(now, tick=False):
        code = cli.main(["gate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_window_only_env_inside_and_outside(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, INSIDE, "--env", "uat", "--config", str(config))
    assert code == 0
    assert "✅ Change window" in out
    code, out, err = run_cli(capsys, OUTSIDE, "--env", "uat", "--config", str(config))
    assert code == 1
    assert "next window opens Mon 2026-11-30 09:00 America/New_York (14:00 UTC)" in out
    assert err.startswith("error: gates refused the operation on uat: Change window (fail: outside change windows")


def test_break_glass_json_records_the_reason(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, OUTSIDE, "--env", "uat", "--config", str(config), "--format", "json", "--break-glass-reason", "sev1"
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"ok", "formatVersion", "kind", "env", "allowed", "breakGlass", "blocking", "items"}
    assert (data["ok"], data["kind"], data["env"], data["breakGlass"], data["blocking"]) == (
        True,
        "gate",
        "uat",
        "sev1",
        [],
    )
    window = next(i for i in data["items"] if i["id"] == "window")
    assert window["status"] == "pass"
    assert window["evidence"].startswith("break-glass: sev1 (outside change windows;")
    assert set(window) == {"id", "title", "status", "evidence", "blocking", "hint"}


def test_prod_without_github_is_refused_with_one_json_document(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_snapshot(config, "uat")
    checklist = tmp_path / "out" / "checklist.json"
    code, out, _ = run_cli(
        capsys,
        INSIDE,
        "--env",
        "prod",
        "--config",
        str(config),
        "--format",
        "json",
        "--ticket",
        "CHG-9",
        "--checklist-out",
        str(checklist),
    )
    assert code == 1
    data = json.loads(out)  # one document: the report's shape, with the error fields of a refusal
    assert (data["ok"], data["failure_reason"]) == (False, "gate-refused")
    assert (data["kind"], data["env"], data["allowed"]) == ("gate", "prod", False)
    assert "approvals" in data["blocking"] and data["error"].startswith("gates refused the operation on prod")
    by_id = {item["id"]: item for item in data["items"]}
    assert by_id["approvals"]["status"] == "pending"
    assert by_id["approvals"]["evidence"] == "no GitHub context: approvals are checked in CI"
    assert by_id["promotion"]["status"] == "pass"  # independent hash of the logical spec matches
    assert by_id["secrets"]["evidence"] == "all 2 placeholders resolve (values not shown)"
    assert by_id["monitoring.1"]["status"] == "pass"
    assert "secret-value" not in out
    written = json.loads(checklist.read_text(encoding="utf-8"))
    assert [set(i) for i in written] == [{"id", "title", "status", "evidence"}] * len(written)
    assert [i["id"] for i in written] == [i["id"] for i in data["items"]]


def test_missing_secret_is_named(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_TOKEN")
    code, out, _ = run_cli(capsys, INSIDE, "--env", "prod", "--config", str(config))
    assert code == 1
    assert "❌ Secrets present in prod\n    1 of 2 not resolvable: secrets://HOOK_TOKEN\n" in out


def url(path: str) -> re.Pattern[str]:
    return re.compile(r"https://api\.github\.com(:443)?" + re.escape(path) + r"(\?.*)?$")


def mock_github(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET,
        url(f"/repos/acme/platform/compare/{BASE}...{HEAD}"),
        json={"status": "ahead", "commits": [{"sha": HEAD, "url": f"{REPO}/commits/{HEAD}"}], "files": []},
    )
    rsps.add(
        responses.GET,
        url(f"/repos/acme/platform/commits/{HEAD}/pulls"),
        json=[
            {
                "number": 12,
                "title": "CHG-12 route orders",
                "body": "",
                "url": f"{REPO}/pulls/12",
                "head": {"ref": "feature/orders", "sha": PR_HEAD},
                "user": {"login": "carol"},
                "merged_at": "2026-11-27T10:00:00Z",
                "merge_commit_sha": HEAD,
            }
        ],
    )
    rsps.add(
        responses.GET,
        url("/repos/acme/platform/pulls/12/reviews"),
        json=[
            {
                "id": 1,
                "user": {"login": "alice"},
                "state": "APPROVED",
                "commit_id": PR_HEAD,
                "submitted_at": "2026-11-27T09:00:00Z",
            },
            {
                "id": 2,
                "user": {"login": "bob"},
                "state": "APPROVED",
                "commit_id": PR_HEAD,
                "submitted_at": "2026-11-27T09:05:00Z",
            },
            {
                "id": 3,
                "user": {"login": "frank"},
                "state": "APPROVED",
                "commit_id": PR_HEAD,
                "submitted_at": "2026-11-27T09:06:00Z",
            },
        ],
    )
    rsps.add(
        responses.GET,
        url("/repos/acme/platform/pulls/12/commits"),
        json=[
            {
                "sha": PR_HEAD,
                "url": f"{REPO}/commits/{PR_HEAD}",
                "author": {"login": "carol"},
                "committer": {"login": "carol"},
            }
        ],
    )
    rsps.add(
        responses.GET,
        url("/orgs/acme/teams/platform-owners"),
        status=403,
        json={"message": "Resource not accessible by integration"},
    )


def gate_args(config: Path, **kw: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    gate_command.add_arguments(parser)
    args = parser.parse_args(["--env", "prod", "--config", str(config)])
    for key, value in kw.items():
        setattr(args, key, value)
    return args


def environ(actor: str) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": "t0k",
        "GITHUB_REPOSITORY": "acme/platform",
        "GITHUB_SHA": HEAD,
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_ACTOR": actor,
        "HOOK_TOKEN": "hook-token-value",  # placeholder values under 8 characters are refused
        "VAPI_TOKEN_PROD": "prod-token-value",
    }


def test_dispatcher_approval_does_not_count_and_team_denial_is_explained(config: Path) -> None:
    write_snapshot(config, "prod")
    write_snapshot(config, "uat")
    with responses.RequestsMock() as rsps:
        mock_github(rsps)
        report = gate_command.gate_report(
            gate_args(config),
            Settings.from_environ(environ("bob")),
            now=INSIDE,
            github_options=ClientOptions.for_tests(),
        )
    assert not report.allowed
    assert [i.id for i in report.refusing()] == ["approvals"]
    approvals = report.item("approvals")
    assert approvals is not None
    assert approvals.evidence == (
        "#12 CHG-12 route orders: 1/2 approvals (alice); not counted: bob (dispatched this deployment), "
        "frank (not a listed reviewer)\n"
        "teams not checked (@acme/platform-owners): token cannot read org membership of @acme/platform-owners: "
        "grant `members: read` (GitHub App or fine-grained PAT) or list users explicitly"
    )
    ticket = report.item("ticket")
    assert ticket is not None and ticket.evidence == "CHG-12 (PR #12 title) https://jira.acme.example/browse/CHG-12"
    with pytest.raises(GateRefused, match="2 approvals on every merged PR"):
        gate_command.emit(report, "text", None)


def test_full_prod_gate_passes_inside_window_and_refuses_outside(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_snapshot(config, "prod")
    write_snapshot(config, "uat")
    with responses.RequestsMock() as rsps:
        mock_github(rsps)
        report = gate_command.gate_report(
            gate_args(config),
            Settings.from_environ(environ("zed")),
            now=INSIDE,
            github_options=ClientOptions.for_tests(),
        )
    assert report.allowed, report.to_dict()
    assert gate_command.emit(report, "text", None) == 0
    assert capsys.readouterr().out.startswith("Gates for prod: allowed\n")
    with responses.RequestsMock() as rsps:
        mock_github(rsps)
        outside = gate_command.gate_report(
            gate_args(config),
            Settings.from_environ(environ("zed")),
            now=OUTSIDE,
            github_options=ClientOptions.for_tests(),
        )
    assert [i.id for i in outside.refusing()] == ["window"]
