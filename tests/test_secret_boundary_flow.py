"""The secrets boundary end to end: real `ci-deployer` processes against an emulator served on loopback.

A merged config that points a tool header at the deployer's own credentials must never send them:
validate, plan and apply refuse with the placeholder's file and line, the emulator receives nothing,
and the credential's value is printed nowhere.  Code paths that skip validation still cannot resolve
them (the resolver refuses too), and legitimate placeholders keep working.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ci_deployer.compose import open_session
from ci_deployer.emulator import Emulator, ServerHandle, serve
from ci_deployer.errors import ConfigError
from ci_deployer.settings import Settings

CLI = Path(sys.executable).with_name("ci-deployer")
TOKEN = "tok-dev-0123456789abcdef"
CREDENTIALS = {
    "GITHUB_TOKEN": "ghs_workflowtoken0123456789",
    "INPUT_GITHUB_TOKEN": "ghs_inputtoken0123456789",
    "VAPI_TOKEN_PROD": "prod-vapi-key-0123456789",
    "CI_DEPLOYER_HMAC_KEY_DEV": "hmac-key-dev-0123456789",
}


def tool(slug: str, header: str) -> str:
    return f"""\
apiVersion: ci-deployer/v1
kind: Tool
metadata:
  name: {slug}
spec:
  type: function
  function:
    name: {slug.replace("-", "_")}
    description: Look an order up
  server:
    url: https://orders.example.com/vapi
    headers:
      X-Api-Key: {header}
"""


@pytest.fixture
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    emulator = Emulator()
    emulator.add_org("acme-dev", TOKEN)
    with serve(emulator) as handle:
        yield emulator, handle


def config(root: Path, url: str, tools: dict[str, str], secrets_block: str = "") -> Path:
    (root / "tools").mkdir(parents=True)
    (root / "environments.yaml").write_text(
        f"""\
apiVersion: ci-deployer/v1
environments:
  dev:
    org: acme-dev
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_DEV}}
{secrets_block}  prod:
    org: acme-prod
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_PROD}}
""",
        encoding="utf-8",
    )
    for slug, header in tools.items():
        (root / "tools" / f"{slug}.yaml").write_text(tool(slug, header), encoding="utf-8")
    return root


def run(root: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "GITHUB_", "INPUT_"))}
    env.update({"VAPI_TOKEN_DEV": TOKEN, **CREDENTIALS, **(extra_env or {})})
    return subprocess.run(
        [str(CLI), *args, "--config", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_the_deployers_credentials_never_leave(served: tuple[Emulator, ServerHandle], tmp_path: Path) -> None:
    emulator, handle = served
    root = config(
        tmp_path / "cfg",
        handle.url,
        {
            "a-github": "secrets://GITHUB_TOKEN",
            "b-input": '"Bearer secrets://INPUT_GITHUB_TOKEN"',
            "c-prod-key": "secrets://VAPI_TOKEN_PROD",
            "d-hmac": "secrets://CI_DEPLOYER_HMAC_KEY_DEV",
            "e-environ": "secrets://file//proc/self/environ",
        },
        secrets_block="    secrets: {hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_DEV}\n",
    )
    for command in (["validate"], ["plan", "--env", "dev"], ["apply", "--env", "dev", "--auto-approve"]):
        for fmt in ("text", "github", "json"):
            proc = run(root, *command, "--format", fmt)
            output = proc.stdout + proc.stderr
            assert proc.returncode == 1, output
            assert "Traceback" not in output
            for slug, code in (
                ("a-github", "E-SECRET-DENIED"),
                ("b-input", "E-SECRET-DENIED"),
                ("c-prod-key", "E-SECRET-DENIED"),
                ("d-hmac", "E-SECRET-DENIED"),
                ("e-environ", "E-SECRET-FILE"),
            ):
                if fmt == "text":
                    assert f"tools/{slug}.yaml:13:7: error {code} " in output, output
                elif fmt == "github":
                    assert f"::error file=tools/{slug}.yaml,line=13,col=7,title={code}::" in output, output
                else:
                    assert f'"path": "tools/{slug}.yaml"' in output and f'"code": "{code}"' in output
            for value in CREDENTIALS.values():
                assert value not in output
    assert emulator.request_log == []  # refused before the first request


def test_a_path_that_skips_validation_still_cannot_resolve_them(
    served: tuple[Emulator, ServerHandle], tmp_path: Path
) -> None:
    emulator, handle = served
    root = config(tmp_path / "cfg", handle.url, {"a-github": "secrets://GITHUB_TOKEN"})
    environ = {"VAPI_TOKEN_DEV": TOKEN, **CREDENTIALS}
    settings = Settings.from_environ(environ)
    with open_session(settings, root, "dev", validate=False) as session, pytest.raises(ConfigError) as info:
        session.plan()
    assert "E-SECRET-DENIED" in str(info.value) and CREDENTIALS["GITHUB_TOKEN"] not in str(info.value)
    assert all(r.method == "GET" for r in emulator.request_log)  # listed the org, wrote nothing


def test_allowed_variables_and_files_below_the_root_are_sent(
    served: tuple[Emulator, ServerHandle], tmp_path: Path
) -> None:
    emulator, handle = served
    root = config(
        tmp_path / "cfg",
        handle.url,
        {"a-orders": "secrets://ORDERS_API_TOKEN", "b-file": "secrets://file/run-secrets/twilio.txt"},
        secrets_block='    secrets:\n      allow: ["ORDERS_*"]\n      fileRoot: run-secrets\n',
    )
    (root / "run-secrets").mkdir()
    (root / "run-secrets" / "twilio.txt").write_text("twilio-secret-from-file\n", encoding="utf-8")
    proc = run(root, "apply", "--env", "dev", "--auto-approve", extra_env={"ORDERS_API_TOKEN": "orders-secret-value"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "orders-secret-value" not in proc.stdout + proc.stderr
    with httpx.Client(base_url=handle.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        headers = sorted(t["server"]["headers"]["X-Api-Key"] for t in client.get("/tool").json())
    assert headers == ["orders-secret-value", "twilio-secret-from-file"]
    assert {r.method for r in emulator.request_log} >= {"POST"}
