"""Benchmark: list every kind from the served emulator with 50 ms injected latency per request.

Prints, per kind, the items listed, the HTTP calls made, the ideal ⌈n/1000⌉ and the wall time.
Bare-array kinds (no total, no cursor in Vapi's API) need one extra, empty request when n is a
non-zero multiple of 1000 — a full last page looks like a full middle page — and re-read the
boundary millisecond's item on each further page (so n = 1999 takes 3); paginated kinds stop on
``metadata.hasNextPage`` and hit ⌈n/1000⌉ exactly.  Not a test: it prints figures.

    .venv/bin/python benchmarks/bench_list.py [--n 1000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from ci_deployer.emulator import Emulator, Faults, serve
from ci_deployer.platform.client import VapiClient
from ci_deployer.platform.kinds import KINDS


def items_for(kind: str, n: int) -> list[dict[str, Any]]:
    """``n`` plausible stored items of ``kind`` (seeded directly, as a big org would hold them)."""
    if kind == "StructuredOutput":
        return [{"name": f"so-{i}", "schema": {"type": "object"}} for i in range(n)]
    if kind == "Eval":
        return [{"name": f"ev-{i}", "type": "chat.mockConversation", "messages": []} for i in range(n)]
    if kind == "Tool":
        return [{"type": "function", "function": {"name": f"tool_{i}"}} for i in range(n)]
    if kind == "PhoneNumber":
        return [{"provider": "byo-phone-number", "number": f"+1555{i:07d}", "credentialId": "c"} for i in range(n)]
    if kind == "Squad":
        return [{"name": f"squad-{i}", "members": []} for i in range(n)]
    return [{"name": f"{kind.lower()}-{i}"} for i in range(n)]


def measure(url: str, token: str, kind: str) -> tuple[int, int, float]:
    with VapiClient(url, token) as client:
        started = time.perf_counter()
        listed = client.list(kind)
        wall_ms = (time.perf_counter() - started) * 1000
        return len(listed), client.calls, wall_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="items seeded per kind")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency added to every request")
    args = parser.parse_args()

    emulator = Emulator(faults=Faults())
    tokens: dict[str, str] = {}
    # One org per kind: a knowledge base also generates a search tool, which would inflate the tools.
    for kind in KINDS:
        org = f"bench-{kind.lower()}"
        tokens[kind] = f"tok-{org}-000000"
        emulator.add_org(org, tokens[kind])
        emulator.seed(org, kind, items_for(kind, args.n))
    extra_sizes = (999, 1001, 1999, 2500)
    for n in extra_sizes:
        org = f"bench-assistants-{n}"
        tokens[f"Assistant×{n}"] = f"tok-{org}-000000"
        emulator.add_org(org, tokens[f"Assistant×{n}"])
        emulator.seed(org, "Assistant", items_for("Assistant", n))
    emulator.faults.latency_ms = args.latency_ms

    print(f"latency {args.latency_ms:g} ms per request, limit=1000 per page")
    print(f"{'kind':<18}{'shape':<11}{'n':>6}{'calls':>7}{'⌈n/1000⌉':>10}{'wall ms':>10}")
    total_calls = 0
    with serve(emulator) as server:
        rows = [(kind, KINDS[kind].list_shape, kind) for kind in KINDS]
        rows += [(f"Assistant×{n}", "array", "Assistant") for n in extra_sizes]
        for label, shape, kind in rows:
            n, calls, wall_ms = measure(server.url, tokens[label], kind)
            total_calls += calls
            ideal = max(1, math.ceil(n / 1000))
            note = "" if calls == ideal else "  (+1: see docstring)"
            print(f"{label:<18}{shape:<11}{n:>6}{calls:>7}{ideal:>10}{wall_ms:>10.0f}{note}")
        with VapiClient(server.url, tokens["Assistant"]) as client:
            started = time.perf_counter()
            client.map(client.list, ["Assistant"] * 7)
            parallel_ms = (time.perf_counter() - started) * 1000
            print(f"7 lists of 1,000 assistants through map(): {client.calls} calls, {parallel_ms:.0f} ms wall")
    print(f"total calls {total_calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
