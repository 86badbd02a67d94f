"""The workflow interpreter: triggers, matrix, ``if:``, environments and secrets, permissions, the
action process's environment, file commands, artifacts, and leak scans.

A stand-in action (a small Python script, not the product) records what its process received, so
these tests pin the interpreter's behaviour independently of ci-deployer."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.fake_github import FakeGitHub
from support.gitrepo import ZERO_SHA, GitRepo
from support.workflows import (
    EXAMPLES,
    ApprovalRequest,
    Environment,
    Runner,
    StepContext,
    StepOutcome,
    Workflow,
    WorkflowError,
    filter_matches,
    parse_commands,
    parse_file_command,
)

ACTION_YML = """\
name: stand-in
description: records its environment
inputs:
  command: {description: what to do, default: plan}
  github_token: {description: token, default: "${{ github.token }}"}
  some-input: {description: hyphens are kept, default: "d"}
  spaced name: {description: spaces become underscores, default: "s"}
runs: {using: docker, image: Dockerfile}
"""

STAND_IN = """\
import json, os, sys
env = dict(os.environ)
name = env["GITHUB_ACTION"]
with open(os.path.join(env["RUNNER_TEMP"], f"env-{name}.json"), "w") as f:
    json.dump(env, f)
with open(env["GITHUB_OUTPUT"], "a") as f:
    f.write("simple=" + env["INPUT_COMMAND"] + "\\n")
    f.write("multi<<EOF_x1\\nline one\\nline two\\nEOF_x1\\n")
with open(env["GITHUB_STEP_SUMMARY"], "a") as f:
    f.write("### summary of " + env["INPUT_COMMAND"] + "\\n")
with open(env["GITHUB_ENV"], "a") as f:
    f.write("EXPORTED=from-" + name + "\\n")
print("::add-mask::" + env.get("SECRET_VALUE", "none"))
print("::warning file=platform/a.yaml,line=3,col=5::odd%2C but fine")
print("::error::it broke%0Asecond line")
print(env.get("PRINT_ME", ""))
sys.exit(1 if env["INPUT_COMMAND"] == "fail" else 0)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGitHub]:
    repo = GitRepo(tmp_path / "origin")
    with FakeGitHub(repo) as github:
        github.add_user("carol", email="carol@acme.example")
        github.commit("main", {"platform/environments.yaml": "x: 1\n", "docs/readme.md": "hi\n"}, "initial", "carol")
        yield github


def _runner(fake: FakeGitHub, tmp_path: Path, **options: Any) -> Runner:
    (tmp_path / "action.yml").write_text(ACTION_YML, encoding="utf-8")
    (tmp_path / "stand_in.py").write_text(STAND_IN, encoding="utf-8")
    return Runner(
        fake,
        tmp_path / "runs",
        action_yml=tmp_path / "action.yml",
        action_command=[sys.executable, str(tmp_path / "stand_in.py")],
        **options,
    )


