"""The stores through the commands: ``validate --check-secrets``, the checklist's "secrets present"
line, plan/apply reading the env's own store only, and an API key kept in a secret manager.

The CLI runs in process (``cli.main(argv, environ)``) against embedded orgs or a served emulator;
Vault is a real OpenBao on loopback, the job's identity a GitHub OIDC stand-in."""

from __future__ import annotations

import json
import secrets as random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_deployer import cli
from ci_deployer.emulator import Emulator, serve
from support.loopback import LoopbackServer, Reply, Request
from support.secret_peers import OidcIssuer, OpenBao

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata:
  name: {slug}
spec:
  type: function
  function:
    name: {slug}_fn
    description: Look an order up
  server:
    url: https://orders.example.com/vapi
    headers:
      X-Api-Key: "{header}"
"""


class Trap:
    """A loopback server standing for prod's Vault: any request reaching it is a bug."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server = LoopbackServer(self.handle)
        self.url = self.server.url

    def handle(self, request: Request) -> Reply:
        self.requests.append(f"{request.method} {request.path}")
        return Reply(500, b'{"errors": ["this is prod\'s Vault"]}')


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    yield server
    server.server.stop()


@pytest.fixture
def vault(bao: OpenBao, issuer: OidcIssuer) -> dict[str, str]:
    """JWT auth trusting this test's issuer, a dev role reading flow-<id>/dev/* only, and secrets."""
    mount = "jwt-" + random.token_hex(4)
    prefix = "flow-" + random.token_hex(4)
    bao.trust(issuer, mount)
    bao.role(f"dev-{mount}", env="dev", audience=bao.url, paths=f"secret/data/{prefix}/dev/*", mount=mount)
    bao.put_secret(f"{prefix}/dev/orders", {"token": "dev-orders-flow-1234"})
    bao.put_secret(f"{prefix}/prod/orders", {"token": "prod-orders-flow-5678"})
    return {"mount": mount, "prefix": prefix, "address": bao.url}


def write_repo(root: Path, vault: dict[str, str], trap: Trap, tools: dict[str, str], dev_api: str = "") -> Path:
    """A config whose dev env reads the real Vault and whose prod env points at the trap."""
    (root / "tools").mkdir(parents=True)
    dev_api = dev_api or "{url: embedded}"
    (root / "environments.yaml").write_text(
        f"""\
apiVersion: ci-deployer/v1
defaults:
  secrets:
    vault: {{auth: {{method: jwt, mount: {vault["mount"]}}}}}
environments:
  dev:
    org: acme-dev
    api: {dev_api}
    params: {{ordersKey: "secrets://vault/{vault["prefix"]}/dev/orders#token"}}
    secrets: {{vault: {{address: "{vault["address"]}", auth: {{role: dev-{vault["mount"]}}}}}}}
  prod:
    org: acme-prod
    api: {{url: embedded}}
    params: {{ordersKey: "secrets://vault/{vault["prefix"]}/prod/orders#token"}}
    secrets: {{vault: {{address: "{trap.url}", auth: {{role: prod}}}}}}
""",
        encoding="utf-8",
    )
    for slug, header in tools.items():
        (root / "tools" / f"{slug}.yaml").write_text(TOOL.format(slug=slug, header=header), encoding="utf-8")
    return root


