"""A config repository, the Vapi emulator and the fake GitHub wired together, for workflow tests.

- the config: ``examples/platform`` copied to ``platform/`` of a real git repository, with
  ``environments.yaml`` pointing dev, uat and prod at the emulator over HTTP (``token:
  secrets://VAPI_TOKEN_DEV`` / ``…_UAT`` / ``…_PROD``): in CI every env is a real org (an embedded dev
  org would live in the runner's workspace and vanish with it).  Prod's change
  windows and freezes are dropped: the product runs as a subprocess on the real clock, which a test
  cannot freeze (windows and freezes are tested with time-machine in tests/gates);
- the emulator (:mod:`ci_deployer.emulator`) served on 127.0.0.1 with orgs ``acme-uat`` and ``acme-prod``;
- the fake GitHub on that repository, with the people of the story (``carol`` writes config,
  ``alice``/``bob`` review, ``dave`` releases, ``mallory`` forks) and the team ``acme/platform-owners``;
- a :class:`support.workflows.Runner` with the secrets where GitHub keeps them: the uat key as a
  repository secret (PR plans read it), the prod key only in the ``prod`` Environment.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from ci_deployer.emulator import Emulator, LoggedRequest, ServerHandle, serve
from support.fake_github import FakeGitHub
from support.gitrepo import GitRepo
from support.orders import serve_orders
from support.results_service import SIG
from support.workflows import EXAMPLES, REPO_ROOT, ApprovalRequest, Environment, Runner, load_yaml

CONFIG_EXAMPLE = REPO_ROOT / "examples" / "platform"
ORGS = {"dev": "acme-dev", "uat": "acme-uat", "prod": "acme-prod"}
VAPI_TOKENS = {
    "dev": "vapi-dev-key-3c5e7a9b1d2f4a6c",
    "uat": "vapi-uat-key-7f3c9a1e5b2d4c6e",
    "prod": "vapi-prod-key-2b8e4d6f1a3c5e70",
}
READONLY_TOKENS = {"uat": "vapi-uat-readonly-4d2a9c7e1b3f", "prod": "vapi-prod-readonly-8e6c4a2f0d1b"}
ORDERS_API_TOKEN = "orders-api-token-5a7c9e1b3d"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
# The Vapi collections ci-deployer manages (ci_deployer.platform.kinds), and fields the server owns.
VAPI_PATHS = ("/tool", "/structured-output", "/v2/knowledge-base", "/assistant", "/squad", "/eval", "/phone-number")
SERVER_FIELDS = frozenset({"id", "orgId", "createdAt", "updatedAt"})


def environments_yaml(api_url: str, orders_url: str) -> str:
    """The example's environments.yaml with every env at ``api_url`` and the orders tools at
    ``orders_url`` (a loopback stand-in their smoke case can call; see the module docstring)."""
    data: dict[str, Any] = load_yaml((CONFIG_EXAMPLE / "environments.yaml").read_text(encoding="utf-8"))
    for env in ORGS:
        data["environments"][env]["api"] = {"url": api_url, "token": f"secrets://VAPI_TOKEN_{env.upper()}"}
        data["environments"][env].setdefault("params", {})["ordersUrl"] = orders_url
    protection = data["environments"]["prod"].get("protection") or {}
    protection.pop("changeWindows", None)
    protection.pop("freezes", None)
    return yaml.safe_dump(data, sort_keys=False)


@dataclass
class World:
    """Everything a workflow test plays against; :func:`make_world` builds and tears it down."""

    root: Path
    emulator: Emulator
    vapi: ServerHandle
    github: FakeGitHub
    runner: Runner
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def repo(self) -> GitRepo:
        """The config repository (the "origin" every checkout clones)."""
        return self.github.git

    def vapi_client(self, env: str) -> httpx.Client:
        """An httpx client for the env's emulator org (the caller closes it)."""
        return httpx.Client(base_url=self.vapi.url, headers={"Authorization": f"Bearer {VAPI_TOKENS[env]}"}, timeout=30)

    def vapi_list(self, env: str, path: str) -> list[dict[str, Any]]:
        """Every resource at ``path`` (``/assistant``, ``/tool``, …) of the env's org."""
        with self.vapi_client(env) as client:
            data = client.get(path, params={"limit": 1000}).json()
        return list(data["results"] if isinstance(data, dict) else data)

    def org_contents(self, env: str) -> dict[str, Any]:
        """The env's org as comparable data: ``"<path> <name>"`` → payload with server fields dropped,
        ids replaced by ``"<path> <name>"`` labels, the env's params and name replaced by placeholders
        (so two orgs holding the same logical config compare equal)."""
        listed = {path: self.vapi_list(env, path) for path in VAPI_PATHS}
        labels: dict[str, str] = {}
        for path, items in listed.items():
            for item in items:
                function = item.get("function") if isinstance(item.get("function"), dict) else {}
                # a nameless resource (a handoff tool) is known by its type: ids differ per org
                name = item.get("name") or function.get("name") or f"({item.get('type') or 'nameless'})"
                labels[str(item["id"])] = f"{path} {name}"
        environments = load_yaml((self.repo.root / "platform" / "environments.yaml").read_text(encoding="utf-8"))
        defaults = (environments.get("defaults") or {}).get("params") or {}
        params = {**defaults, **(environments["environments"][env].get("params") or {})}
        replacements = sorted(
            ((str(v), f"<params.{k}>") for k, v in params.items() if isinstance(v, str) and len(v) > 3),
            key=lambda pair: -len(pair[0]),
        )

        def normal(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: normal(v) for k, v in value.items() if k not in SERVER_FIELDS}
            if isinstance(value, list):
                return [normal(v) for v in value]
            if isinstance(value, str):
                value = labels.get(value, value)
                for old, new in replacements:
                    value = value.replace(old, new)
                return re.sub(rf"\b{re.escape(env)}\b", "<env>", value)
            return value

        contents: dict[str, Any] = {}
        for items in listed.values():
            for item in items:
                data = normal(item)
                labels_ci = (data.get("metadata") or {}).get("ciDeployer")
                if isinstance(labels_ci, dict):
                    labels_ci.pop("hash", None)  # a hash of the env-rendered payload: differs per env by design
                contents[normal(labels[str(item["id"])])] = data
        return contents

    def vapi_writes(self, env: str, since: int = 0) -> list[LoggedRequest]:
        """Writes the emulator saw to the env's org (from request-log index ``since``)."""
        return [r for r in self.emulator.request_log[since:] if r.org == ORGS[env] and r.method in WRITES]

    def secret_values(self) -> list[str]:
        """Every secret value of the world, for :meth:`Runner.leaks`."""
        values = set(self.secrets.values()) | set(VAPI_TOKENS.values()) | set(READONLY_TOKENS.values())
        # GitHub tokens (expired ones too), runtime tokens and the blob signature are secrets as well.
        for run in self.github.runs.values():
            for job in run.jobs.values():
                values |= {job.token, job.runtime_token}
        values |= set(self.github.tokens) | {SIG}
        return sorted(values)


