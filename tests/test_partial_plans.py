"""Partial plans through the CLI, as a subprocess against a served emulator and real git history:
``--only`` and ``--changed-since`` plan a document and its neighbours (a rename, a deleted document
and an edited prompt include are picked up); a partial plan's hash is not the full plan's, and a
protected apply refuses a reviewed partial plan when something outside its scope would change.
A partial plan reads its documents by the ids the state recorded (no listing), shows drift, and
lists a kind when a GET answers 404 or a document has no recorded id.  And one load per command:
every config file is read once by plan and by apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator, serve
from support.gitrepo import git

DEV_TOKEN = "tok-partial-dev-0123456789"  # made-up tokens of the local emulator's orgs
PROD_TOKEN = "tok-partial-prod-0123456789"

TOOL = """apiVersion: ci-deployer/v1
kind: Tool
metadata: {{name: {slug}}}
spec:
  type: function
  function: {{name: {name}, description: {description}}}
"""
AGENT = """apiVersion: ci-deployer/v1
kind: Assistant
metadata: {{name: {slug}{previous}}}
spec:
  name: {name}
  model:
    provider: openai
    model: gpt-4.1-mini
    messages:
      - {{role: system, content: {{file: ../prompts/{slug}.md}}}}
    toolIds: [{tools}]
"""
SQUAD = """apiVersion: ci-deployer/v1
kind: Squad
metadata: {name: support}
spec:
  name: Support
  members: [{assistantId: agent-a}]
