"""How fast config YAML is parsed: 1,000 small documents, our loader against PyYAML's (prints figures).

Run: ``.venv/bin/python benchmarks/bench_yaml.py [N]``

Compared, in CPU seconds (``time.process_time``) for the same N documents:

- ``parse_text``: ci-deployer's loader (libyaml's parser + the YAML 1.2 core resolver, then plain
  values built in Python with every node's position recorded, duplicate keys and limits checked);
- the same loader forced onto PyYAML's pure-Python parser (what runs when libyaml is missing);
- ``yaml.load(Loader=yaml.SafeLoader)``: pure Python, YAML 1.1, no positions;
- ``yaml.load(Loader=yaml.CSafeLoader)``: libyaml, YAML 1.1, no positions.

A pure-Python YAML library would sit near the ``SafeLoader`` figure (about 15x the C loader).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from ci_deployer.config import yamlsource
from ci_deployer.config.yamlsource import parse_text

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
    provider: openai
    model: "${{{{ params.model }}}}"
    temperature: 0.{team}
    messages:
      - role: system
        content: {{file: ../prompts/p{team}.md}}
    toolIds: [tool-{i}, {{ref: tool/tool-{team}}}]
  voice: {{provider: vapi, voiceId: Elliot, version: 2}}
  hooks:
    - on: customer.speech.timeout
      options: {{timeoutSeconds: 10, triggerMaxCount: 2}}
      do:
        - type: say
          exact: ["Are you still there?", "Hello?"]
  server:
    url: "${{{{ params.ordersUrl }}}}/{i}"
    timeoutSeconds: 20
    headers: {{Authorization: "Bearer secrets://ORDERS_API_TOKEN"}}
"""

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {{name: tool-{i}}}
spec:
  type: function
  async: false
  function:
    name: lookup_{i}
    description: Look order {i} up
    parameters:
      type: object
      properties:
        orderId: {{type: string, description: "The order id"}}
        verbose: {{type: boolean, default: true}}
      required: [orderId]
"""


def documents(n: int) -> list[str]:
    """``n`` documents: one assistant for every two tools."""
    return [(ASSISTANT if i % 3 == 0 else TOOL).format(i=i, team=i % 7) for i in range(n)]


def cpu_seconds(parse: Callable[[str], Any], texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        parse(text)
    return time.process_time() - start


def main(n: int = 1000) -> None:
    texts = documents(n)
    for text in texts[:3]:  # warm up: imports, regex compilation, loader class
        parse_text(text)
    ours = cpu_seconds(parse_text, texts)
    saved = list(yamlsource._LOADERS)
    c_base = getattr(yaml, "CBaseLoader", None)
    try:
        # The pure-Python fallback: what runs when PyYAML was built without libyaml.
        if c_base is not None:
            delattr(yaml, "CBaseLoader")
        yamlsource._LOADERS[:] = []  # rebuilt on next use, without libyaml
        ours_pure = cpu_seconds(parse_text, texts)
    finally:
        if c_base is not None:
            yaml.CBaseLoader = c_base  # type: ignore[misc]
        yamlsource._LOADERS[:] = saved
    safe = cpu_seconds(lambda t: yaml.load(t, Loader=yaml.SafeLoader), texts)
    c_safe = cpu_seconds(lambda t: yaml.load(t, Loader=yaml.CSafeLoader), texts)
    print(f"{n} documents ({sum(map(len, texts)) / 1024:.0f} KiB), CPU seconds:")
    rows = [
        ("ci-deployer parse_text (libyaml + 1.2 core, positions)", ours),
        ("ci-deployer parse_text, pure-Python fallback", ours_pure),
        ("yaml.load(SafeLoader)   (pure Python, YAML 1.1)", safe),
        ("yaml.load(CSafeLoader)  (libyaml, YAML 1.1)", c_safe),
    ]
    for label, seconds in rows:
        print(f"  {label:<56} {seconds:6.3f} s  {seconds / c_safe:5.2f}x CSafeLoader  {seconds / ours:5.2f}x ours")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
