"""A level's checkpoint is written in the background while the next level runs: a save that fails still
stops the apply (at the next checkpoint, before the level after), and a rerun converges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import TOKEN, Org, environments_yaml

from ci_deployer.cli import main


def write_repo(root: Path, url: str) -> None:
    root.mkdir()
    (root / "environments.yaml").write_text(environments_yaml(url), encoding="utf-8")
    docs = [
        f"kind: Tool\nmetadata: {{name: tool-{i}}}\nspec:\n  type: function\n  function: {{name: t{i}}}\n"
        for i in range(6)
    ]
    docs += [
        f"kind: Assistant\nmetadata: {{name: agent-{i}}}\nspec:\n  name: Agent {i}\n"
        f"  model: {{provider: openai, model: gpt-4.1-mini, toolIds: [tool-{i}]}}\n"
        for i in range(4)
    ]
    docs.append("kind: Squad\nmetadata: {name: squad}\nspec:\n  name: Squad\n  members: [{assistantId: agent-0}]\n")
    for n, body in enumerate(docs):
        (root / f"doc-{n:02}.yaml").write_text("apiVersion: ci-deployer/v1\n" + body, encoding="utf-8")


def test_a_failed_checkpoint_stops_the_apply_and_a_rerun_converges(
    tmp_path: Path, org: Org, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cfg"
    write_repo(root, org.url)
    monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
    blocker = root / ".ci-deployer" / "state" / "dev" / "snapshot.json.tmp"
    blocker.mkdir(parents=True)  # the state file cannot be written: every save fails
    args = ["apply", "--config", str(root), "--env", "dev", "--auto-approve"]

    assert main([*args, "--out-dir", str(tmp_path / "r1")]) != 0
    # tools (level 1) and assistants (level 2, running while level 1's save failed) were written; the
    # failure was raised at the second checkpoint, so the squad (level 3) never started
    assert (len(org.list("/tool")), len(org.list("/assistant")), len(org.list("/squad"))) == (6, 4, 0)
    journal = (tmp_path / "r1" / "apply-log.jsonl").read_text(encoding="utf-8")
    assert journal.count('"event": "write"') == 10

    blocker.rmdir()
    capsys.readouterr()
    assert main([*args, "--out-dir", str(tmp_path / "r2")]) == 0, capsys.readouterr().err[-2000:]
    assert (len(org.list("/tool")), len(org.list("/assistant")), len(org.list("/squad"))) == (6, 4, 1)
    capsys.readouterr()
    assert main(["plan", "--config", str(root), "--env", "dev", "--detailed-exitcode", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["hasChanges"] is False


def test_the_canonical_forms_workers_make_are_those_the_snapshot_would(
    tmp_path: Path, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker canonicalises the response it got (off the checkpoints' critical path): the
    snapshot built from those forms equals the one built with none remembered."""
    from ci_deployer import compose
    from ci_deployer.engine.apply import Applier
    from ci_deployer.settings import Settings

    root = tmp_path / "cfg"
    write_repo(root, org.url)
    monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
    settings = Settings.from_environ({"VAPI_TOKEN_DEV": TOKEN})
    with compose.open_session(settings, root, "dev") as session:
        ctx = session.plan()
        applier = Applier(ctx, session.client(), session.resolver, sha=None, run="test")
        results = applier.execute()
        assert [r.status for r in results] == ["ok"] * 11
        made = ctx.masker.canonical_live
        calls: list[object] = []
        monkeypatch.setattr(ctx.masker, "canonical_live", lambda *a, **k: calls.append(a) or made(*a, **k))
        remembered = applier.snapshot(results, plan_hash=ctx.plan.hash, logical_hash=None)
        assert calls == []  # every form the workers made still held: none was made again
        applier._canonical.clear()
        fresh = applier.snapshot(results, plan_hash=ctx.plan.hash, logical_hash=None)
    assert len(remembered.resources) == 11
    as_dicts = [r.to_dict() for r in remembered.resources], [r.to_dict() for r in fresh.resources]
    assert as_dicts[0] == as_dicts[1]
