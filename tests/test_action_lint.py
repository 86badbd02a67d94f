"""action.yml and the example workflows pass check-jsonschema, actionlint and zizmor with no findings,
and action.yml declares exactly the inputs and outputs the action reads and writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci_deployer.action import OUTPUT_NAMES
from ci_deployer.github.inputs import Inputs

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / "workflows-examples").glob("*.yml"))


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed in the venv (pip install -e '.[dev]')")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def test_the_example_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "drift.yml", "pr-plan.yml", "promote-prod.yml", "release.yml"]


def test_action_metadata_matches_its_schema() -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_matches_its_schema(workflow: Path) -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_has_no_findings() -> None:
    result = run(tool("actionlint"), "-no-color", "-oneline", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_has_no_findings() -> None:
    result = run(tool("zizmor"), "--offline", "--persona=pedantic", "action.yml", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_action_yml_declares_what_the_action_reads_and_writes() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    # `github_token` is read with the run's settings (INPUT_GITHUB_TOKEN), the rest as typed inputs.
    assert set(action["inputs"]) == set(Inputs.__dataclass_fields__) | {"github_token"}
    assert set(action["outputs"]) == set(OUTPUT_NAMES)
    assert action["inputs"]["github_token"]["default"] == "${{ github.token }}"
    assert action["inputs"]["comment"]["default"] == "true"
    assert all(name == name.lower() and "-" not in name for name in action["inputs"])  # INPUT_ names stay readable


def test_every_example_pins_actions_by_full_commit_sha() -> None:
    for workflow in WORKFLOWS:
        data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        for job in data["jobs"].values():
            assert "permissions" in job, f"{workflow.name}: every job declares least-privilege permissions"
            assert "concurrency" in job or "concurrency" in data
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]
        text = workflow.read_text(encoding="utf-8")
        if "VAPI_TOKEN_PROD:" in text and workflow.name != "drift.yml":
            assert "environment: prod" in text, f"{workflow.name}: prod secrets only in the `environment: prod` job"