"""


@dataclass
class World:
    root: Path  # the git work tree
    url: str
    emulator: Emulator

    def gets(self, since: int, org: str = "pt-dev") -> list[str]:
        """The GETs ``org`` answered since request ``since`` of the emulator's log, with their status."""
        log = self.emulator.request_log[since:]
        return [f"{r.path} {r.status}" for r in log if r.org == org and r.method == "GET"]

    def in_org(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A dashboard edit in the dev org, over HTTP."""
        headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
        answer = httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json()

    @property
    def config(self) -> Path:
        return self.root / "platform"

    def write(self, rel: str, text: str) -> None:
        path = self.config / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def cli(self, *args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PT_DEV": DEV_TOKEN, "PT_PROD": PROD_TOKEN}
        env.pop("GITHUB_ACTIONS", None)
        out = subprocess.run(
            [sys.executable, "-m", "ci_deployer", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert out.returncode in expect, f"{args}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
        return out

    def plan(self, env: str, *args: str) -> dict[str, Any]:
        out = self.cli("plan", "--config", "platform", "--env", env, "--format", "json", "--against", "live", *args)
        data: dict[str, Any] = json.loads(out.stdout)
        return data


def keys(plan: dict[str, Any], *, writes: bool = False) -> set[str]:
    return {f"{c['kind']}/{c['slug']}" for c in plan["changes"] if not writes or c["action"] != "noop"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emulator = Emulator()
    emulator.add_org("pt-dev", DEV_TOKEN)
    emulator.add_org("pt-prod", PROD_TOKEN)
    with serve(emulator) as server:
        w = World(tmp_path / "repo", server.url, emulator)
        w.root.mkdir()
        git(w.root, "init", "-q", "-b", "main")
        (w.root / ".gitignore").write_text(".ci-deployer/\n", encoding="utf-8")
        w.write(
            "environments.yaml",
            "apiVersion: ci-deployer/v1\nenvironments:\n"
            f'  dev: {{org: pt-dev, api: {{url: "{server.url}", token: secrets://PT_DEV}}}}\n'
            f'  prod:\n    org: pt-prod\n    api: {{url: "{server.url}", token: secrets://PT_PROD}}\n'
            "    planAgainst: live\n    protection: {requiredApprovals: 0}\n",
        )
        for n in range(1, 5):
            w.write(f"tools/tool-{n}.yaml", TOOL.format(slug=f"tool-{n}", name=f"lookup_{n}", description=f"Tool {n}"))
        for slug, tools in (("agent-a", "tool-1, tool-2"), ("agent-b", "tool-3")):
            w.write(f"prompts/{slug}.md", f"You are {slug}.\n")
            w.write(f"assistants/{slug}.yaml", AGENT.format(slug=slug, previous="", name=slug, tools=tools))
        w.write("squads/support.yaml", SQUAD)
        w.commit("config")
        for env in ("dev", "prod"):
            w.cli("apply", "--config", "platform", "--env", env, "--auto-approve")
        yield w


def test_only_plans_the_documents_named(world: World) -> None:
    world.write("tools/tool-2.yaml", TOOL.format(slug="tool-2", name="lookup_2", description="Edited"))
    world.write("tools/tool-3.yaml", TOOL.format(slug="tool-3", name="lookup_3", description="Edited too"))
    plan = world.plan("dev", "--only", "tool/tool-2")
    assert plan["scope"]["keys"] == ["Tool/tool-2"] and plan["scope"]["only"] == ["tool/tool-2"]
    assert keys(plan) == {"Tool/tool-2"} and keys(plan, writes=True) == {"Tool/tool-2"}
    assert plan["unmanaged"] == [] and plan["logicalHash"] is None
    text = world.cli("plan", "--config", "platform", "--env", "dev", "--only", "Tool/tool-2").stdout
    assert "Partial plan: 1 document (--only Tool/tool-2)" in text


def test_only_refuses_a_slug_no_document_defines(world: World) -> None:
    for command in ("plan", "apply"):
        out = world.cli(
            command,
            "--config",
            "platform",
            "--env",
            "dev",
            "--only",
            "tool/tool-22",
            "--auto-approve" if command == "apply" else "--detailed-exitcode",
            expect=(1,),
        )
        assert "--only names no document of the config: Tool/tool-22 (did you mean 'tool-2'?)" in out.stderr
    runs = world.config / ".ci-deployer" / "runs" / "dev"
    assert len(list(runs.iterdir())) == 1  # the fixture's apply; the refused one wrote no run folder


def test_a_one_document_change_plans_it_and_its_neighbours(world: World) -> None:
    world.write("tools/tool-1.yaml", TOOL.format(slug="tool-1", name="lookup_1", description="Looks harder"))
    world.commit("edit tool-1")
    plan = world.plan("dev", "--changed-since", "HEAD~1")
    # tool-1 changed; agent-a references it; nothing else is planned (agent-a's tool-2 is context)
    assert set(plan["scope"]["keys"]) == {"Tool/tool-1", "Assistant/agent-a"}
    assert plan["scope"]["files"] == ["tools/tool-1.yaml"]
    assert keys(plan) == {"Tool/tool-1", "Assistant/agent-a"}
    assert keys(plan, writes=True) == {"Tool/tool-1"}
    full = world.plan("dev")
    assert keys(full, writes=True) == {"Tool/tool-1"}
    assert full["scope"] is None and full["hash"] != plan["hash"]


def test_a_partial_plan_reads_its_documents_by_their_recorded_ids(world: World) -> None:
    world.write("prompts/agent-b.md", "You are agent b. Be brief.\n")
    world.commit("edit agent-b's prompt")
    seen = len(world.emulator.request_log)
    plan = world.plan("dev", "--changed-since", "HEAD~1")
    assert set(plan["scope"]["keys"]) == {"Assistant/agent-b", "Tool/tool-3"}
    assert keys(plan, writes=True) == {"Assistant/agent-b"}
    ids = {c["key"]: c["id"] for c in _records(world, "dev")}
    # agent-b and the tool it references, one GET each by the id the state recorded: no listing
    assert sorted(world.gets(seen)) == sorted(
        [f"/assistant/{ids['Assistant/agent-b']} 200", f"/tool/{ids['Tool/tool-3']} 200"]
    )


def test_a_partial_plan_shows_drift_and_plans_again_what_was_deleted_in_the_org(world: World) -> None:
    ids = {c["key"]: c["id"] for c in _records(world, "dev")}
    world.in_org("PATCH", f"/tool/{ids['Tool/tool-1']}", {"function": {"name": "lookup_1", "description": "Edited"}})
    world.in_org("DELETE", f"/tool/{ids['Tool/tool-4']}")
    seen = len(world.emulator.request_log)
    plan = world.plan("dev", "--only", "tool/tool-1,tool/tool-4")
    assert [(d["slug"], [f["path"] for f in d["fields"]], d.get("missing", False)) for d in plan["drift"]] == [
        ("tool-1", ["function.description"], False),
        ("tool-4", [], True),
    ]
    assert {f"{c['kind']}/{c['slug']}": c["action"] for c in plan["changes"]} == {
        "Tool/tool-1": "noop",
        "Tool/tool-4": "create",
    }
    gets = world.gets(seen)
    assert f"/tool/{ids['Tool/tool-4']} 404" in gets  # gone: tools are listed instead
    assert any(get.startswith("/tool 200") for get in gets)
    full = world.plan("dev")  # lists every kind: the same changes and drift for these two
    assert [c for c in full["changes"] if c["slug"] in ("tool-1", "tool-4")] == plan["changes"]
    assert full["drift"] == plan["drift"]


def test_a_document_with_no_recorded_id_lists_its_kind(world: World) -> None:
    world.in_org("POST", "/tool", {"type": "function", "function": {"name": "lookup_5", "description": "Tool 5"}})
    world.write("tools/tool-5.yaml", TOOL.format(slug="tool-5", name="lookup_5", description="Tool 5"))
    seen = len(world.emulator.request_log)
    plan = world.plan("dev", "--only", "tool/tool-5", "--adopt")
    assert [(c["action"], c["slug"]) for c in plan["changes"]] == [("adopt", "tool-5")]  # found by its name
    assert world.gets(seen) == ["/tool 200"]  # listed (one page): no id to read it by


def _records(world: World, env: str) -> list[dict[str, Any]]:
    state = world.config / ".ci-deployer" / "state" / env / "snapshot.json"
    data = json.loads(state.read_text(encoding="utf-8"))
    return [{**r, "key": f"{r['kind']}/{r['slug']}"} for r in data["resources"]]


def test_an_edited_prompt_include_a_rename_and_a_deleted_document_are_picked_up(world: World) -> None:
    base = git(world.root, "rev-parse", "HEAD")
    world.write("prompts/agent-b.md", "You are agent b. Be brief.\n")  # an included file
    (world.config / "tools" / "tool-4.yaml").unlink()  # a deleted document
    git(world.root, "mv", "platform/assistants/agent-a.yaml", "platform/assistants/agent-alpha.yaml")
    git(world.root, "mv", "platform/prompts/agent-a.md", "platform/prompts/agent-alpha.md")
    world.write(
        "assistants/agent-alpha.yaml",
        AGENT.format(slug="agent-alpha", previous=", previousNames: [agent-a]", name="agent-a", tools="tool-1, tool-2"),
    )
    world.write("squads/support.yaml", SQUAD.replace("agent-a", "agent-alpha"))
    world.commit("rename agent-a, edit agent-b's prompt, delete tool-4")
    plan = world.plan("dev", "--changed-since", base)
    actions = {f"{c['kind']}/{c['slug']}": c["action"] for c in plan["changes"]}
    assert actions["Assistant/agent-b"] == "update"  # its prompt file changed
    assert actions["Assistant/agent-alpha"] == "rename"
    assert actions["Tool/tool-4"] == "delete"
    assert actions["Squad/support"] == "noop"  # edited to name the renamed assistant: the same id
    assert "Assistant/agent-a" in plan["scope"]["keys"]  # the former slug
    assert "prompts/agent-b.md" in plan["scope"]["files"]
    assert {k for k, a in actions.items() if a != "noop"} == {
        "Assistant/agent-b",
        "Assistant/agent-alpha",
        "Tool/tool-4",
    }
    assert "Tool/tool-3" in plan["scope"]["keys"]  # agent-b references it


def test_a_protected_apply_refuses_a_partial_plan_when_more_would_change(world: World) -> None:
    world.write("tools/tool-1.yaml", TOOL.format(slug="tool-1", name="lookup_1", description="In scope"))
    world.write("tools/tool-4.yaml", TOOL.format(slug="tool-4", name="lookup_4", description="Outside"))
    reviewed = world.root / "plan.json"
    out = world.cli("plan", "--config", "platform", "--env", "prod", "--only", "tool/tool-1", "--out", str(reviewed))
    assert "Partial plan" in out.stdout
    partial = json.loads(reviewed.read_text(encoding="utf-8"))
    assert partial["hash"] != world.plan("prod")["hash"]
    refused = world.cli(
        "apply",
        "--config",
        "platform",
        "--env",
        "prod",
        "--plan",
        str(reviewed),
        "--auto-approve",
        "--format",
        "json",
        expect=(1,),
    )
    failure = json.loads(refused.stdout)
    assert failure["failure_reason"] == "plan-changed"
    assert "update Tool/tool-4" in failure["error"] and "outside" in failure["error"]
    # the same reviewed scope applies once nothing outside it would change
    world.write("tools/tool-4.yaml", TOOL.format(slug="tool-4", name="lookup_4", description="Tool 4"))
    world.cli("apply", "--config", "platform", "--env", "prod", "--plan", str(reviewed), "--auto-approve")
    assert keys(world.plan("prod"), writes=True) == set()
    # a protected env is never applied in part
    world.cli("apply", "--config", "platform", "--env", "prod", "--only", "tool/tool-1", "--auto-approve", expect=(1,))


def test_an_unprotected_partial_apply_keeps_the_rest_of_the_state(world: World) -> None:
    world.write("tools/tool-2.yaml", TOOL.format(slug="tool-2", name="lookup_2", description="Only this"))
    world.write("tools/tool-3.yaml", TOOL.format(slug="tool-3", name="lookup_3", description="Not this"))
    world.cli("apply", "--config", "platform", "--env", "dev", "--only", "tool/tool-2", "--auto-approve")
    assert keys(world.plan("dev"), writes=True) == {"Tool/tool-3"}  # nothing forgotten, nothing else written


def test_one_load_per_command(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """plan and apply read every config file once (validation, the session and the gates share it)."""
    from ci_deployer import cli
    from ci_deployer.config import includes, loader, yamlsource

    reads: Counter[str] = Counter()
    real = yamlsource.read_text

    def counting(path: Path, limit: int) -> str:
        reads[Path(path).resolve().relative_to(world.config.resolve()).as_posix()] += 1
        return real(path, limit)

    for module in (loader, includes, yamlsource):  # imported above: each restored to the real one
        monkeypatch.setattr(module, "read_text", counting)
    monkeypatch.setenv("PT_DEV", DEV_TOKEN)
    monkeypatch.chdir(world.root)
    for argv in (
        ["plan", "--config", "platform", "--env", "dev"],
        ["apply", "--config", "platform", "--env", "dev", "--auto-approve"],
    ):
        reads.clear()
        assert cli.main(argv) == 0
        assert reads["tools/tool-1.yaml"] == 1 and reads["prompts/agent-a.md"] == 1
        assert max(reads.values()) == 1, reads
