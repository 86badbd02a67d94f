"""References nested in overrides and hooks reach Vapi as ids, plan back to zero and export as slugs.

The config side records every id field Vapi's spec declares (platform/reftable.py); the engine maps
the recorded references to ids generically, whatever their depth.  Over real HTTP against the
served emulator, which answers 400 for an id field holding something that is not an id of the org.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import Org

from ci_deployer.cli import main

SQUAD = """\
apiVersion: ci-deployer/v1
kind: Squad
metadata:
  name: order-support
spec:
  name: "Order Support (${{ env.name }})"
  members:
    - assistantId: order-agent
      assistantOverrides:
        model:
          provider: openai
          model: gpt-4.1
          toolIds: [create-return]
    - assistantId: returns-agent
  membersOverrides:
    model:
      provider: openai
      model: gpt-4.1-mini
      toolRefs: [{toolId: lookup-order, version: v1}]
"""

HOOKS = """\
  hooks:
    - on: customer.speech.timeout
      options: {timeoutSeconds: 10}
      do:
        - type: tool
          toolId: lookup-order
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [i for i in items if i.get("name") == name or (i.get("function") or {}).get("name") == name]
    return found


def test_nested_references_are_sent_as_ids(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (served_repo / "squads" / "order-support.yaml").write_text(SQUAD, encoding="utf-8")
    agent = served_repo / "assistants" / "order-agent.yaml"
    agent.write_text(agent.read_text(encoding="utf-8") + HOOKS, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--config", str(served_repo), "--env", "dev")
    assert code == 0, out + err

    code, _, err = run(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--out-dir",
        str(tmp_path / "a"),
    )
    assert code == 0, err
    tools = org.list("/tool")
    create_return = by_name(tools, "create_return")["id"]
    lookup_order = by_name(tools, "lookup_order")["id"]
    squad = by_name(org.list("/squad"), "Order Support (dev)")
    assert squad["members"][0]["assistantOverrides"]["model"]["toolIds"] == [create_return]
    assert squad["membersOverrides"]["model"]["toolRefs"] == [{"toolId": lookup_order, "version": "v1"}]
    order_agent = by_name(org.list("/assistant"), "Order Agent (dev)")
    assert order_agent["hooks"][0]["on"] == "customer.speech.timeout"
    assert order_agent["hooks"][0]["do"][0]["toolId"] == lookup_order

    code, out, _ = run(
        capsys, "plan", "--config", str(served_repo), "--env", "dev", "--format", "json", "--detailed-exitcode"
    )
    plan = json.loads(out)
    assert code == 0, [c for c in plan["changes"] if c["action"] != "noop"]

    exported = tmp_path / "exported"
    code, _, err = run(capsys, "export", "--config", str(served_repo), "--env", "dev", "--out", str(exported))
    assert code == 0, err
    (squad_file,) = [p for p in exported.rglob("*.yaml") if "kind: Squad" in p.read_text(encoding="utf-8")]
    spec = yaml.safe_load(squad_file.read_text(encoding="utf-8"))["spec"]
    # an id field exports as a bare slug, like a top-level one (not as {ref: Tool/create-return})
    assert spec["members"][0]["assistantOverrides"]["model"]["toolIds"] == ["create-return"]
    assert spec["membersOverrides"]["model"]["toolRefs"][0]["toolId"] == "lookup-order"
