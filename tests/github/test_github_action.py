"""End-to-end: the action's entry point run as the container runs it — env vars, event file, output and
summary files, ``INPUT_*`` — with GitHub's REST API mocked by ``responses`` and the results service a
local fake.  ``validate`` runs the real CLI; plan/apply run the real CLI when the engine exists and a
stand-in engine (writing the files the CLI documents in docs/formats.md) otherwise."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses

from ci_deployer import cli, redact
from ci_deployer.action import Services, main
from ci_deployer.github.client import ClientOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
API = "https://api.github.com:443/repos/acme/config"
SECRET = "sk-vapi-SECRET-0123456789"
GITHUB_TOKEN = "ghs_workflowtoken0123456789"

TINY_ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
environments:
  dev: {org: acme-dev, api: {url: embedded}}
  uat: {org: acme-uat, api: {url: embedded}}
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

    def event(self, name: str, payload: dict[str, Any]) -> None:
        path = self.runner_temp.parent / "workflow" / "event.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload), encoding="utf-8")
        self.environ.update(GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(path))

    def fresh_files(self) -> None:
        """A new step: new output and summary files (the runner regenerates them per step)."""
        for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            Path(self.environ[key]).unlink(missing_ok=True)
        self.stdout = io.StringIO()


@pytest.fixture
def action_run(tmp_path: Path, fake_results: Any) -> Run:
    workspace = tmp_path / "github" / "workspace"
    config = workspace / "platform"
    example = REPO_ROOT / "examples" / "platform"
    if (example / "environments.yaml").is_file():
        shutil.copytree(example, config)
    else:
        config.mkdir(parents=True)
        (config / "environments.yaml").write_text(TINY_ENVIRONMENTS, encoding="utf-8")
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
        "GITHUB_SHA": "9" * 40,
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
    run.event("pull_request", _pr_event())
    return run


def _pr_event(fork: bool = False) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": "a" * 40, "repo": {"full_name": "mallory/config" if fork else "acme/config"}},
            "base": {"sha": "b" * 40, "repo": {"full_name": "acme/config"}},
        },
        "repository": {"full_name": "acme/config", "default_branch": "main"},
    }


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# The flags docs/formats.md and the engine's brief promise for plan and apply.
DOCUMENTED_OPTIONS = {
    "plan": {"--env", "--config", "--format", "--out", "--markdown", "--against", "--detailed-exitcode"},
    "apply": {"--env", "--config", "--format", "--plan", "--auto-approve", "--allow-deletes", "--out-dir"},
}


def run_action(run: Run, **services: Any) -> int:
    if "cli_main" in services:
        services.setdefault("cli_options", lambda command: DOCUMENTED_OPTIONS.get(command, set()))
    return main(
        run.environ,
        stdout=run.stdout,
        services=Services(github_options=ClientOptions.for_tests(), sleep=lambda s: None, **services),
    )


# -- a stand-in engine, for plan/apply while the real one is not there ----------------------------------


class StandInEngine:
    """Writes what `plan --out` and `apply --out-dir` write (docs/formats.md); delegates the rest."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        # a secret resolved during the command, and printed by mistake: must never escape
        redact.register(SECRET)
        print(f"resolved {SECRET}")
        if argv[0] == "plan":
            out = Path(argv[argv.index("--out") + 1])
            out.write_text(json.dumps(self.plan), encoding="utf-8")
            Path(argv[argv.index("--markdown") + 1]).write_text("# plan\n", encoding="utf-8")
            return 0
        if argv[0] == "apply":
            out_dir = Path(argv[argv.index("--out-dir") + 1])
            (out_dir / "apply-log.jsonl").write_text('{"request": "POST /assistant"}\n', encoding="utf-8")
            (out_dir / "backup-before.json").write_text('{"kind": "snapshot"}', encoding="utf-8")
            (out_dir / "snapshot-after.json").write_text('{"kind": "snapshot", "env": "uat"}', encoding="utf-8")
            return 0
        return cli.main(argv)


@pytest.fixture
def small_plan() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "plan-small.json").read_text(encoding="utf-8"))
    data["against"] = "live"
    return data


