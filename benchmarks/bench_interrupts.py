"""Interrupted applies, many times: how many converge with no duplicate.

Each trial writes a config (function tools, assistants using them, squads, a handoff cycle), serves
the emulator with latency on writes, starts a real ``ci-deployer apply`` process, sends it SIGKILL,
SIGTERM or SIGINT after a random number of journaled writes (some trials in a protected env, some
with the journal and state deleted before the rerun, as on a fresh runner), reruns apply and checks:
exactly the configured resources, no duplicate names, and an empty next plan.

    python benchmarks/bench_interrupts.py [--trials 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from ci_deployer.emulator import Emulator, Faults, serve

TOKEN = "tok-bench-interrupts-0123456789"  # noqa: S105 - the emulator org's test token
TOOLS, ASSISTANTS, SQUADS = 60, 15, 3
EXE = str(Path(sys.executable).with_name("ci-deployer"))


def write_config(root: Path, url: str, protected: bool) -> None:
    for folder in ("tools", "assistants", "squads"):
        (root / folder).mkdir(parents=True)
    protection = "\n    protection: {requiredApprovals: 0, planAgainst: live}" if protected else ""
    (root / "environments.yaml").write_text(
        f'apiVersion: ci-deployer/v1\nenvironments:\n  prod:\n    org: acme\n    api: {{url: "{url}", '
        f"token: secrets://VAPI_TOKEN}}{protection}\n"
    )
    for i in range(TOOLS):
        (root / "tools" / f"t{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {{name: t{i}}}\n"
            f"spec: {{type: function, function: {{name: f{i}, description: d{i}}}}}\n"
        )
    (root / "tools" / "handoff.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: handoff}\n"
        "spec: {type: handoff, destinations: [{type: assistant, assistantId: a0}]}\n"
    )
    for i in range(ASSISTANTS):
        tools = f"[t{i}, t{i + 30}" + (", handoff]" if i == 0 else "]")
        (root / "assistants" / f"a{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {{name: a{i}}}\n"
            f"spec: {{name: Agent {i}, model: {{provider: openai, model: gpt-4.1, toolIds: {tools}}}}}\n"
        )
    for i in range(SQUADS):
        members = ", ".join(f"{{assistantId: a{j}}}" for j in range(i * 3, i * 3 + 3))
        (root / "squads" / f"s{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Squad\nmetadata: {{name: s{i}}}\n"
            f"spec: {{name: Squad {i}, members: [{members}]}}\n"
        )


def writes(root: Path) -> int:
    logs = list(root.glob(".ci-deployer/runs/prod/*/apply-log.jsonl"))
    return sum(log.read_text().count('"event": "write"') for log in logs)


def counts(emulator: Emulator) -> Counter[str]:
    out: Counter[str] = Counter()
    with httpx.Client(
        base_url="http://vapi", transport=emulator.transport(), headers={"Authorization": f"Bearer {TOKEN}"}
    ) as api:
        for path in ("/tool", "/assistant", "/squad"):
            for obj in api.get(path, params={"limit": 1000}).json():
                out[path] += 1
                out[f"{path}:{obj.get('name') or (obj.get('function') or {}).get('name') or obj.get('type')}"] += 1
    return out


def trial(rng: random.Random, tmp: Path) -> tuple[str, bool, str]:
    sig = rng.choice([signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
    protected = rng.random() < 0.5
    fresh_runner = sig is signal.SIGKILL and rng.random() < 0.5
    total = TOOLS + 1 + ASSISTANTS + SQUADS
    after = rng.randint(1, total - 2)
    emulator = Emulator(faults=Faults(latency_ms=40, only_methods=frozenset({"POST", "PATCH"})))
    emulator.add_org("acme", TOKEN)
    env = {**os.environ, "VAPI_TOKEN": TOKEN, "RUNNER_TEMP": os.environ.get("BENCH_CRASH_DIR", tempfile.gettempdir())}
    where = "protected" if protected else "open"
    label = f"{sig.name:7} {where:9} after {after:3} writes" + (" fresh runner" if fresh_runner else "")
    with serve(emulator) as handle:
        root = tmp / "platform"
        write_config(root, handle.url, protected)
        proc = subprocess.Popen(
            [EXE, "apply", "--config", str(root), "--env", "prod", "--auto-approve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while writes(root) < after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.003)
        if proc.poll() is not None:
            return label, True, "finished before the signal (not counted as an interrupt)"
        proc.send_signal(sig)
        proc.wait(timeout=60)
        if fresh_runner:
            shutil.rmtree(root / ".ci-deployer")
        rerun = subprocess.run(
            [EXE, "apply", "--config", str(root), "--env", "prod", "--auto-approve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        seen = counts(emulator)
        duplicates = sum(n - 1 for key, n in seen.items() if ":" in key and n > 1)
        plan = subprocess.run(
            [EXE, "plan", "--config", str(root), "--env", "prod", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        empty = plan.returncode == 0 and not json.loads(plan.stdout)["hasChanges"]
        ok = rerun.returncode == 0 and duplicates == 0 and seen["/tool"] == TOOLS + 1 and empty
        detail = f"rerun exit {rerun.returncode}, {duplicates} duplicates, next plan empty: {empty}"
        if rerun.returncode:
            detail += "\n      " + rerun.stderr.strip().splitlines()[-1]
        return label, ok, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tried = converged = 0
    for n in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            label, ok, detail = trial(rng, Path(tmp))
        counted = "not counted" not in detail
        tried += counted
        converged += counted and ok
        print(f"{n + 1:3} {label}: {'converged' if ok else 'FAILED'} — {detail}")
    print(f"interrupts tried: {tried}, converged with no duplicate and an empty next plan: {converged}")
    return 0 if tried == converged else 1


if __name__ == "__main__":
    raise SystemExit(main())
