"""Tool smoke tests against a real HTTP server on loopback: the tool-calls webhook as Vapi sends it, the
tool's headers with the secret resolved (never printed), and every way an answer can be wrong or
missing — wrong status, a mismatching answer, slow, refused, DNS and TLS failures."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from behaviour_helpers import SECRET, Served, ToolServer, run_cli, write_repo

from ci_deployer import cli
from ci_deployer.behaviour import smoke
from ci_deployer.config.behaviour import SmokeCase, SmokeExpect


def case(name: str, path: str = "lookup", **expect: Any) -> str:
    """A smoke case in YAML (flow style); ``path`` replaces the tool URL's path via a per-case tool."""
    return json.dumps({"name": name, "arguments": {"orderNumber": "42"}, "expect": expect})


def smoke_block(*cases: str) -> str:
    return "smoke:\n" + "".join(f"  - {c}\n" for c in cases)


def results(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["test", "--config", str(root), "--env", "dev", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_passing_smoke_case_sends_the_webhook_vapi_would_send(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shape = {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["shipped", "delivered"]}}}
    block = smoke_block(case("known-order", status=200, json=shape, regex="shipped", maxLatencyMs=5000))
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, smoke=block)
    code, data = results(capsys, root, "--only", "tool/lookup-order")
    assert code == 0, data
    [result] = data["smoke"]
    assert (result["tool"], result["case"], result["status"], result["httpStatus"]) == (
        "lookup-order",
        "known-order",
        "passed",
        200,
    )
    assert result["url"] == f"{tool_server.url}/lookup" and result["method"] == "POST"
    assert 0 < result["latencyMs"] < 5000
    [request] = tool_server.requests
    assert request["headers"]["Authorization"] == f"Bearer {SECRET}"  # resolved when sent
    message = request["body"]["message"]
    assert message["type"] == "tool-calls"
    [call] = message["toolCallList"]
    assert call["type"] == "function" and call["function"] == {
        "name": "lookup_order",
        "arguments": {"orderNumber": "42"},
    }
    [described] = message["toolWithToolCallList"]
    assert described["toolCall"] == call and described["function"]["name"] == "lookup_order"
    assert "server" not in described  # its headers hold the secret: never echoed in the body
    assert served.emulator.request_log == []  # smoke tests need no Vapi org at all
    # the answer is shown, secrets redacted (the server echoes the first characters only)
    assert '"status": "shipped"' in result["answer"]


def tool_at(root: Path, path: str, timeout: float | None = None) -> None:
    doc = root / "tools" / "lookup-order.yaml"
    text = doc.read_text().replace("/lookup", f"/{path}")
    if timeout is not None:
        text = text.replace("timeoutSeconds: 5", f"timeoutSeconds: {timeout}")
    doc.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "expect", "message"),
    [
        ("status/500", {}, "HTTP 500, expected 200"),
        ("lookup", {"status": 201}, "HTTP 200, expected 201"),
        ("lookup", {"regex": "delivered"}, "the answer does not match /delivered/"),
        (
            "lookup",
            {"json": {"type": "object", "required": ["eta"]}},
            "the answer does not fit expect.json: 'eta' is a required property",
        ),
        ("text", {}, 'the answer is not JSON: Vapi expects {"results": [{"toolCallId", "result"}]}'),
    ],
)
def test_wrong_answers_fail_with_the_mismatch(
    served: Served,
    tool_server: ToolServer,
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    path: str,
    expect: dict[str, Any],
    message: str,
) -> None:
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, smoke=smoke_block(case("c", **expect)))
    tool_at(root, path)
    code, data = results(capsys, root, "--only", "tool/lookup-order")
    assert code == 1
    [result] = data["smoke"]
    assert (result["status"], result["message"]) == ("failed", message)
    assert data["failure_reason"] == "tests-failed"


