"""The action's `command: test`, the promotion gate reading uat's results from artifacts, and the prod
canary after an apply — run as the container runs the action (``ci_deployer.action.main(environ)``),
on embedded orgs, GitHub's REST API mocked by ``responses``, the results service a loopback fake and
the tools' server a loopback HTTP server."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from test_github_action import (  # the action's fixtures and fakes, shared rather than copied
    API,
    HEAD,
    PAYLOAD_API,
    SECRET,
    FakeGitHub,
    Run,
    action_run,  # noqa: F401  (a fixture)
    assert_no_secret_anywhere,
    github,  # noqa: F401  (a fixture)
    pr_event,
    run_action,
)

from ci_deployer import cli
from support.orders import Orders, serve_orders

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  params: {{model: gpt-4.1-mini, ordersUrl: "{url}"}}
environments:
  dev: {{org: acme-dev, api: {{url: embedded}}}}
  uat: {{org: acme-uat, api: {{url: embedded}}}}
  prod:
    org: acme-prod
    api: {{url: embedded}}
    promotesFrom: uat
    protection:
      requiredApprovals: 0
      canary: {{rollbackOnFailure: true}}
"""


@pytest.fixture
def orders() -> Iterator[Orders]:
    with serve_orders(SECRET) as state:
        yield state


@pytest.fixture
def tested(action_run: Run, orders: Orders) -> Run:  # noqa: F811  (the imported fixture)
    (action_run.config / "environments.yaml").write_text(ENVIRONMENTS.format(url=orders.url), encoding="utf-8")
    action_run.environ.update(INPUT_COMMAND="test", INPUT_ENVIRONMENT="uat", GITHUB_JOB="test")
    return action_run


def cli_apply(run: Run, env: str, out: Path) -> int:
    """``ci-deployer apply`` in the same workspace (what an earlier workflow run did)."""
    return cli.main(
        ["apply", "--config", str(run.config), "--env", env, "--auto-approve", "--out-dir", str(out)], run.environ
    )


def cli_test(run: Run, out: Path) -> int:
    """``ci-deployer test --env uat`` in the same workspace, its record written to ``out``."""
    return cli.main(["test", "--config", str(run.config), "--env", "uat", "--out", str(out)], run.environ)


def results_of(fake_results: Any, name: str) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(fake_results.blobs[name])) as archive:
        return dict(json.loads(archive.read("test-results.json")))


# -- command: test ---------------------------------------------------------------------------------------


def test_a_pr_tests_its_config_inline_with_a_status_its_own_comment_and_an_artifact(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
    fake_results: Any,
) -> None:
    assert run_action(tested) == 0, tested.stdout.getvalue()
    outputs = tested.outputs
    assert (outputs["exit_code"], outputs["failure_reason"]) == ("0", "")
    assert outputs["summary"] == "uat: 3 passed, 0 failed, 0 errors (3 tests)"
    assert github.statuses[-1] == (
        HEAD,
        {
            "state": "success",
            "target_url": "https://github.com/acme/config/actions/runs/4242",
            "description": "uat: 3 passed, 0 failed, 0 errors (3 tests)",
            "context": "ci-deployer/test (uat)",
        },
    )
    [comment] = [c for c in github.comments if "ci-deployer:v1" in c["body"]]
    assert comment["body"].startswith('<!-- ci-deployer:v1 {"env":"uat","planHash":null,')
    assert '"kind":"test"} -->' in comment["body"].splitlines()[0]
    assert "### ✅ ci-deployer test for `uat`: 3 passed, 0 failed, 0 errors (3 tests)" in comment["body"]
    assert "transient: nothing was written there" in comment["body"]
    record = results_of(fake_results, "ci-deployer-uat-test-4242-1-test")
    assert (record["mode"], record["ok"]) == ("transient", True)
    assert [(r["evalSource"], r["targetSource"]) for r in record["evals"]] == [("inline", "inline")] * 2
    assert "### ✅ ci-deployer test for `uat`" in tested.summary
    # a transient run is not uat's test state
    assert not list(tested.runner_temp.rglob("tests.json"))

    # the plan of the same PR keeps its own comment: two sticky comments, neither edited by the other
    tested.next_step("4243")
    tested.environ.update(INPUT_COMMAND="plan", GITHUB_JOB="plan")
    assert run_action(tested) == 0, tested.stdout.getvalue()
    ours = [c for c in github.comments if "ci-deployer:v1" in c["body"]]
    assert len(ours) == 2 and "ci-deployer test for `uat`" in ours[0]["body"]
    assert ours[1]["body"].startswith('<!-- ci-deployer:v1 {"env":"uat","planHash":"sha256:')
    tested.next_step("4244")
    tested.environ.update(INPUT_COMMAND="test", GITHUB_JOB="test2")
    assert run_action(tested) == 0
    assert len([c for c in github.comments if "ci-deployer:v1" in c["body"]]) == 2  # edited, not duplicated
    assert_no_secret_anywhere(tested, github, fake_results)


