"""Fixtures for the engine tests: the emulator served over loopback HTTP and config repos in tmp."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator, ServerHandle, serve
from support.gitrepo import git

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "platform"
TOKEN = "tok-dev-5f1e2d3c4b5a"
SECRET = "orders-secret-value-8c1f2e"


class Org:
    """An emulator org reachable over HTTP, with a raw httpx client for dashboard-style edits."""

    def __init__(self, emulator: Emulator, handle: ServerHandle) -> None:
        self.emulator = emulator
        self.url = handle.url
        self.http = httpx.Client(base_url=handle.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def list(self, path: str) -> list[dict[str, Any]]:
        data = self.http.get(path, params={"limit": 1000}).json()
        return list(data["results"] if isinstance(data, dict) else data)


@pytest.fixture
def org() -> Iterator[Org]:
    emulator = Emulator()
    emulator.add_org("acme-dev", TOKEN)
    with serve(emulator) as handle:
        served = Org(emulator, handle)
        yield served
        served.http.close()


def environments_yaml(url: str, extra: str = "") -> str:
    return f"""\
apiVersion: ci-deployer/v1
defaults:
  params:
    model: gpt-4.1-mini
    ordersUrl: https://orders.dev.acme.example/vapi
environments:
  dev:
    org: acme-dev
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_DEV}}
{extra}"""


@pytest.fixture
def served_repo(tmp_path: Path, org: Org, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/platform copied to tmp, its dev env pointed at the served emulator, in a git repo."""
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLES, root)
    (root / "environments.yaml").write_text(environments_yaml(org.url), encoding="utf-8")
    (root / ".gitignore").write_text(".ci-deployer/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
    monkeypatch.setenv("ORDERS_API_TOKEN", SECRET)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    return root
