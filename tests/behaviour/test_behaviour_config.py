"""The `test:` and `smoke:` blocks and `protection.canary` are validated like the rest of the config:
every problem a located finding (file:line) with a hint, through `ci-deployer validate` — never a
traceback — and the published JSON Schemas describe them for editors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from behaviour_helpers import run_cli, write_repo

from ci_deployer import cli
from ci_deployer.findings import Finding
from ci_deployer.validate import runner
from ci_deployer.validate.schemas import validate_envelope, validate_environments

URL = "http://127.0.0.1:9"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "platform", URL, URL)


def errors(root: Path, env: str | None = None) -> list[Finding]:
    return [f for f in runner.validate_repo(root, [env] if env else None) if f.level == "error"]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_example_and_the_test_repo_are_clean(repo: Path) -> None:
    assert runner.validate_repo(repo) == []


def test_unknown_and_malformed_targets_are_located_with_hints(repo: Path) -> None:
    replace_in(
        repo / "evals" / "billing-greeting.yaml",
        "targets: [assistant/billing-agent, squad/front-door]",
        "targets: [assistant/billing-agnt, Squad/front-door, tool/lookup-order]",
    )
    found = errors(repo)
    assert [(f.code, f.line, f.json_path) for f in found] == [
        ("E-TEST-TARGET-UNKNOWN", 5, "test.targets[0]"),
        ("E-TEST-TARGET", 5, "test.targets[1]"),
        ("E-TEST-TARGET", 5, "test.targets[2]"),
    ]
    assert found[0].message == "no Assistant named 'billing-agnt' (did you mean 'billing-agent'?)"
    assert found[1].message == "target 'Squad/front-door' is not assistant/SLUG or squad/SLUG (did you mean 'squad'?)"
    assert found[2].hint == "an eval runs against an assistant or a squad, named kind/slug: assistant/order-agent"


def test_block_shapes_and_kinds(repo: Path) -> None:
    replace_in(
        repo / "evals" / "billing-greeting.yaml",
        "  canary: true\n",
        "  canary: yes-please\n  enviroments: [dev]\n",
    )
    replace_in(
        repo / "assistants" / "billing-agent.yaml", "spec:\n", "test: {targets: [assistant/billing-agent]}\nspec:\n"
    )
    found = errors(repo)
    by_code = {f.code: f for f in found}
    assert by_code["E-TEST-TYPE"].message == "test.canary must be true or false"
    assert by_code["E-TEST-KEY"].message == "unknown key 'enviroments' in test (did you mean 'environments'?)"
    assert (by_code["E-TEST-KIND"].path, by_code["E-TEST-KIND"].line) == ("assistants/billing-agent.yaml", 4)
    assert by_code["E-TEST-KIND"].message == "Assistant documents cannot carry a test block"


def test_a_target_missing_from_an_env_the_test_runs_in(repo: Path) -> None:
    replace_in(
        repo / "squads" / "front-door.yaml",
        "metadata: {name: front-door}",
        "metadata:\n  name: front-door\n  environments: [dev]",
    )
    found = errors(repo, "uat")
    assert [(f.code, f.json_path) for f in found] == [("E-TEST-TARGET-ENV", "test.targets[1]")]
    assert found[0].message == (
        "squad/front-door does not exist in uat (its metadata.environments), but this test runs there"
    )
    assert errors(repo, "dev") == []


def test_smoke_cases_are_checked_against_the_tool(repo: Path) -> None:
    bad = [
        {"name": "a", "arguments": {"orderNo": 42}},
        {"name": "b", "expect": {"status": 999, "regex": "(", "json": {"type": "objekt"}}},
        {"name": "b", "timeoutSeconds": 0},
        {"arguments": {"orderNumber": "1"}, "environments": ["staging"]},
    ]
    text = (repo / "tools" / "lookup-order.yaml").read_text()
    (repo / "tools" / "lookup-order.yaml").write_text(
        text + "smoke:\n" + "".join(f"  - {json.dumps(c)}\n" for c in bad)
    )
    found = errors(repo)
    assert [(f.code, f.json_path, f.line) for f in found] == [  # sorted by position
        ("E-SMOKE-ARGUMENTS", "smoke[0].arguments", 18),
        ("E-SMOKE-VALUE", "smoke[1].expect.status", 19),
        ("E-SMOKE-REGEX", "smoke[1].expect.regex", 19),
        ("E-SMOKE-JSON", "smoke[1].expect.json", 19),
        ("E-SMOKE-NAME", "smoke[2].name", 20),
        ("E-SMOKE-VALUE", "smoke[2].timeoutSeconds", 20),
        ("E-SMOKE-NAME", "smoke[3].name", 21),
        ("E-TEST-ENV", "smoke[3].environments[0]", 21),
    ]
    arguments = next(f for f in found if f.code == "E-SMOKE-ARGUMENTS")
    assert "'orderNumber' is a required property" in arguments.message
    assert next(f for f in found if f.code == "E-SMOKE-NAME").message == "smoke case 'b' is defined twice"
    assert all(f.path == "tools/lookup-order.yaml" for f in found)


def test_smoke_on_a_tool_without_a_server_is_refused(repo: Path) -> None:
    (repo / "tools" / "hang-up.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: hang-up}\nspec: {type: endCall}\n"
        "smoke:\n  - {name: bye}\n",
        encoding="utf-8",
    )
    [finding] = errors(repo, "dev")
    assert (finding.code, finding.line, finding.path) == ("E-SMOKE-NO-URL", 6, "tools/hang-up.yaml")
    assert finding.message == "this endCall tool has no server URL in dev to smoke-test"


def test_a_duplicate_slug_is_one_finding_not_the_other_tools_smoke_problems(tmp_path: Path) -> None:
    root = tmp_path / "platform"
    shutil.copytree(Path(__file__).parents[2] / "examples" / "platform", root, ignore=shutil.ignore_patterns(".ci-*"))
    # the example's lookup-order has smoke cases; a second document of the same slug, sorted first
    # (the one a lookup by slug finds), is a tool with no server
    (root / "tools" / "aa-copy.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: lookup-order}\nspec: {type: endCall}\n",
        encoding="utf-8",
    )
    assert [f.code for f in errors(root)] == ["E-DUP-SLUG"]


def test_canary_protection_is_validated(repo: Path) -> None:
    replace_in(repo / "environments.yaml", "canary: {rollbackOnFailure: true}", "canary: {rollbackOnFail: yes}")
    found = errors(repo)
    assert [(f.path, f.code) for f in found] == [("environments.yaml", "E-ENV-UNKNOWN-KEY")]
    assert "did you mean 'rollbackOnFailure'?" in found[0].message
    replace_in(repo / "environments.yaml", "canary: {rollbackOnFail: yes}", "canary: {rollbackOnFailure: 1}")
    [finding] = errors(repo)
    assert (finding.code, finding.message) == ("E-ENV-VALUE", "canary.rollbackOnFailure must be true or false")
    assert finding.line == 17


def test_validate_reports_them_located_and_without_a_traceback(repo: Path, cli_env: dict[str, str]) -> None:
    replace_in(repo / "evals" / "billing-greeting.yaml", "squad/front-door", "squad/frontdoor")
    proc = run_cli("validate", "--config", str(repo), env=cli_env)
    assert proc.returncode == 1
    assert "evals/billing-greeting.yaml:5:" in proc.stdout + proc.stderr
    assert "no Squad named 'frontdoor' (did you mean 'front-door'?)" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_plan_and_test_refuse_a_broken_block_before_any_call(
    repo: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    replace_in(repo / "evals" / "billing-greeting.yaml", "squad/front-door", "squad/frontdoor")
    assert cli.main(["test", "--config", str(repo), "--env", "uat", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["failure_reason"] == "invalid-config"
    assert [f["code"] for f in data["findings"]] == ["E-TEST-TARGET-UNKNOWN"]


def document(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "ci-deployer/v1", "kind": "Eval", "metadata": {"name": "e"}, "spec": {}, **extra}


def test_the_published_schemas_describe_the_blocks() -> None:
    good = document(test={"targets": ["assistant/a", "squad/b"], "environments": ["uat"], "canary": True})
    assert validate_envelope(good) == []
    assert validate_envelope(document(smoke=[{"name": "x", "arguments": {}, "expect": {"status": 200}}])) == []
    issues = validate_envelope(document(test={"targets": ["tool/a"], "canery": True}))
    assert {i.message for i in issues} >= {"property 'test.canery' should not exist"}
    assert any(i.path == ("test", "targets", 0) for i in issues)
    envs = {
        "apiVersion": "ci-deployer/v1",
        "environments": {"prod": {"org": "p", "protection": {"canary": {"rollbackOnFailure": True}}}},
    }
    assert validate_environments(envs) == []
    envs["environments"]["prod"]["protection"]["canary"] = {"rollbackOnFailure": "yes"}  # type: ignore[index]
    assert validate_environments(envs)


def test_the_editor_schema_keeps_test_on_evals_and_smoke_on_tools() -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    from ci_deployer.validate.schemas import schema_dir

    folder = schema_dir()
    resources = []
    for path in [folder / "document.schema.json", folder / "envelope.schema.json"]:
        resources.append((path.name, Resource.from_contents(json.loads(path.read_text()))))
    stub = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    for name in ("eval", "tool", "assistant"):
        resources.append((f"spec/{name}.schema.json", Resource.from_contents(stub)))
    registry = Registry().with_resources(resources)
    validator = Draft202012Validator(json.loads((folder / "document.schema.json").read_text()), registry=registry)
    assert not list(validator.iter_errors(document(test={"targets": ["assistant/a"]})))
    tool = {**document(smoke=[{"name": "x"}]), "kind": "Tool"}
    assert not list(validator.iter_errors(tool))
    assert list(validator.iter_errors({**document(test={"targets": ["assistant/a"]}), "kind": "Assistant"}))
    assert list(validator.iter_errors(document(smoke=[{"name": "x"}])))
