"""How long schema validation takes: 1,000 documents of the example kinds (prints figures).

Run: ``.venv/bin/python benchmarks/bench_validate_schemas.py``
"""

from __future__ import annotations

import json
import pathlib
import time

from ci_deployer.platform.kinds import KINDS
from ci_deployer.validate.schemas import validate_spec

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "schemas" / "valid"
STEM_TO_KIND = {**{k.schema: name for name, k in KINDS.items()}, "policy": "Policy"}


def main() -> None:
    payloads = []
    for path in sorted(EXAMPLES.glob("*/*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload.pop("_source", None)
        payloads.append((STEM_TO_KIND[path.parent.name], payload))
    start = time.perf_counter()
    for kind, payload in payloads:
        validate_spec(kind, payload)
    warm = time.perf_counter() - start
    n = 1000
    start = time.perf_counter()
    for i in range(n):
        kind, payload = payloads[i % len(payloads)]
        validate_spec(kind, payload)
    total = time.perf_counter() - start
    assistants = [p for p in payloads if p[0] == "Assistant"]
    start = time.perf_counter()
    for i in range(n):
        validate_spec(*assistants[i % len(assistants)])
    only_assistants = time.perf_counter() - start
    print(f"first pass (load + compile every schema): {warm * 1000:.0f} ms for {len(payloads)} documents")
    print(f"{n} documents, mixed kinds:  {total * 1000:.0f} ms ({total / n * 1e6:.0f} µs each)")
    print(f"{n} assistants:              {only_assistants * 1000:.0f} ms ({only_assistants / n * 1e6:.0f} µs each)")


if __name__ == "__main__":
    main()
