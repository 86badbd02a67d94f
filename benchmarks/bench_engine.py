"""Plan and apply of 1,000 resources (600 tools, 300 assistants, 100 squads) with 50 ms latency.

Prints wall times, calls made and the ratio to the round-trip floor
(levels × latency + creates × latency / concurrency).  Targets: plan ≤ 1 s; apply ≤ 1.5× the
floor; ≥ 20× faster than one request at a time.

    .venv/bin/python benchmarks/bench_engine.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _loopback import free_port, wait_for

from ci_deployer.compose import DEFAULT_CONCURRENCY, open_session
from ci_deployer.engine.operations import ApplyOptions, apply
from ci_deployer.settings import Settings

TOOLS, ASSISTANTS, SQUADS = 600, 300, 100
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
TOKEN = "tok-bench-0123456789"  # noqa: S105 - the local emulator org's made-up token


def write_repo(root: Path, url: str) -> None:
    root.mkdir(parents=True)
    (root / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n  bench:\n    org: bench\n"
        f'    api: {{url: "{url}", token: secrets://BENCH_TOKEN}}\n',
        encoding="utf-8",
    )
    docs = [
        f"kind: Tool\nmetadata: {{name: tool-{i}}}\nspec:\n  type: function\n  function: {{name: tool_{i}}}\n"
        for i in range(TOOLS)
    ]
    docs += [
        f"kind: Assistant\nmetadata: {{name: agent-{i}}}\nspec:\n  name: Agent {i}\n"
        f"  model: {{provider: openai, model: gpt-4.1-mini, toolIds: [tool-{2 * i}, tool-{2 * i + 1}]}}\n"
        for i in range(ASSISTANTS)
    ]
    docs += [
        f"kind: Squad\nmetadata: {{name: squad-{i}}}\nspec:\n  name: Squad {i}\n"
        f"  members: [{{assistantId: agent-{3 * i}}}, {{assistantId: agent-{3 * i + 1}}}]\n"
        for i in range(SQUADS)
    ]
    for n, body in enumerate(docs):
        (root / f"doc-{n:04}.yaml").write_text("apiVersion: ci-deployer/v1\n" + body, encoding="utf-8")


def main() -> int:
    # The emulator runs in its own process, as Vapi would be remote: its CPU does not compete with
    # the client's for one interpreter lock.
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_deployer",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--org",
            f"bench={TOKEN}",
            "--latency-ms",
            str(LATENCY_MS),
        ],
    )
    os.environ["BENCH_TOKEN"] = TOKEN
    calls = [0]

    def count(_: object) -> None:
        calls[0] += 1

    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "config"
            write_repo(root, f"http://127.0.0.1:{port}")
            t0 = time.perf_counter()
            session = open_session(Settings.from_environ(dict(os.environ)), root, "bench")
            load_s = time.perf_counter() - t0
            with session:
                t0 = time.perf_counter()
                ctx = session.plan(client=session.client(on_request=count))
                plan_s = time.perf_counter() - t0
                plan_calls = calls[0]
                summary = ctx.plan.summary
                t0 = time.perf_counter()
                result = apply(session, ApplyOptions(out_dir=Path(tmp) / "run"))
                apply_s = time.perf_counter() - t0
                log = Path(tmp) / "run" / "apply-log.jsonl"
                apply_calls = len(log.read_text(encoding="utf-8").splitlines())
                t0 = time.perf_counter()
                again = session.plan(client=session.client()).plan
                replan_s = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)
    latency = LATENCY_MS / 1000
    creates = summary["create"]
    levels = 3
    floor = max(1e-9, levels * latency + creates * latency / DEFAULT_CONCURRENCY)
    sequential = apply_calls * latency
    print(
        f"resources: {TOOLS} tools, {ASSISTANTS} assistants, {SQUADS} squads; latency {LATENCY_MS} ms; "
        f"concurrency {DEFAULT_CONCURRENCY}; emulator in its own process"
    )
    print(f"load + validate + render: {load_s:.2f} s (no API calls)")
    print(f"plan (empty org): {plan_s:.3f} s, {plan_calls} calls  [target ≤ 1 s]")
    print(
        f"apply: {apply_s:.2f} s, {apply_calls} calls, ok={result.ok}; floor {floor:.2f} s → "
        f"{apply_s / floor:.2f}× the floor  [target ≤ 1.5×]"
    )
    print(
        f"one request at a time would take ≥ {sequential:.1f} s → "
        f"{sequential / max(apply_s, 1e-9):.1f}× faster  [target ≥ 20×]"
    )
    print(f"re-plan (1,000 managed): {replan_s:.3f} s, changes: {again.has_changes}")
    return 0 if result.ok and not again.has_changes else 1


if __name__ == "__main__":
    sys.exit(main())