@contextmanager
def make_world(
    tmp_path: Path,
    *,
    approve: Callable[[ApprovalRequest], bool] | None = None,
    edit_config: Callable[[Path], None] | None = None,
) -> Iterator[World]:
    """Build the world in ``tmp_path``; ``edit_config`` may change the copied config before the first commit."""
    emulator = Emulator()
    for env, org in ORGS.items():
        emulator.add_org(org, VAPI_TOKENS[env])
    with serve(emulator) as vapi, serve_orders(ORDERS_API_TOKEN) as orders:
        origin = tmp_path / "origin"
        origin.mkdir()
        repo = GitRepo(origin)
        config = origin / "platform"
        shutil.copytree(CONFIG_EXAMPLE, config)
        (config / "environments.yaml").write_text(environments_yaml(vapi.url, orders.url), encoding="utf-8")
        workflows = origin / ".github" / "workflows"
        workflows.mkdir(parents=True)
        for path in sorted(EXAMPLES.glob("*.yml")):
            shutil.copy(path, workflows / path.name)
        if edit_config is not None:
            edit_config(config)
        with FakeGitHub(repo) as github:
            for login in ("carol", "alice", "bob", "dave", "erin"):
                github.add_user(login, email=f"{login}@acme.example")
            github.add_user("mallory", email="mallory@evil.example")
            github.add_team("acme", "platform-owners", ["erin"])
            github.commit("main", {}, "Initial config", "carol")
            secrets = {
                "VAPI_TOKEN_UAT": VAPI_TOKENS["uat"],
                "ORDERS_API_TOKEN": ORDERS_API_TOKEN,
            }
            environments = {
                "dev": Environment("dev", secrets={"VAPI_TOKEN_DEV": VAPI_TOKENS["dev"]}),
                "uat": Environment("uat", secrets={"VAPI_TOKEN_UAT": VAPI_TOKENS["uat"]}),
                "prod": Environment("prod", secrets={"VAPI_TOKEN_PROD": VAPI_TOKENS["prod"]}),
                "uat-drift": Environment("uat-drift", secrets={"VAPI_TOKEN_UAT_READONLY": READONLY_TOKENS["uat"]}),
                "prod-drift": Environment("prod-drift", secrets={"VAPI_TOKEN_PROD_READONLY": READONLY_TOKENS["prod"]}),
            }
            runner = Runner(github, tmp_path / "runs", secrets=secrets, environments=environments, approve=approve)
            yield World(tmp_path, emulator, vapi, github, runner, secrets)
