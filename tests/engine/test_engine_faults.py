"""The fault scenario: 300 resources through 20% injected 5xx/429 and 5% lost responses."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from engine_helpers import Org, environments_yaml

from ci_deployer.cli import main
from ci_deployer.emulator import Faults

TOOLS, NAMELESS, ASSISTANTS, SQUADS = 140, 10, 100, 50


def write_repo(root: Path, url: str) -> None:
    root.mkdir()
    (root / "environments.yaml").write_text(environments_yaml(url), encoding="utf-8")
    docs = []
    for i in range(TOOLS):
        docs.append(
            f"kind: Tool\nmetadata: {{name: tool-{i}}}\nspec:\n  type: function\n"
            f"  function: {{name: tool_{i}, description: Tool number {i}}}\n"
        )
    for i in range(NAMELESS):  # nameless tools: a lost create is found again by its payload
        docs.append(
            f"kind: Tool\nmetadata: {{name: end-{i}}}\nspec:\n  type: endCall\n"
            f"  messages: [{{type: request-start, content: Goodbye number {i}}}]\n"
        )
    for i in range(ASSISTANTS):
        docs.append(
            f"kind: Assistant\nmetadata: {{name: agent-{i}}}\nspec:\n  name: Agent {i}\n"
            f"  model: {{provider: openai, model: gpt-4.1-mini, toolIds: [tool-{i}, end-{i % NAMELESS}]}}\n"
        )
    for i in range(SQUADS):
        docs.append(
            f"kind: Squad\nmetadata: {{name: squad-{i}}}\nspec:\n  name: Squad {i}\n"
            f"  members: [{{assistantId: agent-{2 * i}}}, {{assistantId: agent-{2 * i + 1}}}]\n"
        )
    for n, body in enumerate(docs):
        (root / f"doc-{n:03}.yaml").write_text("apiVersion: ci-deployer/v1\n" + body, encoding="utf-8")


def test_faults_converge_without_duplicates(
    tmp_path: Path, org: Org, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "big"
    write_repo(root, org.url)
    monkeypatch.setenv("VAPI_TOKEN_DEV", "tok-dev-5f1e2d3c4b5a")
    org.emulator.faults = Faults(fail_rate=0.1, throttle_rate=0.1, drop_rate=0.05, seed=7)
    outcomes = []
    for run in range(2):
        code = main(
            ["apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(tmp_path / f"r{run}")]
        )
        outcomes.append(code)
        if code == 0:
            break
    assert outcomes[-1] == 0, capsys.readouterr().err[-3000:]
    faults = Counter(r.fault for r in org.emulator.request_log if r.fault)
    assert faults["fail"] and faults["throttle"] and faults["drop"]  # the faults did happen
    org.emulator.faults = Faults()
    tools = org.list("/tool")
    assistants = org.list("/assistant")
    squads = org.list("/squad")
    assert (len(tools), len(assistants), len(squads)) == (TOOLS + NAMELESS, ASSISTANTS, SQUADS)
    names = [t.get("function", {}).get("name") for t in tools if t["type"] == "function"]
    assert len(set(names)) == TOOLS
    assert len({json.dumps(t.get("messages")) for t in tools if t["type"] == "endCall"}) == NAMELESS
    assert len({a["name"] for a in assistants}) == ASSISTANTS
    assert len({s["name"] for s in squads}) == SQUADS
    # every reference points at a live resource of this org
    tool_ids = {t["id"] for t in tools}
    assert all(set(a["model"]["toolIds"]) <= tool_ids for a in assistants)
    capsys.readouterr()
    code = main(["plan", "--config", str(root), "--env", "dev", "--detailed-exitcode", "--format", "json"])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0, [c for c in plan["changes"] if c["action"] != "noop"][:5]
    assert plan["summary"]["noop"] == TOOLS + NAMELESS + ASSISTANTS + SQUADS
