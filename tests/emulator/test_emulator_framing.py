"""The HTTP face refuses malformed and oversized bodies, and bodies that are not strict JSON.

Raw sockets, because a well-behaved client (httpx) would never send these requests."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
from emulator_helpers import TOKEN, function_tool

from ci_deployer.emulator import Emulator, ServerHandle, serve
from ci_deployer.emulator.server import MAX_BODY_BYTES


@pytest.fixture
def served(emulator: Emulator) -> Iterator[ServerHandle]:
    with serve(emulator) as handle:
        yield handle


def raw_request(handle: ServerHandle, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, no final blank line) and ``body``; read to EOF."""
    with socket.create_connection((handle.host, handle.port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, payload


def post_head(length_header: str) -> str:
    return (
        f"POST /tool HTTP/1.1\nHost: x\nAuthorization: Bearer {TOKEN}\nContent-Type: application/json\n{length_header}"
    )


@pytest.mark.parametrize(
    "length_header",
    [
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: +5",
        "Content-Length: 1_0",
        "Content-Length: \u0661",  # an Arabic-Indic digit: int() would take it
        "Content-Length: 5\nContent-Length: 6",
    ],
)
def test_a_malformed_content_length_is_400_and_closes(
    served: ServerHandle, emulator: Emulator, length_header: str
) -> None:
    status, headers, payload = raw_request(served, post_head(length_header), b"{}")
    assert status == 400
    assert headers.get("Connection") == "close"
    body = json.loads(payload)
    assert body == {"message": body["message"], "error": "Bad Request", "statusCode": 400}
    assert "Content-Length" in body["message"]
    assert emulator.request_log == []  # never reached the API


def test_a_body_over_the_cap_is_413_unread(served: ServerHandle, emulator: Emulator) -> None:
    status, headers, payload = raw_request(served, post_head(f"Content-Length: {MAX_BODY_BYTES + 1}"))
    assert status == 413
    assert json.loads(payload) == {
        "message": f"request entity too large: the limit is {MAX_BODY_BYTES} bytes",
        "error": "Payload Too Large",
        "statusCode": 413,
    }
    assert headers.get("Connection") == "close" and emulator.request_log == []


def test_chunked_bodies_are_checked_too(served: ServerHandle) -> None:
    head = post_head("Transfer-Encoding: chunked")
    assert raw_request(served, head, b"zz\r\n{}\r\n0\r\n\r\n")[0] == 400
    assert raw_request(served, head, f"{MAX_BODY_BYTES + 1:x}\r\n".encode())[0] == 413


def test_a_well_framed_body_is_read(served: ServerHandle) -> None:
    body = json.dumps({**function_tool(), "padding": "x" * 100}).encode()
    head = post_head(f"Content-Length: {len(body)}\nConnection: close")
    status, _, payload = raw_request(served, head, body)
    assert status == 400 and b"padding should not exist" in payload  # read and validated, not refused


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_400(connect: Callable[..., httpx.Client], emulator: Emulator, constant: str) -> None:
    client = connect()
    text = json.dumps(function_tool()).replace('"function": {', f'"function": {{"strict": {constant}, ', 1)
    response = client.post("/tool", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Bad Request" and body["statusCode"] == 400
    assert "Invalid JSON body" in body["message"]
    assert client.get("/tool").json() == []


def test_the_server_keeps_serving_after_refusals(served: ServerHandle) -> None:
    raw_request(served, post_head("Content-Length: nope"), b"{}")
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/tool", json=function_tool()).status_code == 201


def test_echo_fault_repeats_the_body_and_writes_nothing(
    connect: Callable[..., httpx.Client], emulator: Emulator
) -> None:
    emulator.faults.echo_writes = True
    client = connect()
    response = client.post("/tool", json=function_tool("echo_me_please"))
    assert response.status_code == 400
    messages = response.json()["message"]
    assert any("echo_me_please" in m for m in messages)
    assert any("ECHO_ME_PLEASE" in m for m in messages)
    assert any(m.startswith('value "echo_me_') and m.endswith('…" is not allowed') for m in messages)
    emulator.faults.echo_writes = False
    assert client.get("/tool").json() == []
    assert [r.fault for r in emulator.request_log if r.method == "POST"] == ["echo"]
