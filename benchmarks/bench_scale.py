"""Plan, validate and apply at 1,000 and 10,000 resources against a served emulator (prints figures).

Each command runs as its own ``ci-deployer`` process, as in CI, so its figures include the
interpreter's start and the imports; CPU (user + system) and peak RSS come from ``wait4``.  On a
shared machine even CPU varies by ±25% from run to run, so each command that changes nothing runs
``--repeat`` times (5) and its median is shown, with the best run beside it; an apply runs once.
The config: 60% function tools, 30% assistants with two tools and a prompt file, 10% squads of
three assistants, in a git repository (for ``--changed-since``).  The emulator is another process
with ``--latency-ms`` (50 by default).

The parse cache (ci_deployer/config/parsecache.py) lives in a folder of the run: ``validate`` is
measured with it off (cold), then fills it, and the plans after it find the config's files parsed
(warm), as a developer's second command does.  A fresh CI job has no cache: the plans are measured
both ways.

The floor of a plan is the listing alone: the kinds are listed concurrently, so it is the longest
kind's pages (⌈n/1000⌉ requests, one more when n is a multiple of 1000) times the latency.  The floor
of an apply is its dependency levels plus its creates spread over the client's concurrency.

    python benchmarks/bench_scale.py [--sizes 1000,10000] [--latency-ms 50] [--repeat 5]

Targets (benchmarks, not tests): plan of 1,000 with no changes ≤ 0.5 s CPU and ≤ 0.6 s wall;
validate of 1,000 ≤ 0.4 s CPU; plan of 10,000 from an empty org ≤ 4 s CPU and ≤ 300 MB RSS; cost
(CPU) grows at most 12× for 10× the resources; apply of 1,000 ≤ 1.5× its floor; ``--changed-since``
after a one-document change to 10,000 resources ≤ 0.5 s CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _loopback import free_port, wait_for

CONCURRENCY = 32  # ci_deployer.compose.DEFAULT_CONCURRENCY
PAGE = 1000


@dataclass
class Run:
    """One command's figures: the median of its runs (``best``: the lowest CPU and wall seen)."""

    wall: float
    cpu: float
    rss_mb: float
    code: int
    out: str = ""
    runs: int = 1
    best_cpu: float = 0.0
    best_wall: float = 0.0


@dataclass
class Size:
    """What one size measured (None: not measured, or not supported by this version)."""

    n: int
    counts: dict[str, int] = field(default_factory=dict)
    validate: Run | None = None
    plan_empty: Run | None = None
    plan_empty_cold: Run | None = None  # the parse cache off (a fresh CI job)
    apply: Run | None = None
    plan_same: Run | None = None
    plan_same_cold: Run | None = None
    changed: Run | None = None
    only: Run | None = None


def mix(n: int) -> dict[str, int]:
    squads = n // 10
    assistants = n * 3 // 10
    return {"Tool": n - assistants - squads, "Assistant": assistants, "Squad": squads}


def write_repo(root: Path, n: int, url: str) -> dict[str, int]:
    """The config of ``n`` resources under ``root/platform`` in a fresh git repository."""
    counts = mix(n)
    tools, assistants, squads = counts["Tool"], counts["Assistant"], counts["Squad"]
    cfg = root / "platform"
    for sub in ("tools", "assistants", "squads", "prompts"):
        (cfg / sub).mkdir(parents=True)
    (root / ".gitignore").write_text(".ci-deployer/\n", encoding="utf-8")
    (cfg / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\ndefaults:\n  params: {model: gpt-4.1-mini}\nenvironments:\n"
        f'  bench:\n    org: bench-{n}\n    api: {{url: "{url}", token: secrets://BENCH_TOKEN}}\n',
        encoding="utf-8",
    )
    for i in range(tools):
        (cfg / "tools" / f"tool-{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {{name: tool-{i}}}\nspec:\n  type: function\n"
            f"  function:\n    name: tool_{i}\n    description: Looks up record {i}\n"
            "    parameters:\n      type: object\n      properties:\n        id: {type: string}\n"
            "      required: [id]\n",
            encoding="utf-8",
        )
    for i in range(assistants):
        (cfg / "prompts" / f"agent-{i}.md").write_text(
            f"You are agent {i}. Help the caller ({{{{ customer.number }}}}) with their order.\n", encoding="utf-8"
        )
        (cfg / "assistants" / f"agent-{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {{name: agent-{i}}}\nspec:\n"
            f"  name: Agent {i}\n  firstMessage: Hello, this is agent {i}.\n  model:\n    provider: openai\n"
            '    model: "${{ params.model }}"\n    messages:\n'
            f"      - {{role: system, content: {{file: ../prompts/agent-{i}.md}}}}\n"
            f"    toolIds: [tool-{(2 * i) % tools}, tool-{(2 * i + 1) % tools}]\n",
            encoding="utf-8",
        )
    for i in range(squads):
        members = ", ".join(f"{{assistantId: agent-{(3 * i + k) % assistants}}}" for k in range(3))
        (cfg / "squads" / f"squad-{i}.yaml").write_text(
            f"apiVersion: ci-deployer/v1\nkind: Squad\nmetadata: {{name: squad-{i}}}\nspec:\n"
            f"  name: Squad {i}\n  members: [{members}]\n",
            encoding="utf-8",
        )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    return counts


