"""End-to-end scenarios through the CLI, over real HTTP against the served emulator."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import EXAMPLES, SECRET, Org, git

from ci_deployer.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli(
        capsys, "plan", "--config", str(root), "--env", "dev", "--format", "json", "--detailed-exitcode"
    )
    return code, json.loads(out)


def assistant(org: Org, name: str) -> dict[str, Any]:
    found = [a for a in org.list("/assistant") if a.get("name") == name]
    assert len(found) == 1, f"expected one assistant named {name!r}, found {len(found)}"
    return found[0]


def all_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "emulator" not in p.parts]


def test_full_scenario(served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = served_repo
    sha1 = git(root, "rev-parse", "HEAD")
    runs = tmp_path / "runs"

    # 1. apply to an empty org
    code, _, err = run_cli(
        capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(runs / "1")
    )
    assert code == 0, err
    assert "+ create Squad/order-support … ok" in err
    order = assistant(org, "Order Agent (dev)")
    assert order["metadata"]["ciDeployer"]["sha"] == sha1
    assert order["metadata"]["ciDeployer"]["slug"] == "order-agent"
    assert len(org.list("/tool")) == 3

    # 2. a second plan has no changes
    code, plan = plan_json(capsys, root)
    assert code == 0
    assert plan["hasChanges"] is False
    assert plan["summary"]["noop"] == 8
    assert plan["drift"] == [] and plan["unmanaged"] == []
    assert plan["secrets"] == [{"ref": "ORDERS_API_TOKEN", "status": "unchanged", "resolvable": True}]

    # 3. a dashboard-style edit is drift (not a planned change)
    response = org.http.patch(f"/assistant/{order['id']}", json={"firstMessage": "Edited in the dashboard"})
    assert response.status_code == 200
    code, plan = plan_json(capsys, root)
    assert code == 0  # drift: warn in an unprotected env
    assert plan["hasChanges"] is False
    assert [(d["kind"], d["slug"]) for d in plan["drift"]] == [("Assistant", "order-agent")]
    assert [f["path"] for f in plan["drift"][0]["fields"]] == ["firstMessage"]
    assert plan["drift"][0]["fields"][0]["new"] == "Edited in the dashboard"

    # 4. a config change plans as exactly that update
    doc = root / "assistants" / "returns-agent.yaml"
    doc.write_text(doc.read_text(encoding="utf-8").replace("temperature: 0.2", "temperature: 0.6"), encoding="utf-8")
    git(root, "commit", "-qam", "warmer returns agent")
    sha2 = git(root, "rev-parse", "HEAD")
    code, plan = plan_json(capsys, root)
    assert code == 2
    changed = [c for c in plan["changes"] if c["action"] != "noop"]
    assert [(c["action"], c["kind"], c["slug"]) for c in changed] == [("update", "Assistant", "returns-agent")]
    assert changed[0]["fields"] == [{"path": "model.temperature", "op": "change", "old": 0.2, "new": 0.6}]
    assert changed[0]["file"] == "assistants/returns-agent.yaml"
    code, _, err = run_cli(
        capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(runs / "2")
    )
    assert code == 0, err
    returns = assistant(org, "Returns Agent (dev)")
    assert returns["model"]["temperature"] == 0.6
    assert returns["metadata"]["ciDeployer"]["sha"] == sha2
    # the other assistant was not written: its label keeps the first sha, its drift is still reported
    assert assistant(org, "Order Agent (dev)")["metadata"]["ciDeployer"]["sha"] == sha1

    # 5. git revert + apply restores the previous state
    git(root, "revert", "--no-edit", "HEAD")
    sha3 = git(root, "rev-parse", "HEAD")
    code, _, err = run_cli(
        capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve", "--out-dir", str(runs / "3")
    )
    assert code == 0, err
    returns = assistant(org, "Returns Agent (dev)")
    assert returns["model"]["temperature"] == 0.2
    assert returns["metadata"]["ciDeployer"]["sha"] == sha3
    code, plan = plan_json(capsys, root)
    assert plan["hasChanges"] is False

    # every output file exists, and none holds the secret value
    for run in ("1", "2", "3"):
        names = {p.name for p in (runs / run).iterdir()}
        assert {"backup-before.json", "snapshot-after.json", "apply-log.jsonl"} <= names
    log = [json.loads(line) for line in (runs / "1" / "apply-log.jsonl").read_text().splitlines()]
    posts = [entry for entry in log if entry.get("method") == "POST"]
    assert len(posts) == 8 and all(e["status"] == 201 and e["requestSha256"] and e["idempotencyKey"] for e in posts)
    # the journal: opened, one line per finished write with the id the org gave it, closed
    events = [entry["event"] for entry in log if "event" in entry]
    assert events[0] == "start" and events[-1] == "end" and events.count("write") == 8
    writes = [entry for entry in log if entry.get("event") == "write"]
    assert all(entry["status"] == "ok" and entry["id"] for entry in writes)
    files = all_files(runs) + all_files(root / ".ci-deployer")
    assert files
    for path in files:
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_stale_plan_is_refused(served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    reviewed = tmp_path / "plan.json"
    code, _, _ = run_cli(capsys, "plan", "--config", str(served_repo), "--env", "dev", "--out", str(reviewed))
    assert code == 0
    # someone else applies in between
    code, _, _ = run_cli(
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
    assert code == 0
    before = len(org.emulator.request_log)
    code, out, _err = run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--plan",
        str(reviewed),
        "--format",
        "json",
        "--out-dir",
        str(tmp_path / "b"),
    )
    assert code == 1
    error = json.loads(out)
    assert error["failure_reason"] == "plan-changed"
    assert "no longer: create Assistant/order-agent" in error["error"]
    assert all(r.method == "GET" for r in org.emulator.request_log[before:])  # nothing written


def test_a_stale_plan_refusal_shows_how_each_field_was_planned_differently(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_cli(capsys, "apply", "--config", str(served_repo), "--env", "dev", "--auto-approve")[0] == 0
    prompt = served_repo / "prompts" / "order-agent.md"
    agent = served_repo / "assistants" / "order-agent.yaml"
    original = prompt.read_text(encoding="utf-8")
    prompt.write_text(original + "- Offer a callback when the line is bad.\n", encoding="utf-8")
    agent.write_text(agent.read_text(encoding="utf-8").replace("temperature: 0.3", "temperature: 0.4"), "utf-8")
    reviewed = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--config", str(served_repo), "--env", "dev", "--out", str(reviewed))[0] == 0
    prompt.write_text(original + "- Offer a voucher when a delivery is late.\n", encoding="utf-8")  # pushed later
    agent.write_text(agent.read_text(encoding="utf-8").replace("temperature: 0.4", "temperature: 0.5"), "utf-8")
    before = len(org.emulator.request_log)
    code, _, err = run_cli(
        capsys, "apply", "--config", str(served_repo), "--env", "dev", "--auto-approve", "--plan", str(reviewed)
    )
    assert code == 1 and "plan for dev changed since it was reviewed" in err
    assert "Assistant/order-agent model.temperature: reviewed 0.4, now 0.5" in err
    assert "the reviewed plan would write other text:" in err
    assert "-- Offer a callback when the line is bad." in err and "+- Offer a voucher when a delivery is late." in err
    assert all(r.method == "GET" for r in org.emulator.request_log[before:])  # nothing written


@pytest.mark.parametrize(
    "case",
    [
        (None, "secret(s) secrets://ORDERS_API_TOKEN (tools/lookup-order.yaml:8) cannot be resolved here"),
        ("short", "tools/lookup-order.yaml:8: secret secrets://ORDERS_API_TOKEN is shorter than 8 characters"),
    ],
)
def test_a_secret_apply_cannot_use_is_named_with_its_document(
    served_repo: Path,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str | None, str],
) -> None:
    value, says = case
    if value is None:
        monkeypatch.delenv("ORDERS_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("ORDERS_API_TOKEN", value)
    before = len(org.emulator.request_log)
    code, _, err = run_cli(capsys, "apply", "--config", str(served_repo), "--env", "dev", "--auto-approve")
    assert code == 1 and says in err, err
    assert all(r.method == "GET" for r in org.emulator.request_log[before:])


def test_apply_with_the_reviewed_plan(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reviewed = tmp_path / "plan.json"
    run_cli(capsys, "plan", "--config", str(served_repo), "--env", "dev", "--out", str(reviewed))
    code, _, err = run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--plan",
        str(reviewed),
        "--out-dir",
        str(tmp_path / "a"),
    )
    assert code == 0, err
    assert len(org.list("/assistant")) == 2


def test_deletes_refused_without_the_flag(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = served_repo / "environments.yaml"
    env.write_text(env.read_text(encoding="utf-8") + "    allowDeletes: false\n", encoding="utf-8")
    code, _, err = run_cli(
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
    (served_repo / "evals" / "order-status.yaml").unlink()
    code, out, _ = run_cli(capsys, "plan", "--config", str(served_repo), "--env", "dev")
    assert "blocked: deletes are not allowed in dev" in out
    code, out, err = run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--format",
        "json",
        "--out-dir",
        str(tmp_path / "b"),
    )
    assert code == 1
    assert json.loads(out)["failure_reason"] == "deletes-not-allowed"
    assert len(org.list("/eval")) == 1
    code, _, err = run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--allow-deletes",
        "--out-dir",
        str(tmp_path / "c"),
    )
    assert code == 0, err
    assert "- delete Eval/order-status … ok" in err
    assert org.list("/eval") == []


def test_apply_without_terminal_refuses_at_once(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "apply", "--config", str(served_repo), "--env", "dev")
    assert code == 1
    assert "no terminal" in err and "--auto-approve" in err
    assert org.emulator.request_log == []


def test_unmanaged_and_rename(served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_cli(
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
    org.http.post("/assistant", json={"name": "Scratch bot"})
    tool = served_repo / "tools" / "create-return.yaml"
    text = tool.read_text(encoding="utf-8").replace(
        "name: create-return", "name: open-return\n  previousNames: [create-return]"
    )
    tool.write_text(text, encoding="utf-8")
    agent = served_repo / "assistants" / "returns-agent.yaml"
    agent.write_text(agent.read_text(encoding="utf-8").replace("create-return]", "open-return]"), encoding="utf-8")
    ids_before = {t["id"] for t in org.list("/tool")}
    code, plan = plan_json(capsys, served_repo)
    assert code == 2
    actions = {(c["action"], c["slug"]) for c in plan["changes"] if c["action"] != "noop"}
    assert actions == {("rename", "open-return")}
    assert [(u["kind"], u["name"]) for u in plan["unmanaged"]] == [("Assistant", "Scratch bot")]
    code, _, err = run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--out-dir",
        str(tmp_path / "b"),
    )
    assert code == 0, err
    assert {t["id"] for t in org.list("/tool")} == ids_before  # same ids: a rename is no re-create
    assert len(org.list("/assistant")) == 3  # the unmanaged one is left alone
    code, plan = plan_json(capsys, served_repo)
    assert plan["hasChanges"] is False


def test_rollback_to_a_snapshot(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(
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
    good = tmp_path / "a" / "snapshot-after.json"
    doc = served_repo / "assistants" / "order-agent.yaml"
    doc.write_text(doc.read_text(encoding="utf-8").replace("temperature: 0.3", "temperature: 0.9"), encoding="utf-8")
    run_cli(
        capsys,
        "apply",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--auto-approve",
        "--out-dir",
        str(tmp_path / "b"),
    )
    order = assistant(org, "Order Agent (dev)")
    assert order["model"]["temperature"] == 0.9
    org.http.patch(f"/assistant/{order['id']}", json={"firstMessage": "dashboard edit"})
    code, _, err = run_cli(
        capsys,
        "rollback",
        "--config",
        str(served_repo),
        "--env",
        "dev",
        "--snapshot",
        str(good),
        "--auto-approve",
        "--out-dir",
        str(tmp_path / "c"),
    )
    assert code == 0, err
    order = assistant(org, "Order Agent (dev)")
    assert order["model"]["temperature"] == 0.3
    assert order["firstMessage"].startswith("Hi, this is Acme order support")
    assert order.get("server", True)
    tool = next(t for t in org.list("/tool") if (t.get("function") or {}).get("name") == "lookup_order")
    assert tool["server"]["headers"]["Authorization"] == f"Bearer {SECRET}"  # re-resolved from the placeholder


def test_export_validates_and_plans_to_zero(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(
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
    out = tmp_path / "exported"
    code, _, err = run_cli(capsys, "export", "--config", str(served_repo), "--env", "dev", "--out", str(out))
    assert code == 0, err
    assert (out / "prompts" / "order-agent.md").read_text(encoding="utf-8") == (
        EXAMPLES / "prompts" / "order-agent.md"
    ).read_text(encoding="utf-8")
    for path in all_files(out):
        assert SECRET not in path.read_text(encoding="utf-8"), path
    code, out_text, err = run_cli(capsys, "validate", "--config", str(out), "--env", "dev")
    assert code == 0, out_text + err
    # config only: no state, no key in the exported folder
    assert not (out / ".ci-deployer").exists()
    # templates come back where the source config writes them and they render to the exported value
    agent = (out / "assistants" / "order-agent.yaml").read_text(encoding="utf-8")
    source = (served_repo / "assistants" / "order-agent.yaml").read_text(encoding="utf-8")
    assert "${{ params.model }}" in agent and "${{ params.model }}" in source
    assert "gpt-4.1-mini" not in agent
    code, plan = plan_json(capsys, out)
    assert code == 0, [c for c in plan["changes"] if c["action"] != "noop"]
    assert plan["hasChanges"] is False and plan["drift"] == [] and plan["unmanaged"] == []
    assert not any(": recovered " in w for w in plan["warnings"])  # no journal here: nothing claims one
    # assistants by their labels; the other kinds by name, only to be recorded (nothing to send)
    assert {c["action"] for c in plan["changes"]} <= {"noop", "adopt"}
    assert all(c["fields"] == [] for c in plan["changes"])
    code, _, err = run_cli(
        capsys, "apply", "--config", str(out), "--env", "dev", "--auto-approve", "--out-dir", str(tmp_path / "b")
    )
    assert code == 0, err
    log = (tmp_path / "b" / "apply-log.jsonl").read_text(encoding="utf-8")
    assert '"method": "POST"' not in log and '"method": "PATCH"' not in log  # recorded, nothing written
    code, plan = plan_json(capsys, out)
    assert plan["summary"]["noop"] == 8


def test_export_of_the_embedded_env_plans_back_to_no_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    monkeypatch.setenv("ORDERS_API_TOKEN", SECRET)
    code, _, err = run_cli(capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve")
    assert code == 0, err
    out = tmp_path / "exported"
    code, _, err = run_cli(capsys, "export", "--config", str(root), "--env", "dev", "--out", str(out))
    assert code == 0, err
    assert not (out / ".ci-deployer").exists()
    code, plan = plan_json(capsys, out)  # the same embedded org, reached from the exported folder
    assert code == 0 and plan["hasChanges"] is False, [c for c in plan["changes"] if c["action"] != "noop"]
    assert plan["unmanaged"] == [] and plan["summary"]["create"] == 0


def test_embedded_default(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLES, root)
    monkeypatch.setenv("ORDERS_API_TOKEN", SECRET)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "plan", "--config", str(root), "--env", "dev", "--detailed-exitcode")
    assert code == 2
    assert "Plan: 8 to create, 0 to update, 0 to delete." in out
    code, _, err = run_cli(capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "plan", "--config", str(root), "--env", "dev", "--detailed-exitcode")
    assert code == 0
    assert "Plan: 0 to create, 0 to update, 0 to delete." in out
    runs = list((root / ".ci-deployer" / "runs" / "dev").iterdir())
    assert len(runs) == 1 and (runs[0] / "snapshot-after.json").exists()
    assert (root / ".ci-deployer" / "state" / "dev" / "snapshot.json").exists()
    code, out, _ = run_cli(capsys, "plan", "--config", str(root), "--env", "dev", "--against", "snapshot")
    assert code == 0
    assert "Planned against dev as applied at" in out
    assert os.environ["ORDERS_API_TOKEN"] == SECRET


def test_reference_cycle_is_created_then_patched(
    served_repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (served_repo / "tools" / "handoff-to-orders.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: handoff-to-orders}\nspec:\n  type: handoff\n"
        "  destinations: [{type: assistant, assistantId: order-agent, description: back to orders}]\n",
        encoding="utf-8",
    )
    agent = served_repo / "assistants" / "returns-agent.yaml"
    text = agent.read_text(encoding="utf-8").replace("create-return]", "create-return, handoff-to-orders]")
    agent.write_text(text, encoding="utf-8")
    code, _, err = run_cli(
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
    assert "~ patch Assistant/" in err
    tools = {t.get("function", {}).get("name") or t["id"]: t for t in org.list("/tool")}
    by_id = {t["id"]: t for t in tools.values()}
    order = assistant(org, "Order Agent (dev)")
    returns = assistant(org, "Returns Agent (dev)")
    handoffs = [by_id[i] for i in returns["model"]["toolIds"] if by_id[i]["type"] == "handoff"]
    assert [h["destinations"][0]["assistantId"] for h in handoffs] == [order["id"]]
    code, plan = plan_json(capsys, served_repo)
    assert code == 0, [c for c in plan["changes"] if c["action"] != "noop"]
