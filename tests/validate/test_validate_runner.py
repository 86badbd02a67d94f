"""validate end to end with the real loader, renderer, schemas and git."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ci_deployer import cli
from ci_deployer.validate import runner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform"
THREE_ENVS = """apiVersion: ci-deployer/v1
environments:
  dev: {org: acme-dev, api: {url: embedded}}
  uat: {org: acme-uat, api: {url: embedded}}
  prod: {org: acme-prod, api: {url: embedded}}
"""
ASSISTANT = """apiVersion: ci-deployer/v1
kind: Assistant
metadata:
  name: a
spec:
  name: "Agent (${{ env.name }})"
  model:
    provider: openai
    model: gpt-4.1
    toolIds: [nope]
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_identical_findings_across_environments_are_reported_once(tmp_path: Path) -> None:
    root = write(tmp_path, {"environments.yaml": THREE_ENVS, "assistants/a.yaml": ASSISTANT})
    findings = runner.validate_repo(root)
    assert [(f.code, f.path, f.line) for f in findings] == [("E-REF-DANGLING", "assistants/a.yaml", 10)]


def test_all_problems_are_collected_not_only_the_first(tmp_path: Path) -> None:
    bad = ASSISTANT.replace('"Agent (${{ env.name }})"', '"' + "n" * 41 + '"') + "  bogus: 1\n"
    root = write(tmp_path, {"environments.yaml": THREE_ENVS, "assistants/a.yaml": bad})
    codes = sorted(f.code for f in runner.validate_repo(root))
    assert codes == ["E-NAME-TOO-LONG", "E-REF-DANGLING", "E-SCHEMA"]


def test_unknown_env_is_a_finding_with_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, {"environments.yaml": THREE_ENVS})
    assert cli.main(["validate", "--config", str(root), "--env", "prd"]) == 1
    out = capsys.readouterr().out
    assert "environments.yaml: error E-ENV-UNKNOWN environment 'prd' is not defined" in out
    assert "(did you mean 'prod'?)" in out
    assert cli.main(["validate", "--config", str(root), "--env", "all"]) == 0


def test_missing_config_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--config", str(tmp_path / "nope")]) == 1
    assert "E-CONFIG-MISSING" in capsys.readouterr().out


def test_github_format_and_cwd_relative_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "platform", {"environments.yaml": THREE_ENVS, "assistants/a.yaml": ASSISTANT})
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "--format", "github"]) == 1  # --config defaults to ./platform
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("::error file=platform/assistants/a.yaml,line=10,col=")
    assert ",title=E-REF-DANGLING::model.toolIds[0] names Tool or KnowledgeBase 'nope'" in lines[0]
    assert lines[-1] == "1 error, 0 warnings in 1 file"


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, {"environments.yaml": THREE_ENVS, "assistants/a.yaml": ASSISTANT})
    assert cli.main(["validate", "--config", str(root), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["findings"][0]["json_path"] == "spec.model.toolIds[0]"


def git(cwd: Path, *args: str) -> None:
    config = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *config, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo / "platform")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    return repo


def _params(repo: Path) -> Path:
    return repo / "platform" / "tool-params" / "lookup-order.json"


def test_base_compat_breaking_change_in_included_schema(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = json.loads(_params(git_repo).read_text(encoding="utf-8"))
    del params["properties"]["postalCode"]
    params["required"].append("customerName")
    params["properties"]["customerName"] = {"type": "string"}
    _params(git_repo).write_text(json.dumps(params), encoding="utf-8")
    code = cli.main(["validate", "--config", str(git_repo / "platform"), "--base", "main"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "tools/lookup-order.yaml:14:" in out  # the `parameters:` line that includes the schema
    assert "E-COMPAT-REMOVED breaking change to Tool 'lookup-order'" in out
    assert "property 'postalCode' was removed" in out
    assert "E-COMPAT-REQUIRED" in out and "property 'customerName' is now required (it was new)" in out


def test_base_compat_enum_narrowed_in_api_request_body(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = git_repo / "platform" / "tools" / "create-return.yaml"
    doc.write_text(doc.read_text(encoding="utf-8").replace("not-needed, other", "other"), encoding="utf-8")
    assert cli.main(["validate", "--config", str(git_repo / "platform"), "--base", "main"]) == 1
    out = capsys.readouterr().out
    assert "E-COMPAT-ENUM" in out and "enum values removed: 'not-needed'" in out


def test_base_compat_optional_addition_is_fine(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = json.loads(_params(git_repo).read_text(encoding="utf-8"))
    params["properties"]["note"] = {"type": "string"}
    _params(git_repo).write_text(json.dumps(params), encoding="utf-8")
    assert cli.main(["validate", "--config", str(git_repo / "platform"), "--base", "main"]) == 0
    assert capsys.readouterr().out.startswith("config OK")


def test_base_unknown_ref(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--config", str(git_repo / "platform"), "--base", "origin/main"]) == 1
    out = capsys.readouterr().out
    assert "E-COMPAT-BASE --base origin/main: no such commit, branch or tag" in out


def test_a_broken_document_does_not_cascade_into_dangling_references(tmp_path: Path) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root)
    order = root / "assistants" / "order-agent.yaml"
    broken = order.read_text(encoding="utf-8").replace("temperature: 0.3", "temperature: [0.3")
    order.write_text(broken, encoding="utf-8")
    returns = root / "assistants" / "returns-agent.yaml"
    text = returns.read_text(encoding="utf-8").replace("${{ env.name }}", "${{ env.nmae }}")
    returns.write_text(text, encoding="utf-8")
    findings = runner.validate_repo(root, ["dev"])
    assert sorted((f.path, f.code) for f in findings if f.level == "error") == [
        ("assistants/order-agent.yaml", "E-YAML-SYNTAX"),
        ("assistants/returns-agent.yaml", "E-TEMPLATE-UNDEFINED"),
    ]
