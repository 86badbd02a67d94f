"""The client's own connections and request path (ci_deployer/platform/connections.py, VapiClient._request /
_exchange) send what httpx's client and pool sent before them, byte for byte, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from platform_helpers import TOKEN, assistant_body, function_tool

from ci_deployer.emulator import ServerHandle
from ci_deployer.platform.client import RetryPolicy, VapiClient
from ci_deployer.platform.connections import LentConnections
from support.loopback import LoopbackServer, Reply, Request

Wire = tuple[str, str, list[tuple[str, str]], bytes]


def _recorder(seen: list[Wire], first_status: int = 200) -> Callable[[Request], Reply]:
    """A server that records each request as sent (headers in order) and answers like Vapi would;
    the very first request gets ``first_status`` (429: a retry follows)."""

    def handle(request: Request) -> Reply:
        seen.append((request.method, request.target, list(request.headers.items()), request.body))
        if len(seen) == 1 and first_status != 200:
            return Reply(first_status, b'{"message": "slow down"}', {"Retry-After": "0"})
        body: Any = [] if request.method == "GET" and request.path == "/tool" else {"id": "t-1", "name": "x"}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    return handle


def _calls(api: VapiClient) -> None:
    api.create("Tool", function_tool())
    api.get("Tool", "t 1/2")
    api.list("Tool")
    api.update("Assistant", "a-1", assistant_body(firstMessage="Hello, é"))
    api.delete("Tool", "t-1")


def _as_before(http: httpx.Client) -> None:
    """The same calls as :func:`_calls`, sent the way the client sent them before: ``build_request``
    with the path, JSON bytes, a ``Content-Type`` with a body, ``params``; then ``Client.send``."""

    def send(method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> None:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        http.send(http.build_request(method, path, content=content, headers=headers, params=params)).read()

    send("POST", "/tool", function_tool())
    send("GET", "/tool/t%201%2F2")
    send("GET", "/tool", params={"limit": 1000})
    send("PATCH", "/assistant/a-1", assistant_body(firstMessage="Hello, é"))
    send("DELETE", "/tool/t-1")


def test_requests_on_the_wire_are_those_httpx_client_sent() -> None:
    now: list[Wire] = []
    before: list[Wire] = []
    with LoopbackServer(_recorder(now)) as server, VapiClient(server.url, TOKEN) as api:
        _calls(api)
    with LoopbackServer(_recorder(before)) as server:
        headers = {"Accept": "application/json", "User-Agent": "ci-deployer", "Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=server.url, headers=headers) as http:
            _as_before(http)
    assert len(now) == 5
    host = next((name, value) for name, value in now[0][2] if name == "host")
    assert [(m, t, [h if h[0] != "host" else host for h in hs], b) for m, t, hs, b in before] == now
    assert ("content-type", "application/json") in now[0][2] and "content-type" not in dict(now[1][2])


def test_a_retried_request_is_sent_again_unchanged() -> None:
    seen: list[Wire] = []
    with (
        LoopbackServer(_recorder(seen, first_status=429)) as server,
        VapiClient(server.url, TOKEN, retry=RetryPolicy(sleep=lambda _: None)) as api,
    ):
        assert api.create("Tool", function_tool())["id"] == "t-1"
    assert len(seen) == 2 and seen[0] == seen[1]


def test_a_connection_serves_one_request_at_a_time_and_is_reused(server: ServerHandle) -> None:
    lent = LentConnections(verify=False)
    with VapiClient(server.url, TOKEN, transport=lent, max_concurrency=4) as api:
        for i in range(5):
            api.create("Tool", function_tool(f"tool_{i}"))
        assert lent.opened == 1  # one after another: the same connection every time
        tools = api.map(lambda i: api.create("Tool", function_tool(f"more_{i}")), range(40))
        assert lent.opened <= 4  # never more connections than requests in flight
        assert len({t["id"] for t in tools}) == 40
        assert len(api.list("Tool")) == 45


def test_an_answer_left_unread_frees_its_connection_and_a_closed_client_sends_nothing() -> None:
    def handle(request: Request) -> Reply:
        if request.path == "/big":
            return Reply(200, b"x" * 100_000)
        return Reply(200, b"[]", {"Content-Type": "application/json"})

    with LoopbackServer(handle) as server:
        lent = LentConnections(verify=False)
        api = VapiClient(server.url, TOKEN, transport=lent)
        for _ in range(3):
            assert api.download_file({"url": f"{server.url}/big"}, limit=10) is None  # closed half-read
        assert api.list("Tool") == []
        assert lent.opened == 1
        api.close()
        with pytest.raises(RuntimeError, match="closed"):
            api.list("Tool")


def test_a_proxy_from_the_environment_still_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy configured the requests go through httpx's own routing, hence the proxy."""
    seen: list[str] = []

    def proxy(request: Request) -> Reply:
        seen.append(request.target)
        return Reply(200, b"[]", {"Content-Type": "application/json"})

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with LoopbackServer(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        with VapiClient("http://api.vapi.invalid", TOKEN) as api:
            assert api.list("Tool") == []
    assert seen == ["http://api.vapi.invalid/tool?limit=1000"]
