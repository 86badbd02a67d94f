"""Benchmark: load and render a generated config repository of 1,000 documents.

Run: ``.venv/bin/python benchmarks/bench_config.py [N]``.  Prints seconds for loading and for
rendering one environment, and milliseconds per document.  Target: well under 2 s in total.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ci_deployer.config.loader import load_repo
from ci_deployer.config.render import logical_specs, render_env

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  params: {model: gpt-4.1-mini, temperature: 0.3, ordersUrl: https://orders.example}
environments:
  dev: {org: acme-dev, api: {url: embedded}}
  uat: {org: acme-uat, api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_UAT}, params: {model: gpt-4.1}}
"""

POLICY = """\
apiVersion: ci-deployer/v1
kind: Policy
metadata: {name: safety}
spec:
  model: {provider: openai, maxTokens: 500}
  endCallPhrases: [goodbye]
"""

ASSISTANT = """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata:
  name: agent-{i}
  labels: {{app: orders, owner: team-{team}}}
policies: [safety]
spec:
  name: "Agent {i} (${{{{ env.name }}}})"
  firstMessage: "Hi {{{{ customer.name }}}}, this is agent {i}."
  model:
    model: "${{{{ params.model }}}}"
    temperature: "${{{{ params.temperature }}}}"
    messages:
      - role: system
        content: {{file: ../prompts/p{prompt}.md}}
    toolIds: [tool-{tool}, {{ref: tool/tool-{tool2}}}]
  server:
    url: "${{{{ params.ordersUrl }}}}/{i}"
    headers: {{Authorization: "Bearer secrets://ORDERS_API_TOKEN"}}
"""

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {{name: tool-{i}}}
spec:
  type: function
  function:
    name: tool_{i}
    parameters: {{json: ../schemas/params.json}}
  server: {{url: "${{{{ params.ordersUrl }}}}/tools/{i}"}}
"""


def generate(root: Path, n: int) -> None:
    """Write environments.yaml, one policy, n/5 tools and the rest assistants under ``root``."""
    (root / "assistants").mkdir(parents=True)
    (root / "tools").mkdir()
    (root / "prompts").mkdir()
    (root / "schemas").mkdir()
    (root / "policies").mkdir()
    (root / "environments.yaml").write_text(ENVIRONMENTS)
    (root / "policies" / "safety.yaml").write_text(POLICY)
    (root / "schemas" / "params.json").write_text('{"type": "object", "properties": {"id": {"type": "string"}}}')
    for p in range(20):
        (root / "prompts" / f"p{p}.md").write_text(f"You are agent {p}. Ask for {{{{ customer.number }}}}.\n" * 20)
    tools = n // 5
    for i in range(tools):
        (root / "tools" / f"tool-{i}.yaml").write_text(TOOL.format(i=i))
    for i in range(n - tools - 1):
        text = ASSISTANT.format(i=i, team=i % 7, prompt=i % 20, tool=i % tools, tool2=(i + 1) % tools)
        (root / "assistants" / f"agent-{i}.yaml").write_text(text)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "platform"
        generate(root, n)
        start = time.perf_counter()
        repo, findings = load_repo(root)
        loaded = time.perf_counter()
        resources, render_findings = render_env(repo, "uat")
        rendered = time.perf_counter()
        logical_specs(repo, "uat")
        logical = time.perf_counter()
    problems = findings + render_findings
    if problems:
        print(f"unexpected findings: {problems[:3]}")
        return 1
    total = rendered - start
    print(f"documents: {len(repo.documents)} loaded, {len(resources)} rendered for uat")
    print(f"load:   {loaded - start:.3f} s")
    print(f"render: {rendered - loaded:.3f} s")
    print(f"total:  {total:.3f} s ({total / len(repo.documents) * 1000:.2f} ms per document)")
    print(f"logical_specs: {logical - rendered:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
