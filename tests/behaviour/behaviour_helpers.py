"""Fixtures for the behavioural tests: the emulator served over loopback HTTP with a dev, a uat and a
prod org, a scripted tool server on loopback, and a purpose-built config repo pointed at both."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator, serve

TOKENS = {"dev": "tok-dev-0a1b2c3d4e5f", "uat": "tok-uat-0a1b2c3d4e5f", "prod": "tok-prod-0a1b2c3d4e5f"}
SECRET = "orders-secret-value-8c1f2e"


@dataclass
class Served:
    """The emulator on a loopback port, one org per environment."""

    emulator: Emulator
    url: str

    def http(self, env: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKENS[env]}"}, timeout=30)

    def list(self, env: str, path: str) -> list[dict[str, Any]]:
        with self.http(env) as http:
            data = http.get(path, params={"limit": 1000}).json()
        return list(data["results"] if isinstance(data, dict) else data)

    def writes(self, org: str) -> list[str]:
        """Requests that could change ``org``'s config (eval runs and chats are executions, not config)."""
        return [
            f"{r.method} {r.path}"
            for r in self.emulator.request_log
            if r.org == org and r.method != "GET" and r.path not in ("/eval/run", "/chat")
        ]


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = Emulator()
    for env, token in TOKENS.items():
        emulator.add_org(f"acme-{env}", token)
    with serve(emulator) as handle:
        yield Served(emulator, handle.url)


@dataclass
class ToolServer:
    """A tool's server: ``/lookup`` answers the tool-calls webhook as Vapi expects when the bearer
    token is right; ``/status/<n>`` answers n; ``/slow`` answers after ``delay`` seconds; ``/text``
    answers a non-JSON body."""

    url: str = ""
    delay: float = 1.5
    order_status: str = "shipped"
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def tool_server() -> Iterator[ToolServer]:
    server_state = ToolServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            server_state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            message = body.get("message") or {}
            calls = message.get("toolCallList") or [{}]
            call_id = calls[0].get("id")
            arguments = (calls[0].get("function") or {}).get("arguments") or {}
            if self.path.startswith("/status/"):
                return self._send(int(self.path.rsplit("/", 1)[1]), {"error": "nope"})
            if self.path == "/slow":
                time.sleep(server_state.delay)
            if self.path == "/text":
                return self._send(200, None, raw=b"all good")
            if self.headers.get("Authorization") != f"Bearer {SECRET}":
                return self._send(401, {"message": "bad token"})
            order = str(arguments.get("orderNumber", ""))
            result = json.dumps({"orderNumber": order, "status": server_state.order_status, "token": SECRET[:4]})
            if order == "0":
                return self._send(200, {"results": [{"toolCallId": call_id, "error": "no such order"}]})
            return self._send(200, {"results": [{"toolCallId": call_id, "result": result}]})

        def _send(self, status: int, payload: Any, raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def environments_yaml(url: str, tool_url: str, *, rollback: bool = True, promotes: bool = True) -> str:
    promotes_from = "    promotesFrom: uat\n" if promotes else ""
    return f"""\
apiVersion: ci-deployer/v1
defaults:
  params: {{toolUrl: "{tool_url}"}}
environments:
  dev:
    org: acme-dev
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_DEV}}
  uat:
    org: acme-uat
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_UAT}}
  prod:
    org: acme-prod
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_PROD}}
{promotes_from}    protection:
      requiredApprovals: 0
      canary: {{rollbackOnFailure: {"true" if rollback else "false"}}}
"""


TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: lookup-order}
spec:
  type: function
  function:
    name: lookup_order
    description: Look an order up
    parameters:
      type: object
      properties: {orderNumber: {type: string}}
      required: [orderNumber]
  server:
    url: "${{ params.toolUrl }}/lookup"
    timeoutSeconds: 5
    headers: {Authorization: "Bearer secrets://ORDERS_API_TOKEN"}
"""

ASSISTANT = """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata: {name: billing-agent}
spec:
  name: "Billing Agent (${{ env.name }})"
  firstMessage: "FIRST_MESSAGE"
  model:
    provider: openai
    model: gpt-4.1-mini
    messages:
      - {role: system, content: "You answer billing questions. Be brief."}
    toolIds: [lookup-order]
"""

SQUAD = """\
apiVersion: ci-deployer/v1
kind: Squad
metadata: {name: front-door}
spec:
  name: "Front Door (${{ env.name }})"
  members:
    - assistantId: billing-agent
"""

EVAL = """\
apiVersion: ci-deployer/v1
kind: Eval
metadata: {name: billing-greeting}
test:
  targets: [assistant/billing-agent, squad/front-door]
  canary: true
spec:
  type: chat.mockConversation
  name: billing-greeting
  messages:
    - {role: user, content: "Hi"}
    - role: assistant
      judgePlan: {type: exact, content: "GREETING"}
    - {role: user, content: "What do you do?"}
    - role: assistant
      judgePlan: {type: regex, content: "billing questions"}
    - {role: user, content: "Please run lookup_order for order 42"}
    - role: assistant
      judgePlan: {type: exact, content: "", toolCalls: [{name: lookup_order}]}
    - {role: tool, content: "Order 42 has shipped."}
    - role: assistant
      judgePlan: {type: regex, content: "/SHIPPED/i"}
"""

GREETING = "Billing desk, how can I help?"


def write_repo(
    root: Path,
    url: str,
    tool_url: str,
    *,
    greeting: str = GREETING,
    first_message: str = GREETING,
    smoke: str = "",
    rollback: bool = True,
    promotes: bool = True,
) -> Path:
    """A config repo: a tool, an assistant, a squad and an eval whose first checkpoint expects
    ``greeting`` exactly while the assistant says ``first_message`` (equal: it passes)."""
    (root / "tools").mkdir(parents=True, exist_ok=True)
    for folder in ("assistants", "squads", "evals"):
        (root / folder).mkdir(exist_ok=True)
    (root / "environments.yaml").write_text(
        environments_yaml(url, tool_url, rollback=rollback, promotes=promotes), encoding="utf-8"
    )
    (root / "tools" / "lookup-order.yaml").write_text(TOOL + smoke, encoding="utf-8")
    (root / "assistants" / "billing-agent.yaml").write_text(
        ASSISTANT.replace("FIRST_MESSAGE", first_message), encoding="utf-8"
    )
    (root / "squads" / "front-door.yaml").write_text(SQUAD, encoding="utf-8")
    (root / "evals" / "billing-greeting.yaml").write_text(EVAL.replace("GREETING", greeting), encoding="utf-8")
    return root


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The variables the config reads, set for in-process runs and returned for subprocesses."""
    values = {f"VAPI_TOKEN_{env.upper()}": token for env, token in TOKENS.items()}
    values["ORDERS_API_TOKEN"] = SECRET
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    return values


def run_cli(*argv: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``ci-deployer`` as a subprocess (``python -m ci_deployer``), with only ``env`` and a PATH."""
    import os

    environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **env}
    return subprocess.run(
        [sys.executable, "-m", "ci_deployer", *argv],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
        check=False,
    )