def git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def token(n: int) -> str:
    """The made-up bearer token of the emulator org of size ``n``."""
    return f"tok-bench-{n}-0123456789"


def cli(args: Sequence[str], cwd: Path, n: int, *, cache: bool = True, repeat: int = 1) -> Run:
    """Run ``ci-deployer ARGS`` as its own process ``repeat`` times (commands that change nothing);
    the median CPU and wall, the highest peak RSS (``wait4``).  ``cache`` False: the parse cache off."""
    runs = [_once(args, cwd, n, cache=cache) for _ in range(max(1, repeat))]
    runs.sort(key=lambda r: r.cpu)
    middle = runs[len(runs) // 2]
    walls = sorted(r.wall for r in runs)
    return Run(
        walls[len(walls) // 2],
        middle.cpu,
        max(r.rss_mb for r in runs),
        max(r.code for r in runs),
        middle.out,
        runs=len(runs),
        best_cpu=runs[0].cpu,
        best_wall=walls[0],
    )


def _once(args: Sequence[str], cwd: Path, n: int, *, cache: bool) -> Run:
    env = {**os.environ, "BENCH_TOKEN": token(n)}
    if not cache:
        env["CI_DEPLOYER_CACHE_DIR"] = "off"
    env.pop("GITHUB_ACTIONS", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ci_deployer", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, proc.returncode, out, best_cpu=cpu, best_wall=wall)


def supports(option: str, cwd: Path) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "ci_deployer", "plan", "--help"], cwd=cwd, capture_output=True, text=True, check=False
    )
    return option in out.stdout


def list_calls(n: int) -> int:
    """Requests to list ``n`` items of a bare-array kind (ci_deployer/platform/paging.py)."""
    return n // PAGE + 1


def plan_floor(counts: dict[str, int], latency: float) -> float:
    return max(list_calls(c) for c in counts.values()) * latency


def apply_floor(counts: dict[str, int], latency: float) -> float:
    levels = sum(1 for c in counts.values() if c)
    return levels * latency + sum(counts.values()) * latency / CONCURRENCY


def measure(n: int, url: str, tmp: Path, *, apply_big: bool, repeat: int) -> Size:
    root = tmp / f"repo-{n}"
    root.mkdir()
    size = Size(n, write_repo(root, n, url))
    cfg = ["--config", "platform", "--env", "bench"]
    size.validate = cli(["validate", *cfg], root, n, cache=False, repeat=repeat)
    cli(["validate", *cfg], root, n)  # fills the parse cache, as a developer's first command does
    plan_out = ["--format", "json", "--out", str(tmp / f"plan-{n}.json")]
    size.plan_empty = cli(["plan", *cfg, *plan_out], root, n, repeat=repeat)
    size.plan_empty_cold = cli(["plan", *cfg, "--format", "json"], root, n, cache=False, repeat=repeat)
    if n > 1000 and not apply_big:
        return size
    size.apply = cli(["apply", *cfg, "--auto-approve", "--out-dir", str(tmp / f"run-{n}")], root, n)
    if size.apply.code != 0:
        print(size.apply.out[-3000:], file=sys.stderr)
        return size
    size.plan_same = cli(["plan", *cfg, "--detailed-exitcode"], root, n, repeat=repeat)
    size.plan_same_cold = cli(["plan", *cfg, "--detailed-exitcode"], root, n, cache=False, repeat=repeat)
    if supports("--changed-since", root):
        prompt = root / "platform" / "prompts" / "agent-7.md"
        prompt.write_text(prompt.read_text(encoding="utf-8") + "Be brief.\n", encoding="utf-8")
        git(root, "commit", "-q", "-am", "edit one prompt")
        size.changed = cli(["plan", *cfg, "--changed-since", "HEAD~1"], root, n, repeat=repeat)
    if supports("--only", root):
        size.only = cli(["plan", *cfg, "--only", "Tool/tool-3"], root, n, repeat=repeat)
    return size


def show(label: str, run: Run | None, *, wall: bool = True, rss: bool = False) -> str:
    if run is None:
        return f"{label}: n/a"
    best = f" (best {run.best_cpu:.2f})" if run.runs > 1 else ""
    parts = [f"{run.cpu:.2f} s CPU{best}"]
    if wall:
        parts.append(f"{run.wall:.2f} s wall" + (f" (best {run.best_wall:.2f})" if run.runs > 1 else ""))
    if rss:
        parts.append(f"{run.rss_mb:.0f} MB RSS")
    bad = "" if run.code in (0, 2) else f"  [exit {run.code}]"
    return f"{label}: " + ", ".join(parts) + bad


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("ok  " if ok else "MISS")


def report(sizes: list[Size], latency: float) -> None:
    print(f"latency {latency * 1000:g} ms, concurrency {CONCURRENCY}, emulator in its own process; CPU = user + sys")
    for s in sizes:
        c = s.counts
        print(f"\n== {s.n:,} resources ({c['Tool']} tools, {c['Assistant']} assistants, {c['Squad']} squads)")
        print("  " + show("validate, parse cache off", s.validate, wall=False))
        print("  " + show("plan, empty org", s.plan_empty, rss=True))
        print("  " + show("plan, empty org, parse cache off", s.plan_empty_cold, rss=True))
        if s.apply is not None:
            floor = apply_floor(c, latency)
            print(f"  {show('apply', s.apply)}; floor {floor:.2f} s → {s.apply.wall / floor:.2f}× the floor")
        print("  " + show("plan, no changes", s.plan_same, rss=True) + f"; floor {plan_floor(c, latency):.2f} s")
        print("  " + show("plan, no changes, parse cache off", s.plan_same_cold, rss=True))
        print("  " + show("plan --changed-since (one prompt edited)", s.changed))
        print("  " + show("plan --only Tool/tool-3", s.only))
    small = next((s for s in sizes if s.n == 1000), None)
    big = next((s for s in sizes if s.n == 10000), None)

    def cpu(run: Run | None) -> float | None:
        return run.cpu if run is not None else None

    def growth(pick: str) -> float | None:
        a = cpu(getattr(small, pick)) if small else None
        b = cpu(getattr(big, pick)) if big else None
        return b / a if a and b else None

    rows: list[tuple[str, str, bool | None]] = []

    def target(label: str, value: float | None, limit: float, unit: str) -> None:
        """A target's row; seconds to 3 decimals, so that a verdict at the line reads right."""
        digits = {"s": 3, "×": 2, "MB": 0}[unit]
        space = "" if unit == "×" else " "
        shown = "n/a" if value is None else f"{value:.{digits}f}{space}{unit}"
        rows.append((f"{label} ≤ {limit:g}{space}{unit}", shown, _le(value, limit)))

    if small is not None:
        for same, how in ((small.plan_same, ""), (small.plan_same_cold, ", cache off")):
            target(f"plan 1,000, no changes{how}: CPU", cpu(same), 0.5, "s")
            target(f"plan 1,000, no changes{how}: wall", same.wall if same else None, 0.6, "s")
        target("validate 1,000: CPU", cpu(small.validate), 0.4, "s")
        if small.apply is not None:
            target("apply 1,000: wall ÷ floor", small.apply.wall / apply_floor(small.counts, latency), 1.5, "×")
    if big is not None:
        for empty, how in ((big.plan_empty, ""), (big.plan_empty_cold, ", cache off")):
            target(f"plan 10,000, empty org{how}: CPU", cpu(empty), 4, "s")
            target(f"plan 10,000, empty org{how}: RSS", empty.rss_mb if empty else None, 300, "MB")
        target("--changed-since, 1 doc of 10,000: CPU", cpu(big.changed), 0.5, "s")
    for pick, what in (("plan_empty", "plan, empty org"), ("plan_same", "plan, no changes"), ("validate", "validate")):
        target(f"growth 1,000 → 10,000 ({what})", growth(pick), 12, "×")
    print("\n== targets")
    for label, value, ok in rows:
        print(f"  {verdict(ok)} {label:<62} {value}")


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated resource counts")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of each command that changes nothing (the median is shown)"
    )
    parser.add_argument(
        "--no-apply-big", action="store_true", help="sizes above 1,000: measure validate and the empty-org plan only"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ci_deployer", "emulator", "serve", "--port", str(port)]
        + [f"--org=bench-{n}={token(n)}" for n in sizes]
        + ["--latency-ms", str(args.latency_ms)],
        stdout=subprocess.DEVNULL,
    )
    results: list[Size] = []
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CI_DEPLOYER_CACHE_DIR"] = str(Path(tmp, "cache"))  # the run's own, empty at first
            for n in sizes:
                url = f"http://127.0.0.1:{port}"
                results.append(measure(n, url, Path(tmp), apply_big=not args.no_apply_big, repeat=args.repeat))
    finally:
        server.terminate()
        server.wait(timeout=10)
    report(results, args.latency_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
