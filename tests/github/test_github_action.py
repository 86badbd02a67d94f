"""The action's entry point run as the container runs it — env vars, event file, output and summary
files, ``INPUT_*`` — with the real engine on embedded orgs, GitHub's REST API mocked by ``responses``
and the results service a loopback fake.  (The whole promotion path, with the example workflows and
a served emulator, is proven in tests/workflows.)"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses

from ci_deployer import cli
from ci_deployer.action import Services, main
from ci_deployer.github.client import ClientOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
API = "https://api.github.com:443/repos/acme/config"
PAYLOAD_API = "https://api.github.com/repos/acme/config"
SECRET = "orders-api-token-SECRET-0123456789"
GITHUB_TOKEN = "ghs_workflowtoken0123456789"
HEAD, BASE, MERGE = "a" * 40, "b" * 40, "9" * 40

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  params: {model: gpt-4.1-mini, ordersUrl: https://orders.dev.acme.example/vapi}
environments:
  dev: {org: acme-dev, api: {url: embedded}}
  uat: {org: acme-uat, api: {url: embedded}}
  prod:
    org: acme-prod
    api: {url: embedded}
    protection: {requiredApprovals: 1, reviewers: [alice]}
"""


def parse_outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) - 1:
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return out


@dataclass
class Run:
    """Files and streams of one action run."""

    environ: dict[str, str]
    workspace: Path
    runner_temp: Path
    stdout: io.StringIO = field(default_factory=io.StringIO)

    @property
    def outputs(self) -> dict[str, str]:
        return parse_outputs(Path(self.environ["GITHUB_OUTPUT"]).read_text(encoding="utf-8"))

    @property
    def summary(self) -> str:
        path = Path(self.environ["GITHUB_STEP_SUMMARY"])
        return path.read_text(encoding="utf-8") if path.exists() else ""

    @property
    def config(self) -> Path:
        return self.workspace / "platform"

    def event(self, name: str, payload: dict[str, Any]) -> None:
        path = self.runner_temp.parent / "workflow" / "event.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload), encoding="utf-8")
        self.environ.update(GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(path))

    def next_step(self, run_id: str) -> None:
        """A new step of a new run: new output and summary files (the runner regenerates them)."""
        for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            Path(self.environ[key]).unlink(missing_ok=True)
        self.stdout = io.StringIO()
        self.environ["GITHUB_RUN_ID"] = run_id


def pr_event(fork: bool = False) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": HEAD, "ref": "feature", "repo": {"full_name": "mallory/config" if fork else "acme/config"}},
            "base": {"sha": BASE, "ref": "main", "repo": {"full_name": "acme/config"}},
        },
        "repository": {"full_name": "acme/config", "default_branch": "main"},
    }


@pytest.fixture
def action_run(tmp_path: Path, fake_results: Any) -> Run:
    workspace = tmp_path / "github" / "workspace"
    shutil.copytree(REPO_ROOT / "examples" / "platform", workspace / "platform", ignore=shutil.ignore_patterns(".ci-*"))
    (workspace / "platform" / "environments.yaml").write_text(ENVIRONMENTS, encoding="utf-8")
    runner_temp = tmp_path / "github" / "runner_temp"
    runner_temp.mkdir(parents=True)
    commands_dir = tmp_path / "github" / "file_commands"
    commands_dir.mkdir()
    environ = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_REPOSITORY": "acme/config",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "plan",
        "GITHUB_SHA": "c" * 40,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(runner_temp),
        "HOME": str(tmp_path / "github" / "home"),
        "GITHUB_OUTPUT": str(commands_dir / "set_output_1"),
        "GITHUB_STEP_SUMMARY": str(commands_dir / "step_summary_1"),
        "ACTIONS_RUNTIME_TOKEN": fake_results.token,
        "ACTIONS_RESULTS_URL": fake_results.url + "/",
        "ORDERS_API_TOKEN": SECRET,
        "INPUT_COMMAND": "plan",
        "INPUT_ENVIRONMENT": "uat",
        "INPUT_CONFIG_PATH": "platform",
        "INPUT_GITHUB_TOKEN": GITHUB_TOKEN,
        "INPUT_PLAN_PATH": "",
        "INPUT_COMMENT": "true",
        "INPUT_ALLOW_DELETES": "false",
        "INPUT_TICKET": "",
        "INPUT_BREAK_GLASS_REASON": "",
        "INPUT_SNAPSHOT": "",
        "INPUT_ARTIFACTS_DIR": "",
    }
    run = Run(environ=environ, workspace=workspace, runner_temp=runner_temp)
    run.event("pull_request", pr_event())
    return run