def _workflow(tmp_path: Path, text: str, name: str = "wf.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _received(step_env: dict[str, str], action_id: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(Path(step_env["RUNNER_TEMP"], f"env-{action_id}.json").read_text())
    return data


def _push(fake: FakeGitHub, files: dict[str, str | None], branch: str = "main") -> dict[str, Any]:
    before = fake.git.branch_head(branch) or ZERO_SHA
    after = fake.commit(branch, files, "change", "carol")
    return fake.push_event(branch, before, after, "carol")


def test_every_example_parses_with_on_as_a_string_key() -> None:
    for path in sorted(EXAMPLES.glob("*.yml")):
        workflow = Workflow.load(path)
        assert workflow.on and all(isinstance(k, str) for k in workflow.on), path
        assert True not in workflow.raw


@pytest.mark.parametrize(
    ("patterns", "name", "selected"),
    [
        (["platform/**"], "platform/assistants/a.yaml", True),
        (["platform/**"], "docs/platform/a.yaml", False),
        (["platform/*"], "platform/assistants/a.yaml", False),
        (["**/*.md"], "README.md", True),
        (["**.md", "!docs/**"], "docs/x.md", False),
        (["main"], "main", True),
        (["release/**"], "release/1.0", True),
        (["v[12].*"], "v2.0", True),
    ],
)
def test_filter_patterns(patterns: list[str], name: str, selected: bool) -> None:
    assert filter_matches(patterns, name) is selected


def test_push_paths_and_branches_filters_use_the_real_diff(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on:
          push:
            branches: [main]
            paths: ["platform/**"]
        jobs:
          noop: {runs-on: x, steps: [{run: "true"}]}
        """,
    )
    runner = _runner(fake, tmp_path)
    docs_only = runner.run_workflow(path, "push", _push(fake, {"docs/readme.md": "changed\n"}))
    assert not docs_only.triggered and "paths filter" in docs_only.reason
    config = runner.run_workflow(path, "push", _push(fake, {"platform/environments.yaml": "x: 2\n"}))
    assert config.triggered and config.conclusion == "success"
    other_branch = runner.run_workflow(path, "push", _push(fake, {"platform/a.yaml": "a\n"}, branch="dev"))
    assert not other_branch.triggered and "filtered out" in other_branch.reason


def test_pull_request_paths_filter_and_types(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on:
          pull_request:
            paths: ["platform/**"]
        jobs:
          noop: {runs-on: x, steps: [{run: "true"}]}
        """,
    )
    runner = _runner(fake, tmp_path)
    docs = fake.open_pull_request("docs", {"docs/readme.md": "x\n"}, title="docs", author="carol")
    assert not runner.run_workflow(path, "pull_request", fake.pull_request_event(docs.number)).triggered
    config = fake.open_pull_request("cfg", {"platform/a.yaml": "x\n"}, title="cfg", author="carol")
    assert runner.run_workflow(path, "pull_request", fake.pull_request_event(config.number)).triggered
    closed = runner.run_workflow(path, "pull_request", fake.pull_request_event(config.number, action="closed"))
    assert not closed.triggered and "types" in closed.reason


def test_matrix_needs_outputs_results_and_job_if(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        permissions: {}
        jobs:
          build:
            name: Build ${{ matrix.environment }}-${{ matrix.size }}
            runs-on: x
            strategy:
              matrix:
                environment: [uat, prod]
                size: [s, m]
                exclude: [{environment: prod, size: s}]
                include: [{environment: dev, size: xl}]
            outputs:
              last: ${{ steps.act.outputs.simple }}
            steps:
              - id: act
                uses: ./
                with: {command: "${{ matrix.environment }}"}
          after:
            needs: build
            runs-on: x
            steps:
              - id: use
                uses: acme/ci-deployer@v1
                with: {command: "${{ needs.build.outputs.last }}-${{ needs.build.result }}"}
          only-on-failure:
            needs: build
            if: failure()
            runs-on: x
            steps: [{run: "true"}]
        """,
    )
    run = _runner(fake, tmp_path).run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol"))
    builds = run.jobs["build"]
    assert [(j.matrix["environment"], j.matrix["size"]) for j in builds] == [
        ("uat", "s"),
        ("uat", "m"),
        ("prod", "m"),
        ("dev", "xl"),
    ]
    assert builds[0].name == "Build uat-s"
    assert all(j.conclusion == "success" for j in builds)
    after = run.job("after").step("use")
    assert after.inputs["INPUT_COMMAND"] == "dev-success"  # outputs of the last matrix job
    assert run.job("only-on-failure").conclusion == "skipped"
    assert run.conclusion == "success"


def test_environment_secrets_reach_only_jobs_in_that_environment_and_forks_get_none(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    path = _workflow(
        tmp_path,
        """
        on: [pull_request, workflow_dispatch]
        permissions: {}
        jobs:
          plain:
            runs-on: x
            permissions: {pull-requests: write, contents: read}
            steps:
              - {id: a, uses: ./, env: {REPO: "${{ secrets.REPO_SECRET }}", PROD: "${{ secrets.PROD_KEY }}"}}
          deploy:
            runs-on: x
            environment: ${{ github.event_name == 'workflow_dispatch' && 'prod' || 'review' }}
            steps:
              - id: b
                uses: ./
                env: {REPO: "${{ secrets.REPO_SECRET }}", PROD: "${{ secrets.PROD_KEY }}", V: "${{ vars.WHERE }}"}
        """,
    )
    approvals: list[ApprovalRequest] = []
    runner = _runner(
        fake,
        tmp_path,
        secrets={"REPO_SECRET": "repo-secret-value"},
        vars={"WHERE": "repo"},
        environments={"prod": Environment("prod", secrets={"PROD_KEY": "prod-secret-value"}, vars={"WHERE": "prod"})},
        approve=lambda request: approvals.append(request) or True,
    )
    run = runner.run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol"))
    plain, deploy = run.job("plain").step("a"), run.job("deploy").step("b")
    assert (plain.env["REPO"], plain.env["PROD"]) == ("repo-secret-value", "")
    assert (deploy.env["REPO"], deploy.env["PROD"], deploy.env["V"]) == (
        "repo-secret-value",
        "prod-secret-value",
        "prod",
    )
    assert [a.environment for a in approvals] == ["prod"]
    assert run.job("plain").scopes == {"pull-requests": "write", "contents": "read"}
    assert run.job("deploy").scopes == {}  # workflow-level `{}`
    # the process really received them
    assert _received(plain.env, "a")["INPUT_GITHUB_TOKEN"] == run.job("plain").token
    # GitHub's own deployment record of the environment job
    runner_deployments = [d for d in fake.deployments.values() if d.by_runner]
    assert [(d.environment, d.statuses[-1].state) for d in runner_deployments] == [("prod", "success")]

    fork = fake.open_pull_request("evil", {"platform/a.yaml": "x\n"}, title="t", author="mallory", fork_owner="mallory")
    forked = runner.run_workflow(path, "pull_request", fake.pull_request_event(fork.number))
    step = forked.job("plain").step("a")
    assert step.env["REPO"] == "" and step.env["PROD"] == ""
    assert forked.job("plain").scopes == {"pull-requests": "read", "contents": "read"}
    assert fake.runs[forked.run_id or 0].head_repo == "mallory/config"


def test_a_rejected_environment_fails_the_job_before_any_step(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          deploy:
            runs-on: x
            environment: prod
            steps: [{id: a, uses: ./}]
        """,
    )
    run = _runner(fake, tmp_path, approve=lambda request: False).run_workflow(
        path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol")
    )
    job = run.job("deploy")
    assert job.conclusion == "failure" and job.steps == [] and "rejected" in job.note
    assert job.scopes == {"contents": "read", "packages": "read"}  # GitHub's restricted default


def test_dispatch_inputs_defaults_and_required(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on:
          workflow_dispatch:
            inputs:
              ticket: {required: true, type: string}
              dry_run: {type: boolean, default: false}
        jobs:
          go:
            runs-on: x
            steps:
              - id: a
                uses: ./
                with:
                  command: "${{ inputs.ticket }}/${{ github.event.inputs.dry_run }}/${{ inputs.dry_run && 'x' || 'w' }}"
        """,
    )
    runner = _runner(fake, tmp_path)
    with pytest.raises(WorkflowError, match="Required input 'ticket'"):
        runner.run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "dave"))
    run = runner.run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {"ticket": "CHG-9"}, "dave"))
    assert run.job("go").step("a").inputs["INPUT_COMMAND"] == "CHG-9/false/w"
    assert run.payload["inputs"] == {"ticket": "CHG-9", "dry_run": "false"}
    assert run.job("go").step("a").env["GITHUB_ACTOR"] == "dave"


def test_the_action_process_environment_file_commands_and_continue_on_error(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        env: {LEVEL: workflow, SHARED: wf}
        jobs:
          go:
            runs-on: x
            env: {SHARED: job}
            steps:
              - uses: actions/checkout@v4
              - id: first
                uses: ./
                continue-on-error: true
                env: {SHARED: step, GITHUB_SHA: forged}
                with: {command: fail, some-input: given, unknown: x}
              - id: second
                uses: ./
                with: {command: "${{ steps.first.outputs.simple }}-${{ steps.first.outcome }}-${{ env.EXPORTED }}"}
              - id: skipped
                if: failure()
                uses: ./
        """,
    )
    run = _runner(fake, tmp_path).run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol"))
    job = run.job("go")
    first, second = job.step("first"), job.step("second")
    received = _received(first.env, "first")
    assert received["INPUT_COMMAND"] == "fail" and received["INPUT_SOME-INPUT"] == "given"
    assert received["INPUT_SPACED_NAME"] == "s" and received["INPUT_GITHUB_TOKEN"] == job.token
    assert received["INPUT_UNKNOWN"] == "x" and first.annotations[0].message.startswith("Unexpected input(s)")
    assert received["LEVEL"] == "workflow" and received["SHARED"] == "step"
    assert received["GITHUB_SHA"] == run.sha  # the runner's variables cannot be overridden
    assert received["GITHUB_ACTIONS"] == "true" and received["CI"] == "true"
    assert received["PYTHONUNBUFFERED"] == "1"  # from the action's Dockerfile
    assert received["HTTPS_PROXY"].startswith("http://127.0.0.1:")  # no network but loopback
    assert Path(received["GITHUB_WORKSPACE"], "platform", "environments.yaml").is_file()
    assert received["GITHUB_OUTPUT"] != _received(second.env, "second")["GITHUB_OUTPUT"]  # fresh per step
    assert first.outputs == {"simple": "fail", "multi": "line one\nline two"}
    assert first.summary == "### summary of fail\n"
    assert (first.exit_code, first.outcome, first.conclusion) == (1, "failure", "success")
    assert second.inputs["INPUT_COMMAND"] == "fail-failure-from-first"
    errors = first.errors()
    assert [e.message for e in errors] == ["it broke\nsecond line"]
    warning = next(a for a in first.annotations if a.level == "warning" and "odd" in a.message)
    assert warning.properties == {"file": "platform/a.yaml", "line": "3", "col": "5"}
    assert first.masks == ["none"]
    assert job.step("skipped").conclusion == "skipped"
    assert job.conclusion == "success"


def test_run_steps_are_recorded_unless_a_callable_is_registered(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          go:
            runs-on: x
            steps:
              - {id: ignored, run: "rm -rf /"}
              - {id: issue, run: "gh issue create", env: {WHO: "${{ github.actor }}"}}
              - {id: after, if: "steps.issue.outputs.number == '12'", uses: ./}
        """,
    )
    seen: list[StepContext] = []

    def issue(context: StepContext) -> StepOutcome:
        seen.append(context)
        return StepOutcome(outputs={"number": "12"})

    run = _runner(fake, tmp_path, run_steps={"issue": issue}).run_workflow(
        path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol")
    )
    job = run.job("go")
    assert not job.step("ignored").executed and "not executed" in job.step("ignored").note
    assert seen[0].env["WHO"] == "carol" and job.step("issue").executed
    assert job.step("after").executed


def test_artifacts_round_trip_between_jobs_of_a_run_and_are_listed_under_it(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          make:
            runs-on: x
            steps:
              - uses: actions/checkout@v4
              - id: up
                uses: actions/upload-artifact@v4
                with: {name: config, path: platform/}
              - uses: actions/upload-artifact@v4
                with: {name: none, path: nothing/*.json, if-no-files-found: error}
                continue-on-error: true
          use:
            needs: make
            runs-on: x
            steps:
              - uses: actions/download-artifact@v4
                with: {name: config, path: got}
        """,
    )
    run = _runner(fake, tmp_path).run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol"))
    make, use = run.job("make"), run.job("use")
    assert make.step("up").outputs["artifact-id"]
    assert make.steps[2].outcome == "failure" and make.steps[2].errors()
    assert use.root is not None
    assert (use.root / "workspace" / "got" / "environments.yaml").read_text() == "x: 1\n"
    [artifact] = fake.artifacts()
    assert artifact.name == "config" and artifact.owner[0] == run.run_id
    listed = fake._artifact_json(artifact)
    assert listed["workflow_run"]["head_branch"] == "main" and listed["workflow_run"]["head_sha"] == run.sha


def test_leaks_finds_secrets_in_logs_summaries_files_artifacts_and_github(fake: FakeGitHub, tmp_path: Path) -> None:
    path = _workflow(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          go:
            runs-on: x
            steps:
              - {uses: ./, env: {SECRET_VALUE: "${{ secrets.S }}", PRINT_ME: "${{ secrets.S }}"}}
        """,
    )
    runner = _runner(fake, tmp_path, secrets={"S": "hunter2-secret-value"})
    runner.run_workflow(path, "workflow_dispatch", fake.dispatch_event("wf.yml", {}, "carol"))
    places = runner.leaks(["hunter2-secret-value", "never-used-value"])
    assert list(places) == ["hunter2-secret-value"]
    # the ::add-mask:: line is not a leak; the plain print is (the recorded env dump in RUNNER_TEMP is a file too)
    assert any(p.endswith("log") for p in places["hunter2-secret-value"])
    assert any("file temp/env-" in p for p in places["hunter2-secret-value"])


def test_file_command_and_workflow_command_parsers() -> None:
    assert parse_file_command("a=1\nb<<X\nx\ny\nX\nc=\n") == {"a": "1", "b": "x\ny", "c": ""}
    with pytest.raises(WorkflowError):
        parse_file_command("a<<X\nnever closed\n")
    annotations, masks, stopped = parse_commands(
        "::add-mask::s3cret\n::stop-commands::tok\n::error::hidden\n::tok::\n::notice title=T::shown\n"
    )
    assert masks == ["s3cret"] and stopped
    assert [(a.level, a.message, a.properties) for a in annotations] == [("notice", "shown", {"title": "T"})]
