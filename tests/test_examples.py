"""The shipped example config repo validates cleanly, and Vapi's Liquid variables pass through."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ci_deployer import cli
from ci_deployer.validate import runner

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "platform"


def test_example_validates_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["validate", "--config", str(EXAMPLE)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip().startswith("config OK: 9 documents, 3 environments"), out


def test_example_has_no_warnings_either() -> None:
    result = runner.run(EXAMPLE)
    assert result.findings == []
    assert result.documents == 9


def test_example_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--config", str(EXAMPLE), "--format", "json", "--env", "prod"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["ok"], data["errors"], data["environments"]) == (True, 0, 1)


def test_example_assistant_names_fit_vapi_limit_in_every_env() -> None:
    from ci_deployer.config import loader, render

    repo, findings = loader.load_repo(EXAMPLE)
    assert findings == []
    for env in repo.environments:
        resources, _ = render.render_env(repo, env)
        names = [r.spec["name"] for r in resources if r.kind in ("Assistant", "StructuredOutput")]
        assert names and all(len(n) <= 40 for n in names)
        prompts = [r.spec["model"]["messages"][0]["content"] for r in resources if r.kind == "Assistant"]
        assert any("{{ customer.number }}" in p for p in prompts)  # Liquid passes through untouched


def test_liquid_variables_in_prompts_and_first_messages_validate(tmp_path: Path) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root)
    doc = root / "assistants" / "order-agent.yaml"
    liquid = '\'{% if customer.name %}Hi {{ customer.name }}{% endif %}, it is {{ "now" | date: "%H:%M" }}\''
    text = doc.read_text(encoding="utf-8").replace("firstMessage: ", f"firstMessage: {liquid}\n  voicemailMessage: ")
    doc.write_text(text, encoding="utf-8")
    assert runner.validate_repo(root) == []
