"""Interrupted applies never duplicate: a real `ci-deployer apply` subprocess against a served emulator
with latency is killed (SIGKILL, SIGTERM, SIGINT) at several points, protected and unprotected, then
applied again: exactly the configured resources, no duplicates, and the next plan is empty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ci_deployer.emulator import Emulator, Faults, serve

TOKEN = "tok-interrupt-5f1e2d3c4b5a"
TOOLS, ASSISTANTS, SQUADS = 90, 20, 4
KIND_PATHS = (("Tool", "/tool"), ("Assistant", "/assistant"), ("Squad", "/squad"))


def write_config(root: Path, url: str, *, protected: bool) -> None:
    protection = "\n    protection: {requiredApprovals: 0, planAgainst: live}" if protected else ""
    (root / "tools").mkdir(parents=True)
    (root / "assistants").mkdir()
    (root / "squads").mkdir()
    (root / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n"
        f'  prod:\n    org: acme\n    api: {{url: "{url}", token: secrets://VAPI_TOKEN_PROD}}{protection}\n',
        encoding="utf-8",
    )
    for i in range(TOOLS):
        (root / "tools" / f"t{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {{name: t{i}}}\n"
            f"spec:\n  type: function\n  function: {{name: lookup_{i}, description: Look {i} up}}\n"
            f"  server: {{url: 'https://tools.example/{i}'}}\n",
            encoding="utf-8",
        )
    for i in range(ASSISTANTS):
        # a cycle: assistant a0 hands off to a handoff tool that points back at it (create, then patch)
        tools = f"[t{i}, t{i + TOOLS // 2}" + (", handoff]" if i == 0 else "]")
        (root / "assistants" / f"a{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {{name: a{i}}}\n"
            f"spec:\n  name: Agent {i}\n  firstMessage: Hello {i}\n"
            f"  model: {{provider: openai, model: gpt-4.1, toolIds: {tools}}}\n",
            encoding="utf-8",
        )
    (root / "tools" / "handoff.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: handoff}\n"
        "spec:\n  type: handoff\n  destinations: [{type: assistant, assistantId: a0}]\n",
        encoding="utf-8",
    )
    for i in range(SQUADS):
        members = ", ".join(f"{{assistantId: a{j}}}" for j in range(i * 3, i * 3 + 3))
        (root / "squads" / f"s{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Squad\nmetadata: {{name: s{i}}}\nspec:\n  name: Squad {i}\n"
            f"  members: [{members}]\n",
            encoding="utf-8",
        )


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator(faults=Faults(latency_ms=60, only_methods=frozenset({"POST", "PATCH"})))
    emu.add_org("acme", TOKEN)
    handle = serve(emu)
    try:
        yield emu, handle.url
    finally:
        handle.stop()


def cli(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VAPI_TOKEN_PROD": TOKEN}
    exe = Path(sys.executable).with_name("ci-deployer")
    return subprocess.Popen(
        [str(exe), *args, "--config", str(root), "--env", "prod"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal_writes(root: Path) -> int:
    logs = list(root.glob(".ci-deployer/runs/prod/*/apply-log.jsonl"))
    if not logs:
        return 0
    return sum(1 for line in logs[0].read_text(encoding="utf-8").splitlines() if '"event": "write"' in line)


def live_counts(emu: Emulator) -> Counter[str]:
    counts: Counter[str] = Counter()
    with httpx.Client(
        base_url="http://vapi.test", transport=emu.transport(), headers={"Authorization": f"Bearer {TOKEN}"}
    ) as api:
        listed = {name: api.get(path, params={"limit": 1000}).json() for name, path in KIND_PATHS}
    for name, objs in listed.items():
        for obj in objs:
            counts[name] += 1
            counts[f"{name}:{obj.get('name') or obj.get('function', {}).get('name') or obj.get('type')}"] += 1
    return counts


# (signal, protected, writes before the signal): every signal, both kinds of env, early/middle/late.
CASES = [
    (signal.SIGKILL, True, 15),
    (signal.SIGKILL, False, 100),
    (signal.SIGTERM, True, 100),
    (signal.SIGTERM, False, 40),
    (signal.SIGINT, True, 60),
    (signal.SIGINT, False, 112),
]


@pytest.mark.parametrize(("sig", "protected", "after"), CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_an_interrupted_apply_converges_without_duplicates(
    tmp_path: Path, emulator: tuple[Emulator, str], sig: signal.Signals, protected: bool, after: int
) -> None:
    emu, url = emulator
    root = tmp_path / "platform"
    write_config(root, url, protected=protected)
    proc = cli(root, "apply", "--auto-approve")
    deadline = time.monotonic() + 60
    while journal_writes(root) < after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the apply ended before it could be interrupted: {proc.communicate()}"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    if sig is not signal.SIGKILL:
        # a graceful stop: in-flight writes finished, no new ones started, the partial state saved
        assert proc.returncode == 1, err
        assert "the apply was interrupted" in err and "not attempted" in err, err
        assert f"{sig.name} received" in err
    written = live_counts(emu)
    expected = TOOLS + 1 + ASSISTANTS + SQUADS
    assert 0 < written["Tool"] + written["Assistant"] + written["Squad"] < expected  # it really was cut short

    rerun = cli(root, "apply", "--auto-approve")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "Traceback" not in err
    if sig is signal.SIGKILL and protected:  # no partial state saved, no name matching: it says where ids came from
        assert "warning: " in err and ("(its journal)" in err or "by identical content" in err), err
    counts = live_counts(emu)
    assert (counts["Tool"], counts["Assistant"], counts["Squad"]) == (TOOLS + 1, ASSISTANTS, SQUADS)
    duplicates = {name: n for name, n in counts.items() if ":" in name and n > 1}
    assert duplicates == {}

    plan = cli(root, "plan", "--detailed-exitcode", "--format", "json")
    out, err = plan.communicate(timeout=60)
    assert plan.returncode == 0, err + out
    assert json.loads(out)["hasChanges"] is False


def test_with_no_journal_and_no_state_a_protected_env_recovers_by_identical_payload(
    tmp_path: Path, emulator: tuple[Emulator, str]
) -> None:
    """In Actions a cancelled job's runner is gone: the rerun may have neither the journal nor the
    checkpointed state.  What the killed apply created is then recovered by its identical payload
    (and assistants by their labels) — never by a name alone in a protected env."""
    import shutil

    emu, url = emulator
    root = tmp_path / "platform"
    write_config(root, url, protected=True)
    proc = cli(root, "apply", "--auto-approve")
    while journal_writes(root) < 100 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    shutil.rmtree(root / ".ci-deployer")  # a fresh runner: no journal, no state
    # a hand-made tool that only shares a name with a document: not taken over, and it refuses the plan
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        created = api.post("/tool", json={"type": "function", "function": {"name": "lookup_89", "description": "x"}})
        assert created.status_code == 201
    refused = cli(root, "plan", "--format", "json")
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 1 and json.loads(out)["failure_reason"] == "state-error"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        assert api.delete(f"/tool/{created.json()['id']}").status_code == 200
    before = live_counts(emu)
    planned = cli(root, "plan", "--format", "json")
    out, _ = planned.communicate(timeout=60)
    plan = json.loads(out)
    recovered = [w for w in plan["warnings"] if ": matched " in w and "by identical content" in w]
    assert len(recovered) == before["Tool"]  # every tool the killed apply made, found by its payload
    assert plan["summary"]["create"] == TOOLS + 1 + ASSISTANTS + SQUADS - sum(
        before[kind] for kind in ("Tool", "Assistant", "Squad")
    )

    rerun = cli(root, "apply", "--auto-approve")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    counts = live_counts(emu)
    assert (counts["Tool"], counts["Assistant"], counts["Squad"]) == (TOOLS + 1, ASSISTANTS, SQUADS)
    assert {name: n for name, n in counts.items() if ":" in name and n > 1} == {}
    plan = cli(root, "plan", "--detailed-exitcode", "--format", "json")
    out, err = plan.communicate(timeout=60)
    assert plan.returncode == 0, err + out