def test_failing_tests_fail_the_step_with_annotations_and_a_failure_status(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
    orders: Orders,
    fake_results: Any,
) -> None:
    orders.status = "lost"  # the smoke case expects processing, shipped or delivered
    assert run_action(tested) == 1
    outputs = tested.outputs
    assert (outputs["exit_code"], outputs["failure_reason"]) == ("1", "tests-failed")
    assert github.statuses[-1][1]["state"] == "failure"
    assert github.statuses[-1][1]["description"] == "uat: 2 passed, 1 failed, 0 errors (3 tests)"
    log = tested.stdout.getvalue()
    assert "::error file=platform/tools/lookup-order.yaml,line=" in log
    assert "title=test failed%3A smoke tool/lookup-order · known-order" in log
    assert "'lost' is not one of ['processing', 'shipped', 'delivered']" in tested.summary
    assert_no_secret_anywhere(tested, github, fake_results)


def test_a_fork_pr_gets_its_test_results_in_the_summary_only(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
) -> None:
    tested.event("pull_request", pr_event(fork=True))
    assert run_action(tested) == 0, tested.stdout.getvalue()
    assert github.writes() == []
    assert "### ✅ ci-deployer test for `uat`" in tested.summary


# -- the promotion gate reads uat's results from default-branch artifacts ----------------------------------