class FakeIssue:
    """PR #7's comments behind GitHub's REST API (stateful: POST adds, PATCH edits)."""

    def __init__(self, mock: responses.RequestsMock, *, forbid: bool = False) -> None:
        self.comments: list[dict[str, Any]] = [
            {"id": 1, "body": "looks good", "user": {"login": "alice", "type": "User"}, "html_url": "h"}
        ]
        self.forbid = forbid
        mock.add_callback(responses.GET, f"{API}/issues/7/comments", callback=self._list)
        mock.add_callback(responses.POST, f"{API}/issues/7/comments", callback=self._create)
        mock.add_callback(responses.PATCH, re.compile(rf"{re.escape(API)}/issues/comments/\d+"), callback=self._edit)

    def _json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {**comment, "url": f"https://api.github.com/repos/acme/config/issues/comments/{comment['id']}"}

    def _list(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps([self._json(c) for c in self.comments])

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.forbid:
            return 403, {}, json.dumps({"message": "Resource not accessible by integration"})
        body = json.loads(request.body)["body"]
        comment = {
            "id": 100 + len(self.comments),
            "body": body,
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


@pytest.fixture
def github() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def assert_no_secret_anywhere(run: Run, github: responses.RequestsMock, fake_results: Any) -> None:
    bodies = [str(call.request.body or "") for call in github.calls]
    bodies += [body.decode("utf-8", "replace") for _, _, _, body in fake_results.requests]
    bodies += [blob.decode("latin-1") for blob in fake_results.blobs.values()]
    files = [p.read_text(encoding="utf-8", errors="replace") for p in run.runner_temp.rglob("*") if p.is_file()]
    files += [Path(run.environ["GITHUB_OUTPUT"]).read_text(encoding="utf-8"), run.summary]
    # ::add-mask:: lines are consumed by the runner, never shown; everything else must be clean
    log = "\n".join(line for line in run.stdout.getvalue().splitlines() if not line.startswith("::add-mask::"))
    for text in [*bodies, *files, log]:
        assert SECRET not in text
        assert GITHUB_TOKEN not in text


# -- validate, the real CLI ---------------------------------------------------------------------------------


def test_validate_writes_outputs_and_summary_and_nothing_into_the_workspace(action_run: Run) -> None:
    action_run.environ.update(INPUT_COMMAND="validate", INPUT_ENVIRONMENT="")
    before = _listing(action_run.workspace)
    code = run_action(action_run)
    outputs = action_run.outputs
    assert code == 0, action_run.stdout.getvalue()
    assert outputs["exit_code"] == "0" and outputs["failure_reason"] == "" and outputs["has_changes"] == "false"
    assert outputs["summary"] == "validate: 0 errors, 0 warnings"
    assert set(outputs) == {"has_changes", "plan_hash", "failure_reason", "summary", "exit_code", "artifacts_dir"}
    assert Path(outputs["artifacts_dir"]).is_relative_to(action_run.runner_temp)
    assert "### ✅ ci-deployer validate" in action_run.summary
    assert _listing(action_run.workspace) == before
    # the token was masked before anything else was printed
    assert action_run.stdout.getvalue().startswith(f"::add-mask::{GITHUB_TOKEN}\n")


def test_validation_errors_are_annotated_on_workspace_paths_and_fail_the_step(action_run: Run) -> None:
    action_run.environ.update(INPUT_COMMAND="validate", INPUT_ENVIRONMENT="")
    bad = action_run.workspace / "platform" / "tools"
    bad.mkdir(exist_ok=True)
    for i in range(12):
        (bad / f"broken-{i:02d}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata:\n  name: Broken_{i}\nspec: {{type: function}}\n",
            encoding="utf-8",
        )
    code = run_action(action_run)
    log = action_run.stdout.getvalue()
    assert code == 1
    assert action_run.outputs["failure_reason"] == "invalid-config"
    errors = [line for line in log.splitlines() if line.startswith("::error file=")]
    assert 1 <= len(errors) <= 10
    assert all(line.startswith("::error file=platform/tools/broken-") for line in errors[:1])
    assert "### ❌ ci-deployer validate" in action_run.summary
    if len(errors) == 10:  # more findings than the display limit: the summary says which were not annotated
        assert "⤵" in action_run.summary


# -- plan: sticky comment, summary, outputs, artifacts --------------------------------------------------------


def test_first_plan_creates_the_comment_and_the_second_edits_it(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    issue = FakeIssue(github)
    engine = StandInEngine(small_plan)
    assert run_action(action_run, cli_main=engine) == 0, action_run.stdout.getvalue()
    outputs = action_run.outputs
    assert outputs["has_changes"] == "true" and outputs["exit_code"] == "0" and outputs["failure_reason"] == ""
    assert outputs["plan_hash"] == "sha256:feed"
    assert outputs["summary"] == "uat: 2 to create, 1 to update, 1 to delete; 1 drifted"
    assert len(issue.comments) == 2
    body = issue.comments[1]["body"]
    assert body.startswith('<!-- ci-deployer:v1 {"env":"uat","planHash":"sha256:feed","baseSha":"' + "b" * 40)
    assert "**2 to create, 1 to update, 1 to delete**" in body
    assert "https://github.com/acme/config/actions/runs/4242" in body
    assert "ci-deployer plan for `uat`" in action_run.summary and "<details>" in action_run.summary
    # the plan artifact: created, uploaded and finalized with the right size and hash
    name = "ci-deployer-uat-plan-4242-1-plan"
    assert name in fake_results.finalized and fake_results.finalized[name]["size"] == str(len(fake_results.blobs[name]))
    assert (action_run.runner_temp / "ci-deployer" / "uat-plan-4242-1" / "plan.json").is_file()

    # a second push: same comment edited, no new one
    action_run.fresh_files()
    action_run.environ["GITHUB_RUN_ID"] = "4243"
    engine.plan = {**small_plan, "hash": "sha256:second"}
    assert run_action(action_run, cli_main=engine) == 0
    assert len(issue.comments) == 2
    assert '"planHash":"sha256:second"' in issue.comments[1]["body"]
    assert sum(1 for call in github.calls if call.request.method == "POST") == 1
    assert sum(1 for call in github.calls if call.request.method == "PATCH") == 1
    assert_no_secret_anywhere(action_run, github, fake_results)


def test_plan_going_to_no_changes_says_so_in_the_same_comment(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    issue = FakeIssue(github)
    run_action(action_run, cli_main=StandInEngine(small_plan))
    empty = {**small_plan, "hasChanges": False, "changes": [], "drift": [], "unmanaged": [], "hash": "sha256:empty"}
    empty["summary"] = {"noop": 10}
    action_run.fresh_files()
    action_run.environ["GITHUB_RUN_ID"] = "4244"
    assert run_action(action_run, cli_main=StandInEngine(empty)) == 0
    assert len(issue.comments) == 2 and "**No changes.**" in issue.comments[1]["body"]
    assert action_run.outputs["has_changes"] == "false"


def test_huge_plan_comment_is_truncated_below_the_limit(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    issue = FakeIssue(github)
    big = copy.deepcopy(small_plan)
    template = big["changes"][1]
    big["changes"] = []
    for i in range(500):
        change = copy.deepcopy(template)
        change["slug"] = f"tool-{i}"
        change["fields"][0]["new"] = "\n".join(f"line {j} of {i}" for j in range(80))
        big["changes"].append(change)
    assert run_action(action_run, cli_main=StandInEngine(big)) == 0
    body = issue.comments[1]["body"]
    assert len(body) <= 65_536
    assert body.count("<details>") == body.count("</details>")
    assert "more resources: see the job summary and the `ci-deployer-uat-plan-4242-1-plan` artifact" in body
    assert len(action_run.summary.encode()) <= 1024 * 1024 and action_run.summary.count("<details>") > body.count(
        "<details>"
    )


def test_fork_pr_without_write_access_reports_to_the_summary_only(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    action_run.event("pull_request", _pr_event(fork=True))
    issue = FakeIssue(github, forbid=True)
    assert run_action(action_run, cli_main=StandInEngine(small_plan)) == 0
    assert len(issue.comments) == 1
    assert "::warning::could not comment on #7 (a fork PR's token is read-only)" in action_run.stdout.getvalue()
    assert "**2 to create, 1 to update, 1 to delete**" in action_run.summary


def test_without_a_runtime_token_artifacts_stay_on_disk_with_a_notice(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    FakeIssue(github)
    del action_run.environ["ACTIONS_RUNTIME_TOKEN"]
    assert run_action(action_run, cli_main=StandInEngine(small_plan)) == 0
    assert fake_results.requests == []
    assert "::notice::artifact upload skipped: no Actions runtime token here" in action_run.stdout.getvalue()


# -- apply: stale plans, deployments, apply artifacts ------------------------------------------------------


def _push_to_main(run: Run, github: responses.RequestsMock, reviewed_hash: str) -> None:
    run.event("push", {"ref": "refs/heads/main", "after": "9" * 40, "repository": {"default_branch": "main"}})
    run.environ.update(INPUT_COMMAND="apply", GITHUB_REF="refs/heads/main", GITHUB_JOB="apply")
    github.get(
        f"{API}/commits/{'9' * 40}/pulls",
        json=[{"number": 7, "merge_commit_sha": "9" * 40, "head": {"sha": "a" * 40}, "base": {"sha": "b" * 40}}],
    )
    marker = f'<!-- ci-deployer:v1 {{"env":"uat","planHash":"{reviewed_hash}","baseSha":"b","headSha":"a"}} -->'
    github.get(
        f"{API}/issues/7/comments",
        json=[{"id": 5, "body": marker, "user": {"login": "github-actions[bot]", "type": "Bot"}}],
    )


def test_apply_refuses_a_plan_that_changed_since_review(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    _push_to_main(action_run, github, "sha256:reviewed")
    engine = StandInEngine(small_plan)  # the fresh plan hashes to sha256:feed
    assert run_action(action_run, cli_main=engine) == 1
    assert action_run.outputs["failure_reason"] == "plan-changed"
    assert [argv[0] for argv in engine.calls] == ["plan"]  # never applied
    assert "The plan changed since it was reviewed" in action_run.summary


def test_apply_of_the_reviewed_plan_records_a_deployment_and_uploads_the_log(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    _push_to_main(action_run, github, "sha256:feed")
    created = github.post(
        f"{API}/deployments",
        status=201,
        json={"id": 77, "url": "https://api.github.com/repos/acme/config/deployments/77", "environment": "uat"},
    )
    statuses = github.post(f"{API}/deployments/77/statuses", status=201, json={"id": 1, "state": "success"})
    engine = StandInEngine(small_plan)
    assert run_action(action_run, cli_main=engine) == 0, action_run.stdout.getvalue()
    apply_argv = engine.calls[-1]
    assert apply_argv[0] == "apply" and "--auto-approve" in apply_argv
    assert apply_argv[apply_argv.index("--plan") + 1].endswith("plan.json")
    deployment = json.loads(created.calls[0].request.body)
    assert (
        deployment["environment"] == "uat" and deployment["ref"] == "9" * 40 and deployment["required_contexts"] == []
    )
    assert [json.loads(c.request.body)["state"] for c in statuses.calls] == ["in_progress", "success"]
    name = "ci-deployer-uat-apply-4242-1-apply"
    assert name in fake_results.finalized
    import zipfile

    with zipfile.ZipFile(io.BytesIO(fake_results.blobs[name])) as archive:
        assert {"apply-log.jsonl", "backup-before.json", "snapshot-after.json", "plan.json"} <= set(archive.namelist())
    assert_no_secret_anywhere(action_run, github, fake_results)


# -- the real engine, once it exists -------------------------------------------------------------------------


def test_real_plan_end_to_end(action_run: Run, github: responses.RequestsMock, fake_results: Any) -> None:
    probe = io.StringIO()
    from contextlib import redirect_stderr, redirect_stdout

    with redirect_stdout(probe), redirect_stderr(probe), contextlib.suppress(SystemExit):
        cli.main(["plan", "--env", "dev", "--config", str(action_run.workspace / "platform"), "--format", "json"])
    if "not available" in probe.getvalue():
        pytest.skip("`ci-deployer plan` reports it is not available yet (engine not built)")
    issue = FakeIssue(github)
    action_run.environ["INPUT_ENVIRONMENT"] = "dev"
    code = run_action(action_run)
    assert code == 0, action_run.stdout.getvalue()
    assert action_run.outputs["plan_hash"].startswith("sha256:")
    assert len(issue.comments) == 2 and "ci-deployer plan for `dev`" in issue.comments[1]["body"]
    assert "ci-deployer-dev-plan-4242-1-plan" in fake_results.finalized


def test_apply_seeds_the_env_state_from_default_branch_artifacts(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    """A fresh checkout has no local state: apply must get the ids of earlier applies from the newest
    apply artifact of a default-branch run, and hand them to the CLI with --state-dir."""
    import zipfile

    _push_to_main(action_run, github, "sha256:feed")
    deployment = {"id": 77, "url": "https://api.github.com/repos/acme/config/deployments/77", "environment": "uat"}
    github.post(f"{API}/deployments", status=201, json=deployment)
    github.post(f"{API}/deployments/77/statuses", status=201, json={"id": 1, "state": "success"})
    payload_api = "https://api.github.com/repos/acme/config"
    github.get(
        f"{API}/actions/artifacts",
        json={
            "total_count": 1,
            "artifacts": [
                {
                    "id": 14,
                    "name": "ci-deployer-uat-apply-86-1-apply",
                    "expired": False,
                    "archive_download_url": f"{payload_api}/actions/artifacts/14/zip",
                    "workflow_run": {
                        "id": 86,
                        "head_branch": "main",
                        "head_sha": "d" * 40,
                        "repository_id": 1,
                        "head_repository_id": 1,
                    },
                }
            ],
        },
    )
    github.get(
        f"{API}/actions/runs/86",
        json={"id": 86, "event": "push", "head_branch": "main", "head_repository": {"full_name": "acme/config"}},
    )
    recorded = {
        "formatVersion": 1,
        "kind": "snapshot",
        "env": "uat",
        "sha": "d" * 40,
        "appliedAt": "2026-11-28T10:00:00Z",
        "resources": [{"kind": "Tool", "slug": "jira", "id": "t-1"}],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("snapshot-after.json", json.dumps(recorded))
    github.get(
        f"{payload_api}/actions/artifacts/14/zip", status=302, headers={"Location": "https://blobs.example/14?sig=zz"}
    )
    github.get("https://blobs.example/14", body=buffer.getvalue(), content_type="application/zip")

    options = {command: flags | {"--state-dir"} for command, flags in DOCUMENTED_OPTIONS.items()}
    engine = StandInEngine(small_plan)
    assert run_action(action_run, cli_main=engine, cli_options=lambda c: options.get(c, set())) == 0, (
        action_run.stdout.getvalue()
    )
    apply_argv = engine.calls[-1]
    assert apply_argv[0] == "apply"
    state_dir = Path(apply_argv[apply_argv.index("--state-dir") + 1])
    assert json.loads((state_dir / "uat" / "snapshot.json").read_text(encoding="utf-8")) == recorded
    assert not state_dir.is_relative_to(action_run.workspace)  # nothing written into the workspace


def test_apply_refuses_when_the_env_state_cannot_be_read(
    action_run: Run, github: responses.RequestsMock, fake_results: Any, small_plan: dict[str, Any]
) -> None:
    _push_to_main(action_run, github, "sha256:feed")
    github.get(f"{API}/actions/artifacts", status=500, json={"message": "boom"})
    options = {command: flags | {"--state-dir"} for command, flags in DOCUMENTED_OPTIONS.items()}
    engine = StandInEngine(small_plan)
    assert run_action(action_run, cli_main=engine, cli_options=lambda c: options.get(c, set())) == 1
    assert action_run.outputs["failure_reason"] == "github-error"
    assert all(argv[0] != "apply" for argv in engine.calls)  # never applied without its state