def run(argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv, environ)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_check_secrets_reports_what_does_not_resolve_here(
    tmp_path: Path, vault: dict[str, str], trap: Trap, issuer: OidcIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(
        tmp_path / "cfg",
        vault,
        trap,
        {
            "orders": "${{ params.ordersKey }}",
            "absent": f"secrets://vault/{vault['prefix']}/dev/absent#token",
            "prod": f"secrets://vault/{vault['prefix']}/prod/orders#token",  # prod's path, read in dev
            "unset": "secrets://ZENDESK_TOKEN",
        },
    )
    argv = ["validate", "--config", str(root), "--env", "dev", "--check-secrets", "--format", "json"]
    code, out = run(argv, issuer.environ, capsys)
    assert code == 1
    findings = json.loads(out)["findings"]
    unresolved = {f["path"]: f for f in findings if f["code"] == "E-SECRET-UNRESOLVED"}
    assert set(unresolved) == {"tools/absent.yaml", "tools/prod.yaml", "tools/unset.yaml"}, findings
    assert all(f["line"] == 13 for f in unresolved.values())
    assert "not resolvable in environment 'dev'" in unresolved["tools/absent.yaml"]["message"]
    assert "(vault, environment 'dev'): Vault denied reading" in unresolved["tools/prod.yaml"]["message"]
    assert "ZENDESK_TOKEN" in unresolved["tools/unset.yaml"]["hint"]
    assert "dev-orders-flow" not in out and "prod-orders-flow" not in out
    assert trap.requests == []  # dev's run never reached prod's store
    # Without the flag nothing is resolved: validate runs where no secret is.
    code, out = run(["validate", "--config", str(root), "--env", "dev", "--format", "json"], {}, capsys)
    assert code == 0 and "E-SECRET" not in out


def test_check_secrets_passes_when_every_placeholder_resolves(
    tmp_path: Path, vault: dict[str, str], trap: Trap, issuer: OidcIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "cfg", vault, trap, {"orders": "Bearer ${{ params.ordersKey }}"})
    code, out = run(["validate", "--config", str(root), "--env", "dev", "--check-secrets"], issuer.environ, capsys)
    assert code == 0, out
    assert "dev-orders-flow" not in out
    # Without the job's identity the same placeholder is "not resolvable here", with what to do.
    code, out = run(["validate", "--config", str(root), "--env", "dev", "--check-secrets"], {}, capsys)
    assert code == 1 and "E-SECRET-UNRESOLVED" in out and "id-token: write" in out


def test_apply_reads_the_envs_own_store_and_the_checklist_says_present(
    tmp_path: Path, vault: dict[str, str], trap: Trap, issuer: OidcIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path / "cfg", vault, trap, {"orders": "${{ params.ordersKey }}"})
    config = ["--config", str(root)]
    code, out = run(["apply", "--env", "dev", "--auto-approve", *config], issuer.environ, capsys)
    assert code == 0, out
    # The checklist (protected envs) reads the placeholders through the same resolver.
    environments = root / "environments.yaml"
    text = environments.read_text(encoding="utf-8")
    environments.write_text(text.replace("    org: acme-dev\n", "    org: acme-dev\n    protection: {}\n"))
    code, out = run(["gate", "--env", "dev", "--format", "json", *config], issuer.environ, capsys)
    secrets_line = next(i for i in json.loads(out)["items"] if i["id"] == "secrets")
    assert secrets_line["status"] == "pass" and "all 1 placeholders resolve" in secrets_line["evidence"]
    code, out = run(["gate", "--env", "dev", "--format", "json", *config], {}, capsys)  # no identity here
    refused = json.loads(out)
    assert code == 1 and refused["failure_reason"] == "gate-refused"
    assert (
        f"Secrets present in dev (fail: 1 of 1 not resolvable: secrets://vault/{vault['prefix']}/dev/orders#token)"
        in (refused["error"])
    )
    environments.write_text(text)
    code, out = run(["plan", "--env", "dev", "--format", "json", *config], issuer.environ, capsys)
    assert code == 0 and "dev-orders-flow" not in out
    assert trap.requests == []


@pytest.fixture
def world(
    bao: OpenBao, vault: dict[str, str], trap: Trap, issuer: OidcIssuer
) -> tuple[OpenBao, dict[str, str], Trap, OidcIssuer]:
    return bao, vault, trap, issuer


def test_the_api_key_itself_can_live_in_the_envs_vault(
    tmp_path: Path, world: tuple[OpenBao, dict[str, str], Trap, OidcIssuer], capsys: pytest.CaptureFixture[str]
) -> None:
    bao, vault, trap, issuer = world
    key = "vapi-key-in-vault-" + random.token_hex(8)
    bao.put_secret(f"{vault['prefix']}/dev/vapi", {"key": key})
    emulator = Emulator()
    emulator.add_org("acme-dev", key)
    with serve(emulator) as handle:
        api = f'{{url: "{handle.url}", token: "secrets://vault/{vault["prefix"]}/dev/vapi#key"}}'
        root = write_repo(tmp_path / "cfg", vault, trap, {"orders": "${{ params.ordersKey }}"}, dev_api=api)
        code, out = run(["apply", "--env", "dev", "--auto-approve", "--config", str(root)], issuer.environ, capsys)
        assert code == 0, out
        assert any(r.method == "POST" and r.org == "acme-dev" for r in emulator.request_log)
        # A placeholder may never read it: it is the deployer's own credential.
        (root / "tools" / "leak.yaml").write_text(
            TOOL.format(slug="leak", header=f"secrets://vault/{vault['prefix']}/dev/vapi#key"), encoding="utf-8"
        )
        code, out = run(["validate", "--config", str(root), "--env", "dev"], {}, capsys)
        assert code == 1 and "E-SECRET-DENIED" in out
    assert key not in out


def test_a_store_that_refuses_fails_the_plan_naming_the_placeholder_env_and_store(
    tmp_path: Path, vault: dict[str, str], trap: Trap, issuer: OidcIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = f"secrets://vault/{vault['prefix']}/prod/orders#token"  # dev's role may not read prod/*
    root = write_repo(tmp_path / "cfg", vault, trap, {"orders": denied})
    code, out = run(
        ["apply", "--env", "dev", "--auto-approve", "--format", "json", "--config", str(root)], issuer.environ, capsys
    )
    failure = json.loads(out)
    assert code == 1 and failure["failure_reason"] == "api-error"
    assert failure["error"].startswith(f"{denied} (vault, environment 'dev'): Vault denied reading")
    assert "prod-orders-flow" not in out and "Traceback" not in out and trap.requests == []


def test_whether_the_api_key_is_available_is_known_without_a_request(issuer: OidcIssuer) -> None:
    from ci_deployer import compose
    from ci_deployer.settings import Settings
    from support.secret_peers import environment

    env = environment({"vault": {"address": "http://127.0.0.1:9", "auth": {"method": "jwt", "role": "r"}}})
    env.api_url, env.api_token = "https://api.vapi.ai", "secrets://vault/ci/vapi#key"
    assert compose.token_available(env, Settings.from_environ(issuer.environ))  # the job can log in
    assert compose.token_available(env, Settings.from_environ({"VAULT_TOKEN": "hvs.local-token"}))
    assert not compose.token_available(env, Settings.from_environ({}))  # plan against the snapshot instead
    assert issuer.audiences == []  # nothing was requested