def zipped(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files.items():
            archive.write(path, name)
    return buffer.getvalue()


def publish(github: FakeGitHub, artifacts: list[tuple[int, str, dict[str, Path]]]) -> None:  # noqa: F811
    """Default-branch push runs whose artifacts hold these files (newest first)."""
    listing = []
    for aid, name, files in artifacts:
        run_id = 9000 + aid
        listing.append(
            {
                "id": aid,
                "name": name,
                "expired": False,
                "archive_download_url": f"{PAYLOAD_API}/actions/artifacts/{aid}/zip",
                "workflow_run": {"id": run_id, "head_branch": "main", "head_sha": "d" * 40, "repository_id": 1},
            }
        )
        github.mock.upsert(
            responses.GET,
            f"{API}/actions/runs/{run_id}",
            json={
                "id": run_id,
                "event": "push",
                "head_branch": "main",
                "head_repository": {"full_name": "acme/config"},
            },
        )
        github.mock.upsert(
            responses.GET,
            f"{PAYLOAD_API}/actions/artifacts/{aid}/zip",
            status=302,
            headers={"Location": f"https://blobs.example/{aid}?sig=z"},
        )
        github.mock.upsert(
            responses.GET, f"https://blobs.example/{aid}", body=zipped(files), content_type="application/zip"
        )
    github.mock.upsert(
        responses.GET, f"{API}/actions/artifacts", json={"total_count": len(listing), "artifacts": listing}
    )


def dispatch(run: Run, command: str, job: str) -> None:
    run.event("workflow_dispatch", {"inputs": {}, "repository": {"full_name": "acme/config", "default_branch": "main"}})
    run.environ.update(
        INPUT_COMMAND=command,
        INPUT_ENVIRONMENT="prod",
        GITHUB_REF="refs/heads/main",
        GITHUB_JOB=job,
        INPUT_PLAN_PATH="",
    )


def test_the_prod_gate_reads_uat_test_results_from_artifacts(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
    orders: Orders,
) -> None:
    work = tested.workspace.parent / "uat"
    assert cli_apply(tested, "uat", work) == 0
    orders.status = "lost"
    failed = work / "failed.json"
    assert cli_test(tested, failed) == 1
    orders.status = "shipped"
    passed = work / "passed.json"
    assert cli_test(tested, passed) == 0
    snapshot = {"snapshot-after.json": work / "snapshot-after.json"}

    publish(
        github,
        [
            (3, "ci-deployer-uat-test-90-1-test", {"test-results.json": failed}),
            (2, "ci-deployer-uat-apply-89-1-apply", snapshot),
        ],
    )
    tested.next_step("4300")
    dispatch(tested, "gate", "gate")
    assert run_action(tested) == 1
    assert tested.outputs["failure_reason"] == "gate-refused"
    log = tested.stdout.getvalue()
    assert "test results of uat: ci-deployer-uat-test-90-1-test (run 9003)" in log
    assert "| ❌ | UAT behavioural tests passed |" in tested.summary
    assert "uat's tests for sha256:" in tested.summary and "failed, 2 of 3 passed: tool/lookup-order · known-order" in (
        tested.summary
    )
    assert "(run 4242 (https://github.com/acme/config/actions/runs/4242)" in tested.summary  # the run that tested

    publish(
        github,
        [
            (4, "ci-deployer-uat-test-91-1-test", {"test-results.json": passed}),
            (3, "ci-deployer-uat-test-90-1-test", {"test-results.json": failed}),
            (2, "ci-deployer-uat-apply-89-1-apply", snapshot),
        ],
    )
    tested.next_step("4301")
    assert run_action(tested) == 0, tested.stdout.getvalue()
    assert "| ✅ | UAT behavioural tests passed |" in tested.summary


# -- the canary after a prod apply ---------------------------------------------------------------------------

CANARY_ONLY = """\
apiVersion: ci-deployer/v1
kind: Eval
metadata: {name: prod-greeting}
test:
  targets: [assistant/order-agent]
  environments: [dev]
  canary: true
spec:
  type: chat.mockConversation
  name: prod-greeting
  messages:
    - {role: user, content: "Hello?"}
    - role: assistant
      judgePlan:
        type: exact
        content: "Hi, this is Acme order support. Am I speaking with the owner of {{ customer.number }}?"
"""


def test_a_failing_canary_after_a_prod_apply_rolls_back_and_records_it(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
    fake_results: Any,
) -> None:
    (tested.config / "evals" / "prod-greeting.yaml").write_text(CANARY_ONLY, encoding="utf-8")
    first = tested.workspace.parent / "first"
    uat = tested.workspace.parent / "uat"
    assert cli_apply(tested, "uat", uat) == 0
    assert cli_test(tested, uat / "tests.json") == 0
    assert cli_apply(tested, "prod", first) == 0

    # the change: a new greeting; uat's golden transcript still passes (it looks for "order support"),
    # prod's canary-only eval expects the greeting word for word
    agent = tested.config / "assistants" / "order-agent.yaml"
    agent.write_text(agent.read_text().replace("Am I speaking with", "Are you"), encoding="utf-8")
    assert cli_apply(tested, "uat", uat / "2") == 0
    assert cli_test(tested, uat / "2.json") == 0

    publish(
        github,
        [
            (7, "ci-deployer-uat-test-95-1-test", {"test-results.json": uat / "2.json"}),
            (6, "ci-deployer-uat-apply-94-1-apply", {"snapshot-after.json": uat / "2" / "snapshot-after.json"}),
            (5, "ci-deployer-prod-apply-93-1-apply", {"snapshot-after.json": first / "snapshot-after.json"}),
        ],
    )
    tested.next_step("4400")
    dispatch(tested, "plan", "plan")
    assert run_action(tested) == 0, tested.stdout.getvalue()
    plan_path = Path(tested.workspace / tested.outputs["artifacts_dir"] / "plan.json").relative_to(tested.workspace)

    tested.next_step("4401")
    dispatch(tested, "apply", "apply")
    tested.environ["INPUT_PLAN_PATH"] = str(plan_path)
    assert run_action(tested) == 1
    outputs = tested.outputs
    assert outputs["failure_reason"] == "canary-failed"
    assert "prod was rolled back to its before-snapshot" in outputs["summary"]
    assert github.deployment_statuses == ["in_progress", "failure"]
    [apply_status] = [s for s in github.statuses if s[1]["context"] == "ci-deployer/apply (prod)"]
    assert apply_status[1]["state"] == "failure" and apply_status[1]["description"].startswith("canary-failed: ")
    assert "### ❌ Canary: canary failed in prod after the apply" in tested.summary
    # the apply's artifact carries the canary results; the rollback's, uploaded after it, is prod's newest state
    assert list(fake_results.finalized)[-2:] == [
        "ci-deployer-prod-apply-4401-1-apply",
        "ci-deployer-prod-rollback-4401-1-apply",
    ]
    canary = results_of(fake_results, "ci-deployer-prod-apply-4401-1-apply")
    assert (canary["mode"], canary["ok"]) == ("canary", False)
    with zipfile.ZipFile(io.BytesIO(fake_results.blobs["ci-deployer-prod-rollback-4401-1-apply"])) as archive:
        restored = json.loads(archive.read("snapshot-after.json"))
    before = json.loads((first / "snapshot-after.json").read_text())
    agent_of = {r["slug"]: r for r in restored["resources"]}["order-agent"]
    assert (
        agent_of["desired"]["firstMessage"]
        == {r["slug"]: r for r in before["resources"]}["order-agent"]["desired"]["firstMessage"]
    )
    assert_no_secret_anywhere(tested, github, fake_results)


def test_without_the_envs_api_key_tests_are_not_run_and_nothing_claims_they_passed(
    tested: Run,
    github: FakeGitHub,  # noqa: F811
    orders: Orders,
) -> None:
    environments = ENVIRONMENTS.format(url=orders.url).replace(
        "uat: {org: acme-uat, api: {url: embedded}}",
        "uat: {org: acme-uat, api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_UAT}}",
    )
    (tested.config / "environments.yaml").write_text(environments, encoding="utf-8")
    assert run_action(tested) == 0, tested.stdout.getvalue()
    assert tested.outputs["summary"] == "uat: tests not run: no API key for uat in this job"
    assert "::warning::uat: tests not run: no API key for uat in this job" in tested.stdout.getvalue()
    assert github.statuses == [] and github.writes() == []
    assert "### ➖ ci-deployer test for `uat`" in tested.summary
