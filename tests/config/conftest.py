"""Fixtures for the config tests: a config repository written into a temp folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  params: {model: gpt-4.1-mini, temperature: 0.2, nested: {a: 1, b: 2}}
environments:
  dev:
    org: acme-dev
    api: {url: embedded}
  uat:
    org: acme-uat
    api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_UAT}
    params: {model: gpt-4.1, nested: {b: 3}}
    credentials: {twilio-main: 7d1c0000-0000-0000-0000-000000000001}
  prod:
    org: acme-prod
    api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_PROD}
    params: {model: gpt-4.1}
    promotesFrom: uat
    protection:
      requiredApprovals: 2
      reviewers: [alice, "@acme/platform-owners"]
      changeWindows:
        - {days: [mon, tue], start: "09:00", end: 16:00, timezone: America/New_York}
      freezes:
        - {from: 2026-12-20, to: 2027-01-04, reason: holiday freeze}
      ticket: {pattern: "(CHG|INC)-[0-9]+"}
"""

MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """Write ``files`` (path → text, dedented) plus environments.yaml under ``tmp_path/platform``."""

    def make(files: dict[str, str | bytes], environments: str | None = ENVIRONMENTS) -> Path:
        root = tmp_path / "platform"
        root.mkdir(exist_ok=True)
        if environments is not None:
            (root / "environments.yaml").write_text(environments, encoding="utf-8")
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(textwrap.dedent(content), encoding="utf-8")
        return root

    return make
