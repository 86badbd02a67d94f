"""Smoke: workflows-examples/pr-plan.yml played for a PR against the served emulator.

Only what is stable is asserted: which jobs ran, how the action process was started (its INPUT_* and
GITHUB_* values), and that the product called no route GitHub does not have."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.workflows import WorkflowRun, example
from support.world import VAPI_TOKENS, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with make_world(tmp_path) as built:
        yield built


def _open_pr(world: World) -> int:
    prompt = (world.repo.root / "platform" / "prompts" / "order-agent.md").read_text(encoding="utf-8")
    pr = world.github.open_pull_request(
        "shorter-greeting",
        {"platform/prompts/order-agent.md": prompt + "\nAlways confirm the order number.\n"},
        title="Confirm order numbers",
        author="carol",
    )
    return pr.number


def test_pr_plan_runs_validate_then_a_plan_per_environment(world: World) -> None:
    number = _open_pr(world)
    pr = world.github.pulls[number]
    run: WorkflowRun = world.runner.run_workflow(
        example("pr-plan.yml"), "pull_request", world.github.pull_request_event(number)
    )
    assert run.triggered, run.reason
    ran = {(job.key, job.matrix.get("environment")) for job in run.all_jobs() if job.conclusion != "skipped"}
    assert ran == {("validate", None), ("plan", "uat"), ("plan", "prod"), ("test", None)}, [
        (j.name, j.conclusion, j.note) for j in run.all_jobs()
    ]
    for job in run.all_jobs():
        checkout = job.steps[0]
        assert checkout.kind == "checkout" and checkout.conclusion == "success", checkout.stderr
        assert job.action_steps() and all(s.executed for s in job.action_steps())

    validate = run.job("validate").action_steps()[0]
    assert validate.inputs["INPUT_COMMAND"] == "validate"
    assert validate.inputs["INPUT_CONFIG_PATH"] == "platform"
    assert validate.inputs["INPUT_GITHUB_TOKEN"] == run.job("validate").token
    # every input action.yml declares reaches the container, defaults included
    assert validate.inputs["INPUT_COMMENT"] == "true" and validate.inputs["INPUT_ARTIFACTS_DIR"] == ""
    assert run.job("validate").scopes == {"contents": "read"}

    for env in ("uat", "prod"):
        job = run.job("plan", environment=env)
        step = job.action_steps()[0]
        assert step.inputs["INPUT_COMMAND"] == "plan" and step.inputs["INPUT_ENVIRONMENT"] == env
        assert job.scopes == {
            "contents": "read",
            "pull-requests": "write",
            "actions": "read",
            "statuses": "write",
            "deployments": "read",
        }
        facts = step.env
        assert facts["GITHUB_EVENT_NAME"] == "pull_request"
        assert facts["GITHUB_SHA"] == world.github.test_merge_sha(number) != pr.head_sha
        assert facts["GITHUB_REF"] == f"refs/pull/{number}/merge"
        assert facts["GITHUB_HEAD_REF"] == "shorter-greeting" and facts["GITHUB_BASE_REF"] == "main"
        assert facts["GITHUB_REPOSITORY"] == "acme/config" and facts["GITHUB_RUN_ID"] == str(run.run_id)
        assert facts["GITHUB_API_URL"] == world.github.api and facts["GITHUB_SERVER_URL"] == "https://github.com"
        assert facts["ACTIONS_RESULTS_URL"] == world.github.results_url and facts["ACTIONS_RUNTIME_TOKEN"]
        assert facts["GITHUB_WORKSPACE"] != facts["RUNNER_TEMP"]
        assert Path(facts["GITHUB_WORKSPACE"], "platform", "environments.yaml").is_file()
        # the uat plan holds the uat key; the prod plan holds no key at all
        assert facts["VAPI_TOKEN_UAT"] == (VAPI_TOKENS["uat"] if env == "uat" else "")
        assert "VAPI_TOKEN_PROD" not in facts
    # fresh folders per job, as fresh runners
    roots = [job.root for job in run.all_jobs()]
    assert len(set(roots)) == len(list(run.all_jobs()))
    assert world.github.unknown_routes == [], [(r.method, r.path) for r in world.github.unknown_routes]