def run_action(run: Run) -> int:
    services = Services(github_options=ClientOptions.for_tests(), sleep=lambda s: None)
    return main(run.environ, stdout=run.stdout, services=services)


class FakeGitHub:
    """PR #7's comments and the repository's statuses, deployments and artifacts behind the REST API
    (stateful: POST adds, PATCH edits)."""

    def __init__(self, mock: responses.RequestsMock, *, forbid: bool = False) -> None:
        self.mock = mock
        self.comments: list[dict[str, Any]] = [
            {"id": 1, "body": "looks good", "user": {"login": "alice", "type": "User"}, "html_url": "h"}
        ]
        self.statuses: list[tuple[str, dict[str, Any]]] = []
        self.deployments: list[dict[str, Any]] = []
        self.deployment_statuses: list[str] = []
        self.forbid = forbid
        mock.add_callback(responses.GET, f"{API}/issues/7/comments", callback=self._list)
        mock.add_callback(responses.POST, f"{API}/issues/7/comments", callback=self._create)
        mock.add_callback(responses.PATCH, re.compile(rf"{re.escape(API)}/issues/comments/\d+"), callback=self._edit)
        mock.add_callback(responses.POST, re.compile(rf"{re.escape(API)}/statuses/\w+"), callback=self._status)
        mock.add_callback(responses.POST, f"{API}/deployments", callback=self._deploy)
        mock.add_callback(
            responses.POST, re.compile(rf"{re.escape(API)}/deployments/\d+/statuses"), callback=self._deploy_status
        )
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(API)}/deployments(\?.*)?$"), callback=self._deploys)

    def writes(self) -> list[str]:
        return [f"{c.request.method} {c.request.url}" for c in self.mock.calls if c.request.method != "GET"]

    def _forbidden(self) -> tuple[int, dict[str, str], str]:
        return 403, {}, json.dumps({"message": "Resource not accessible by integration"})

    def _json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {**comment, "url": f"{PAYLOAD_API}/issues/comments/{comment['id']}"}

    def _list(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps([self._json(c) for c in self.comments])

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.forbid:
            return self._forbidden()
        comment = {
            "id": 100 + len(self.comments),
            "body": json.loads(request.body)["body"],
            "user": {"login": "github-actions[bot]", "type": "Bot"},
        }
        comment["html_url"] = f"https://github.com/acme/config/pull/7#issuecomment-{comment['id']}"
        self.comments.append(comment)
        return 201, {}, json.dumps(self._json(comment))

    def _edit(self, request: Any) -> tuple[int, dict[str, str], str]:
        cid = int(request.url.rsplit("/", 1)[1])
        comment = next(c for c in self.comments if c["id"] == cid)
        comment["body"] = json.loads(request.body)["body"]
        return 200, {}, json.dumps(self._json(comment))

    def _status(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.forbid:
            return self._forbidden()
        body = json.loads(request.body)
        self.statuses.append((request.url.rsplit("/", 1)[1], body))
        return 201, {}, json.dumps({"id": len(self.statuses), **body})

    def _deploy(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        deployment = {
            "id": 70 + len(self.deployments),
            **body,
            "url": f"{PAYLOAD_API}/deployments/{70 + len(self.deployments)}",
        }
        self.deployments.append(deployment)
        return 201, {}, json.dumps(deployment)

    def _deploy_status(self, request: Any) -> tuple[int, dict[str, str], str]:
        state = json.loads(request.body)["state"]
        self.deployment_statuses.append(state)
        return 201, {}, json.dumps({"id": len(self.deployment_statuses), "state": state})

    def _deploys(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps([])


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeGitHub(mock)


def assert_no_secret_anywhere(run: Run, github: FakeGitHub, fake_results: Any) -> None:
    bodies = [str(call.request.body or "") for call in github.mock.calls]
    bodies += [body.decode("utf-8", "replace") for _, _, _, body in fake_results.requests]
    bodies += [blob.decode("latin-1") for blob in fake_results.blobs.values()]
    files = [
        p.read_text(encoding="utf-8", errors="replace")
        for root in (run.runner_temp, run.workspace / ".ci-deployer")
        for p in root.rglob("*")
        if p.is_file()
    ]
    files += [Path(run.environ["GITHUB_OUTPUT"]).read_text(encoding="utf-8"), run.summary]
    # ::add-mask:: lines are consumed by the runner, never shown; everything else must be clean
    log = "\n".join(line for line in run.stdout.getvalue().splitlines() if not line.startswith("::add-mask::"))
    for text in [*bodies, *files, log]:
        assert SECRET not in text
        assert GITHUB_TOKEN not in text


# -- validate ----------------------------------------------------------------------------------------------


def test_validate_writes_outputs_and_summary_and_masks_the_token_first(action_run: Run) -> None:
    action_run.environ.update(INPUT_COMMAND="validate", INPUT_ENVIRONMENT="")
    code = run_action(action_run)
    outputs = action_run.outputs
    assert code == 0, action_run.stdout.getvalue()
    assert outputs["exit_code"] == "0" and outputs["failure_reason"] == "" and outputs["has_changes"] == "false"
    assert outputs["summary"] == "validate: 0 errors, 0 warnings"
    assert set(outputs) == {"has_changes", "plan_hash", "failure_reason", "summary", "exit_code", "artifacts_dir"}
    # a path later (host) steps can read: workspace-relative
    assert outputs["artifacts_dir"] == ".ci-deployer/artifacts/all-validate-4242-1"
    assert (action_run.workspace / outputs["artifacts_dir"]).is_dir()
    assert "### ✅ ci-deployer validate" in action_run.summary
    assert action_run.stdout.getvalue().startswith(f"::add-mask::{GITHUB_TOKEN}\n")


def test_validate_and_plan_annotate_the_same_workspace_relative_paths(action_run: Run, github: FakeGitHub) -> None:
    bad = action_run.config / "tools" / "broken.yaml"
    bad.write_text("apiVersion: ci-deployer/v1\nkind: Tool\nmetadata:\n  name: Broken_1\nspec: {type: function}\n")
    action_run.environ.update(INPUT_COMMAND="validate", INPUT_ENVIRONMENT="")
    assert run_action(action_run) == 1
    validate_errors = [line for line in action_run.stdout.getvalue().splitlines() if line.startswith("::error file=")]
    assert validate_errors and all(
        line.startswith("::error file=platform/tools/broken.yaml") for line in validate_errors
    )
    assert action_run.outputs["failure_reason"] == "invalid-config"

    action_run.next_step("4243")
    action_run.environ.update(INPUT_COMMAND="plan", INPUT_ENVIRONMENT="uat")
    assert run_action(action_run) == 1
    plan_errors = [line for line in action_run.stdout.getvalue().splitlines() if line.startswith("::error file=")]
    assert plan_errors and all(line.startswith("::error file=platform/tools/broken.yaml") for line in plan_errors)
    assert action_run.outputs["failure_reason"] == "invalid-config"
    # the sticky comment says the plan failed, and the plan status is a failure
    assert "invalid-config" in github.comments[-1]["body"]
    assert github.statuses[-1][1]["state"] == "failure"


# -- plan ----------------------------------------------------------------------------------------------------


def test_plan_comments_sets_its_status_and_uploads_then_edits_the_comment(
    action_run: Run, github: FakeGitHub, fake_results: Any
) -> None:
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    outputs = action_run.outputs
    assert outputs["has_changes"] == "true" and outputs["exit_code"] == "0" and outputs["failure_reason"] == ""
    assert outputs["plan_hash"].startswith("sha256:")
    assert outputs["summary"] == "uat: 8 to create, 0 to update, 0 to delete"
    assert len(github.comments) == 2
    body = github.comments[1]["body"]
    assert body.startswith('<!-- ci-deployer:v1 {"env":"uat","planHash":"' + outputs["plan_hash"])
    assert f'"baseSha":"{BASE}","headSha":"{HEAD}"' in body
    assert "**8 to create, 0 to update, 0 to delete**" in body
    assert "https://github.com/acme/config/actions/runs/4242" in body
    assert github.statuses == [
        (
            HEAD,
            {
                "state": "success",
                "target_url": "https://github.com/acme/config/actions/runs/4242",
                "description": "uat: 8 to create, 0 to update, 0 to delete",
                "context": "ci-deployer/plan (uat)",
            },
        )
    ]
    name = "ci-deployer-uat-plan-4242-1-plan"
    assert name in fake_results.finalized
    with zipfile.ZipFile(io.BytesIO(fake_results.blobs[name])) as archive:
        assert json.loads(archive.read("plan.json"))["hash"] == outputs["plan_hash"]
        assert archive.read("plan.md").decode().startswith("### 📝 ci-deployer plan for `uat`")

    # the config is applied; the next plan of the PR says so in the same comment
    assert (
        cli.main(["apply", "--config", str(action_run.config), "--env", "uat", "--auto-approve"], action_run.environ)
        == 0
    )
    action_run.next_step("4244")
    action_run.environ["GITHUB_ACTIONS"] = "false"  # state: the local folder the apply above wrote
    assert run_action(action_run) == 0
    assert len(github.comments) == 2 and "**No changes.**" in github.comments[1]["body"]
    assert action_run.outputs["has_changes"] == "false"
    assert_no_secret_anywhere(action_run, github, fake_results)


def test_a_fork_pr_gets_validate_and_a_snapshot_plan_in_the_summary_and_writes_nothing(
    action_run: Run, github: FakeGitHub
) -> None:
    action_run.event("pull_request", pr_event(fork=True))
    del action_run.environ["ORDERS_API_TOKEN"]  # forks get no secrets
    action_run.environ["GITHUB_ACTIONS"] = "false"  # state: the local folder (no artifacts to read here)
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert github.writes() == []
    assert "a fork PR" in action_run.stdout.getvalue()
    assert "**8 to create, 0 to update, 0 to delete**" in action_run.summary
    assert "`secrets://ORDERS_API_TOKEN`: unknown (not resolvable here)" in action_run.summary


@pytest.mark.parametrize("env", ["uat", "prod"])
def test_a_pr_job_without_any_github_token_says_the_env_was_not_planned_and_stays_green(
    action_run: Run, github: FakeGitHub, env: str
) -> None:
    environments = action_run.config / "environments.yaml"  # uat reviewed against its snapshot
    environments.write_text(
        ENVIRONMENTS.replace(
            "uat: {org: acme-uat, api: {url: embedded}}",
            "uat: {org: acme-uat, api: {url: embedded}, planAgainst: snapshot}",
        ),
        encoding="utf-8",
    )
    action_run.event("pull_request", pr_event(fork=True))
    del action_run.environ["ORDERS_API_TOKEN"]
    action_run.environ.update(INPUT_GITHUB_TOKEN="", INPUT_ENVIRONMENT=env)  # a fork's or Dependabot's job
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert github.writes() == []
    assert action_run.outputs["summary"] == f"{env}: not planned (no GitHub token to read its last snapshot)"
    assert action_run.outputs["plan_hash"] == "" and action_run.outputs["has_changes"] == "false"
    assert f"### ⏭️ {env}: not planned" in action_run.summary and "The config validated." in action_run.summary
    assert "to create" not in action_run.summary  # never a plan that calls every resource new
    assert f"::warning::{env}: not planned: this job has no GitHub token" in action_run.stdout.getvalue()


def test_without_any_github_token_an_unprotected_env_with_its_key_is_still_planned_live(
    action_run: Run, github: FakeGitHub
) -> None:
    action_run.environ.update(INPUT_GITHUB_TOKEN="")  # uat plans live with its key: no state needed to review
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert action_run.outputs["summary"] == "uat: 8 to create, 0 to update, 0 to delete"
    assert github.writes() == []


def test_without_a_runtime_token_artifacts_stay_on_disk_with_a_notice(
    action_run: Run, github: FakeGitHub, fake_results: Any
) -> None:
    del action_run.environ["ACTIONS_RUNTIME_TOKEN"]
    assert run_action(action_run) == 0
    assert fake_results.requests == []
    assert "::notice::artifact upload skipped: no Actions runtime token here" in action_run.stdout.getvalue()
    assert (action_run.workspace / action_run.outputs["artifacts_dir"] / "plan.json").is_file()


# -- apply ------------------------------------------------------------------------------------------------


def push_merge_of_pr_7(run: Run, github: FakeGitHub, planned_hash: str, *, base_sha: str = BASE) -> None:
    """A push of the merge commit of PR #7, whose sticky comment recorded ``planned_hash``."""
    run.event("push", {"ref": "refs/heads/main", "after": MERGE, "repository": {"default_branch": "main"}})
    run.environ.update(INPUT_COMMAND="apply", GITHUB_REF="refs/heads/main", GITHUB_JOB="apply", GITHUB_SHA=MERGE)
    github.mock.get(f"{API}/actions/artifacts", json={"total_count": 0, "artifacts": []})  # nothing applied yet
    github.mock.get(
        f"{API}/commits/{MERGE}/pulls",
        json=[
            {
                "number": 7,
                "merge_commit_sha": MERGE,
                "merged_at": "2026-12-01T10:00:00Z",
                "title": "Orders",
                "body": "",
                "url": f"{PAYLOAD_API}/pulls/7",
                "user": {"login": "carol"},
                "head": {"sha": HEAD, "ref": "feature"},
                "base": {"sha": BASE, "ref": "main"},
            }
        ],
    )
    github.mock.get(f"{API}/pulls/7/reviews", json=[])
    github.mock.get(f"{API}/pulls/7/commits", json=[])
    github.mock.get(
        f"{API}/commits/{MERGE}", json={"sha": MERGE, "parents": [{"sha": base_sha}, {"sha": HEAD}], "files": []}
    )
    marker = (
        f'<!-- ci-deployer:v1 {{"env":"uat","planHash":"{planned_hash}","baseSha":"{BASE}","headSha":"{HEAD}"}} -->'
    )
    github.comments.append({"id": 5, "body": marker, "user": {"login": "github-actions[bot]", "type": "Bot"}})


def reviewed_plan_hash(run: Run) -> str:
    """The hash a PR job would have posted: the action's own plan of the PR."""
    assert run_action(run) == 0, run.stdout.getvalue()
    return run.outputs["plan_hash"]


def test_apply_on_push_applies_the_reviewed_plan_and_records_it(
    action_run: Run, github: FakeGitHub, fake_results: Any
) -> None:
    planned = reviewed_plan_hash(action_run)
    github.comments.clear()
    action_run.next_step("4300")
    push_merge_of_pr_7(action_run, github, planned)
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert "comparing with the plan comment on #7" in action_run.stdout.getvalue()
    assert action_run.outputs["plan_hash"] == planned
    assert [d["environment"] for d in github.deployments] == ["uat"] and github.deployments[0]["ref"] == MERGE
    assert github.deployment_statuses == ["in_progress", "success"]
    assert github.statuses[-1][0] == MERGE and github.statuses[-1][1]["context"] == "ci-deployer/apply (uat)"
    assert github.statuses[-1][1]["state"] == "success"
    name = "ci-deployer-uat-apply-4300-1-apply"
    with zipfile.ZipFile(io.BytesIO(fake_results.blobs[name])) as archive:
        names = set(archive.namelist())
    assert {"apply-log.jsonl", "backup-before.json", "snapshot-after.json", "apply-result.json", "plan.json"} <= names
    assert_no_secret_anywhere(action_run, github, fake_results)


def test_apply_on_push_refuses_a_plan_that_changed_since_review(action_run: Run, github: FakeGitHub) -> None:
    reviewed_plan_hash(action_run)
    github.comments.clear()
    action_run.next_step("4301")
    push_merge_of_pr_7(action_run, github, "sha256:" + "0" * 64)
    assert run_action(action_run) == 1
    assert action_run.outputs["failure_reason"] == "plan-changed"
    assert "The plan changed since it was reviewed" in action_run.summary
    log = (action_run.workspace / action_run.outputs["artifacts_dir"] / "apply-log.jsonl").read_text()
    assert [json.loads(line)["method"] for line in log.splitlines() if "method" in line] == ["GET"] * 7
    assert github.deployment_statuses == ["in_progress", "failure"]
    assert github.statuses[-1][1]["state"] == "failure"


def test_apply_on_push_without_a_plan_made_on_what_was_merged_plans_afresh(action_run: Run, github: FakeGitHub) -> None:
    action_run.next_step("4302")
    push_merge_of_pr_7(action_run, github, "sha256:" + "0" * 64, base_sha="f" * 40)  # main moved after the plan
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert "was not made on what was merged" in action_run.stdout.getvalue()


def test_a_protected_env_is_not_deployed_by_a_push(action_run: Run, github: FakeGitHub) -> None:
    action_run.next_step("4303")
    push_merge_of_pr_7(action_run, github, "sha256:x")
    action_run.environ["INPUT_ENVIRONMENT"] = "prod"
    assert run_action(action_run) == 1
    assert action_run.outputs["failure_reason"] == "gate-refused"
    assert "promote-prod.yml" in action_run.stdout.getvalue()


def test_apply_seeds_the_env_state_from_default_branch_artifacts(
    action_run: Run, github: FakeGitHub, fake_results: Any
) -> None:
    """A fresh checkout has no local state: the ids of earlier applies come from the newest apply
    artifact of a default-branch run, so a rerun finds what exists instead of creating it again."""
    first = action_run.workspace.parent / "first"
    assert (
        cli.main(
            ["apply", "--config", str(action_run.config), "--env", "uat", "--auto-approve", "--out-dir", str(first)],
            action_run.environ,
        )
        == 0
    )
    shutil.rmtree(action_run.config / ".ci-deployer" / "state")  # the fresh checkout: no local state
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(first / "snapshot-after.json", "snapshot-after.json")
    github.mock.get(
        f"{API}/actions/artifacts",
        json={
            "total_count": 1,
            "artifacts": [
                {
                    "id": 14,
                    "name": "ci-deployer-uat-apply-86-1-apply",
                    "expired": False,
                    "archive_download_url": f"{PAYLOAD_API}/actions/artifacts/14/zip",
                    "workflow_run": {"id": 86, "head_branch": "main", "head_sha": "d" * 40, "repository_id": 1},
                }
            ],
        },
    )
    github.mock.get(
        f"{API}/actions/runs/86",
        json={"id": 86, "event": "push", "head_branch": "main", "head_repository": {"full_name": "acme/config"}},
    )
    github.mock.get(
        f"{PAYLOAD_API}/actions/artifacts/14/zip", status=302, headers={"Location": "https://blobs.example/14?sig=z"}
    )
    github.mock.get("https://blobs.example/14", body=buffer.getvalue(), content_type="application/zip")
    action_run.event("workflow_dispatch", {"inputs": {}, "repository": {"default_branch": "main"}})
    action_run.environ.update(INPUT_COMMAND="apply", GITHUB_REF="refs/heads/main", GITHUB_JOB="apply")
    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    assert "state of uat: ci-deployer-uat-apply-86-1-apply" in action_run.stdout.getvalue()
    result = json.loads((action_run.workspace / action_run.outputs["artifacts_dir"] / "apply-result.json").read_text())
    assert result["counts"]["ok"] == 0  # everything was found: nothing created twice


def test_apply_refuses_when_the_env_state_cannot_be_read(action_run: Run, github: FakeGitHub) -> None:
    action_run.event("workflow_dispatch", {"inputs": {}, "repository": {"default_branch": "main"}})
    action_run.environ.update(INPUT_COMMAND="apply", GITHUB_REF="refs/heads/main", GITHUB_JOB="apply")
    github.mock.get(f"{API}/actions/artifacts", status=500, json={"message": "boom"})
    assert run_action(action_run) == 1
    assert action_run.outputs["failure_reason"] == "state-error"
    assert "give the job `actions: read`" in action_run.stdout.getvalue()
    assert not list((action_run.workspace / ".ci-deployer" / "artifacts").rglob("apply-log.jsonl"))


def test_a_pr_plan_covers_what_the_pr_touched_and_says_so(
    action_run: Run, github: FakeGitHub, fake_results: Any
) -> None:
    """The PR's plan is --changed-since its base commit: partial, said in the comment, the scope in
    the marker; its hash is not the full plan's."""
    from support.gitrepo import git

    workspace = action_run.workspace
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "base")
    base = git(workspace, "rev-parse", "HEAD")
    prompt = action_run.config / "prompts" / "returns-agent.md"
    prompt.write_text(prompt.read_text(encoding="utf-8") + "\nAlways confirm the order number.\n", encoding="utf-8")
    git(workspace, "commit", "-q", "-am", "a prompt edit")
    event = pr_event()
    event["pull_request"]["base"]["sha"] = base
    action_run.event("pull_request", event)

    assert run_action(action_run) == 0, action_run.stdout.getvalue()
    body = github.comments[-1]["body"]
    marker = json.loads(re.search(r"<!-- ci-deployer:v1 (\{.*?\}) -->", body).group(1))  # type: ignore[union-attr]
    assert marker["planHash"] == action_run.outputs["plan_hash"]
    assert marker["scope"]["partial"] is True and marker["scope"]["changedSince"] == base
    assert "Assistant/returns-agent" in marker["scope"]["keys"]
    assert "Squad/order-support" in marker["scope"]["keys"]  # references the edited assistant
    assert "🔎 **Partial plan:" in body
    plan = json.loads((workspace / action_run.outputs["artifacts_dir"] / "plan.json").read_text(encoding="utf-8"))
    assert plan["scope"]["keys"] == marker["scope"]["keys"]
    assert {f"{c['kind']}/{c['slug']}" for c in plan["changes"]} <= set(marker["scope"]["keys"])

    full = cli.main(
        [
            "plan",
            "--config",
            str(action_run.config),
            "--env",
            "uat",
            "--format",
            "json",
            "--out",
            str(workspace / "f.json"),
        ],
        {**action_run.environ, "GITHUB_ACTIONS": "false"},
    )
    assert full == 0
    assert json.loads((workspace / "f.json").read_text(encoding="utf-8"))["hash"] != marker["planHash"]