def test_an_error_result_is_a_failure_unless_expected(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = json.dumps({"name": "missing", "arguments": {"orderNumber": "0"}})
    expected = json.dumps(
        {"name": "missing-expected", "arguments": {"orderNumber": "0"}, "expect": {"error": True, "regex": "no such"}}
    )
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, smoke=smoke_block(missing, expected))
    code, data = results(capsys, root, "--only", "tool/lookup-order")
    assert code == 1
    assert [(r["case"], r["status"], r["message"]) for r in data["smoke"]] == [
        ("missing", "failed", "the tool answered an error: no such order"),
        ("missing-expected", "passed", None),
    ]


def test_slow_and_refused_servers_are_reported_plainly(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    slow = json.dumps({"name": "slow", "arguments": {"orderNumber": "42"}, "timeoutSeconds": 0.3})
    root = write_repo(tmp_path / "platform", served.url, tool_server.url, smoke=smoke_block(slow))
    tool_at(root, "slow")
    proc = run_cli("test", "--config", str(root), "--env", "dev", env=cli_env)
    assert proc.returncode == 1
    assert "! smoke tool/lookup-order · slow: no answer," in proc.stdout
    assert "no answer within 0.3 s (timed out)" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_repo(root, served.url, f"http://127.0.0.1:{port}", smoke=smoke_block(case("refused")))
    proc = run_cli("test", "--config", str(root), "--env", "dev", "--format", "github", env=cli_env)
    assert proc.returncode == 1
    assert f"connection refused by 127.0.0.1:{port} (nothing listens there)" in proc.stdout
    assert "::error file=tools/lookup-order.yaml,line=" in proc.stdout  # annotated on the case
    assert "Traceback" not in proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_a_slow_answer_over_max_latency_fails(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool_server.delay = 0.3
    root = write_repo(
        tmp_path / "platform", served.url, tool_server.url, smoke=smoke_block(case("late", maxLatencyMs=100))
    )
    tool_at(root, "slow")
    code, data = results(capsys, root)
    assert code == 1
    [result] = data["smoke"]
    assert result["status"] == "failed" and result["message"].startswith("answered in ")
    assert result["message"].endswith("ms, over maxLatencyMs 100")


class Raising(httpx.BaseTransport):
    """A transport whose connection fails as the socket layer would (DNS, TLS)."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(str(self.cause), request=request) from self.cause


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (
            socket.gaierror(-2, "Name or service not known"),
            "DNS lookup failed for tools.acme.example (Name or service not known)",
        ),
        (
            ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS failed with tools.acme.example: certificate not trusted",
        ),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused by tools.acme.example:443"),
    ],
)
def test_connection_failures_are_named(cause: BaseException, expected: str) -> None:
    job = smoke.SmokeJob(
        tool="lookup-order",
        case=SmokeCase(name="c", index=0, expect=SmokeExpect()),
        url="https://tools.acme.example/lookup?key=SECRET123",
        display_url="https://tools.acme.example/lookup?key=secrets://KEY",
        body={},
    )
    result = smoke.run_job(job, Raising(cause))
    assert result.status == "error"
    assert result.message is not None and result.message.startswith(expected)
    assert "SECRET123" not in result.message
    assert result.url == "https://tools.acme.example/lookup?key=secrets://KEY"


def test_smoke_cases_run_where_they_are_meant_to(
    served: Served, tool_server: ToolServer, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_uat = json.dumps({"name": "uat-only", "arguments": {"orderNumber": "42"}, "environments": ["uat"]})
    root = write_repo(
        tmp_path / "platform", served.url, tool_server.url, smoke=smoke_block(case("everywhere"), only_uat)
    )
    _, dev = results(capsys, root, "--only", "tool/lookup-order")
    assert [r["case"] for r in dev["smoke"]] == ["everywhere"]
    capsys.readouterr()
    assert cli.main(["test", "--config", str(root), "--env", "prod", "--format", "json"]) == 0
    prod = json.loads(capsys.readouterr().out)  # protected: no smoke call, no eval (not canary-run here)
    assert prod["smoke"] == [] and prod["evals"] == [] and prod["counts"]["total"] == 0
