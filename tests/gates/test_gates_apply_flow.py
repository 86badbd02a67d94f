"""The full flow: a prod apply through the engine (embedded emulator) with the gates as its
pre-write check.  Outside a window: refused, nothing written.  Inside with approvals: applied.
With break-glass: applied, and the reason is in the recorded report."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from ci_deployer import compose
from ci_deployer.engine.operations import ApplyOptions, apply
from ci_deployer.errors import GateRefused
from ci_deployer.gates.hook import REPORT_FILE, report_writer
from ci_deployer.gates.model import GateReport
from ci_deployer.github.client import ClientOptions
from ci_deployer.settings import Settings

INSIDE = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
OUTSIDE = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Saturday
HEAD, PR_HEAD = "e" * 40, "d" * 40
REPO = "https://api.github.com/repos/acme/platform"

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
environments:
  prod:
    org: acme-prod
    api: {url: embedded}
    protection:
      requiredApprovals: 1
      reviewers: [alice]
      changeWindows:
        - {days: [mon, tue, wed, thu], start: "09:00", end: "16:00", timezone: America/New_York}
"""

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: end-call}
spec: {type: endCall}
"""

ENVIRON = {
    "GITHUB_TOKEN": "t0k",
    "GITHUB_REPOSITORY": "acme/platform",
    "GITHUB_SHA": HEAD,
    "GITHUB_EVENT_NAME": "workflow_dispatch",
    "GITHUB_ACTOR": "zed",
}


def url(path: str) -> re.Pattern[str]:
    return re.compile(r"https://api\.github\.com(:443)?" + re.escape(path) + r"(\?.*)?$")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    config = tmp_path / "platform"
    (config / "tools").mkdir(parents=True)
    (config / "environments.yaml").write_text(ENVIRONMENTS, encoding="utf-8")
    (config / "tools" / "end-call.yaml").write_text(TOOL, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return config


def mock_github(rsps: responses.RequestsMock) -> None:
    # Nothing applied yet: only the PRs of the head commit are checked.
    rsps.add(
        responses.GET,
        url(f"/repos/acme/platform/commits/{HEAD}/pulls"),
        json=[
            {
                "number": 5,
                "title": "Add end-call tool",
                "body": "",
                "url": f"{REPO}/pulls/5",
                "head": {"ref": "feat", "sha": PR_HEAD},
                "user": {"login": "carol"},
                "merged_at": "2026-11-27T10:00:00Z",
                "merge_commit_sha": HEAD,
            }
        ],
    )
    rsps.add(
        responses.GET,
        url("/repos/acme/platform/pulls/5/reviews"),
        json=[
            {
                "id": 1,
                "user": {"login": "alice"},
                "state": "APPROVED",
                "commit_id": PR_HEAD,
                "submitted_at": "2026-11-27T09:00:00Z",
            }
        ],
    )
    rsps.add(responses.GET, url("/repos/acme/platform/pulls/5/commits"), json=[])


def run_apply(root: Path, now: datetime, out: Path, break_glass: str | None = None) -> list[GateReport]:
    reports: list[GateReport] = []
    writer = report_writer(out)

    def record(report: GateReport) -> None:
        reports.append(report)
        writer(report)

    settings = Settings.from_environ(ENVIRON)
    with compose.open_session(settings, root, "prod") as session:
        check = compose.pre_write_check(
            session,
            settings,
            root,
            compose.GateRequest(sha=HEAD, break_glass_reason=break_glass, backup=out / "backup-before.json"),
            github=compose.github_source(settings, ClientOptions.for_tests()),
            record=record,
            clock=lambda: now,
        )
        with responses.RequestsMock() as rsps:
            mock_github(rsps)
            apply(session, ApplyOptions(out_dir=out, pre_write_check=check))
    return reports


def live_tools(root: Path) -> list[dict[str, object]]:
    with compose.open_session(Settings(), root, "prod") as session:
        return session.client().list("Tool")


def api_writes(out: Path) -> list[str]:
    log = out / "apply-log.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [e["method"] for e in map(json.loads, lines) if e.get("method", "GET") != "GET"]


def test_outside_window_refused_with_no_api_write(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run1"
    with pytest.raises(GateRefused, match="Change window"):
        run_apply(root, OUTSIDE, out)
    assert live_tools(root) == []
    assert api_writes(out) == []
    # the backup is a local file taken before the gates run (so the backup gate can verify it); no API write
    assert (out / "backup-before.json").is_file()
    recorded = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert (recorded["allowed"], recorded["blocking"]) == (False, ["window"])


def test_inside_window_with_approvals_applies(root: Path, tmp_path: Path) -> None:
    reports = run_apply(root, INSIDE, tmp_path / "run2")
    assert reports[0].allowed and reports[0].break_glass is None
    approvals = reports[0].item("approvals")
    assert approvals is not None and approvals.evidence == "#5 Add end-call tool: 1/1 approvals (alice)"
    plan = reports[0].item("plan")
    assert plan is not None and plan.evidence.endswith("no reviewed plan hash found")
    assert [t["type"] for t in live_tools(root)] == ["endCall"]
    assert api_writes(tmp_path / "run2") == ["POST"]


def test_break_glass_applies_and_records_the_reason(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run3"
    reports = run_apply(root, OUTSIDE, out, break_glass="INC-77 callers stuck in a loop")
    assert reports[0].break_glass == "INC-77 callers stuck in a loop"
    assert len(live_tools(root)) == 1
    recorded = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert recorded["breakGlass"] == "INC-77 callers stuck in a loop"
    window = next(i for i in recorded["items"] if i["id"] == "window")
    assert window["evidence"].startswith("break-glass: INC-77 callers stuck in a loop (outside change windows;")
