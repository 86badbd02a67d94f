"""Benchmark: validate a generated config repo of 1,000 documents and print the seconds it took.

    .venv/bin/python benchmarks/bench_validate.py [--documents 1000]

The repo mixes tools (function tools with a JSON-schema include), structured outputs and assistants
that reference both by slug, with templates and Liquid variables, rendered for two environments.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ci_deployer.validate import runner

ENV = """apiVersion: ci-deployer/v1
defaults:
  params: {model: gpt-4.1-mini, url: "https://orders.example/vapi"}
environments:
  dev: {org: acme-dev, api: {url: embedded}}
  uat: {org: acme-uat, api: {url: "https://api.vapi.ai", token: "secrets://VAPI_TOKEN_UAT"}, params: {model: gpt-4.1}}
"""

TOOL = """apiVersion: ci-deployer/v1
kind: Tool
metadata: {{name: tool-{i}}}
spec:
  type: function
  function:
    name: tool_{i}
    description: Tool number {i}
    parameters: {{json: ../params.json}}
  server:
    url: "${{{{ params.url }}}}/t{i}"
    headers: {{Authorization: "Bearer secrets://ORDERS_API_TOKEN"}}
"""

SO = """apiVersion: ci-deployer/v1
kind: StructuredOutput
metadata: {{name: so-{i}}}
spec:
  name: summary-{i}
  schema: {{type: object, properties: {{outcome: {{type: string, enum: [ok, failed]}}}}}}
"""

ASSISTANT = """apiVersion: ci-deployer/v1
kind: Assistant
metadata: {{name: agent-{i}}}
spec:
  name: "Agent {i} (${{{{ env.name }}}})"
  firstMessage: "Hello {{{{ customer.number }}}}, this is agent {i}."
  model:
    provider: openai
    model: "${{{{ params.model }}}}"
    messages:
      - role: system
        content: "You are agent {i}. The caller is {{{{ customer.number }}}}."
    toolIds: [tool-{i}, tool-{j}]
  artifactPlan: {{structuredOutputIds: [so-{i}]}}
"""


def generate(root: Path, documents: int) -> None:
    """Write ``documents`` documents (a third each of tools, structured outputs, assistants)."""
    (root / "docs").mkdir(parents=True)
    (root / "environments.yaml").write_text(ENV, encoding="utf-8")
    (root / "params.json").write_text('{"type": "object", "properties": {"id": {"type": "string"}}}', encoding="utf-8")
    per_kind = documents // 3
    written = 0
    for i in range(per_kind):
        (root / "docs" / f"tool-{i}.yaml").write_text(TOOL.format(i=i), encoding="utf-8")
        (root / "docs" / f"so-{i}.yaml").write_text(SO.format(i=i), encoding="utf-8")
        text = ASSISTANT.format(i=i, j=(i + 1) % per_kind)
        (root / "docs" / f"agent-{i}.yaml").write_text(text, encoding="utf-8")
        written += 3
    for i in range(per_kind, per_kind + documents - written):
        (root / "docs" / f"tool-{i}.yaml").write_text(TOOL.format(i=i), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "platform"
        generate(root, args.documents)
        started = time.perf_counter()
        result = runner.run(root)
        elapsed = time.perf_counter() - started
    print(f"validated {result.documents} documents x {result.environments} environments in {elapsed:.2f} s")
    print(f"findings: {len(result.findings)} (ok={result.ok})")
    for finding in result.findings[:5]:
        print(f"  {finding.location()}: {finding.code} {finding.message}")


if __name__ == "__main__":
    main()
