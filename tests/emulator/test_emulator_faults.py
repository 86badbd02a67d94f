"""Injected faults (seeded) and the request log, in-process and over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from emulator_helpers import TOKEN, function_tool

from ci_deployer.emulator import Emulator, Faults, LoggedRequest, serve


def _tool_count(emulator: Emulator, client: httpx.Client) -> int:
    saved, emulator.faults = emulator.faults, Faults()
    try:
        return len(client.get("/tool").json())
    finally:
        emulator.faults = saved


def test_fail_rate_answers_5xx_before_any_write(emulator: Emulator, connect: Callable[..., httpx.Client]) -> None:
    client = connect()
    emulator.faults = Faults(fail_rate=1, seed=1)
    statuses = {client.post("/tool", json=function_tool()).status_code for _ in range(20)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert _tool_count(emulator, client) == 0


def test_throttle_with_and_without_retry_after(emulator: Emulator, connect: Callable[..., httpx.Client]) -> None:
    client = connect()
    emulator.faults = Faults(throttle_rate=1, retry_after=2)
    response = client.get("/assistant")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["message"] == "Rate limit exceeded"
    emulator.faults.retry_after = None  # faults are switchable at run time
    response = client.get("/assistant")
    assert response.status_code == 429 and "Retry-After" not in response.headers
    emulator.faults.throttle_rate = 0
    assert client.get("/assistant").status_code == 200


def test_drop_commits_the_write_then_loses_the_response(
    emulator: Emulator, connect: Callable[..., httpx.Client]
) -> None:
    client = connect()
    emulator.faults = Faults(drop_rate=1, only_methods=frozenset({"POST"}))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post("/tool", json=function_tool())
    assert client.get("/tool").status_code == 200  # GET is not faulted; the pooled client recovers
    assert [t["function"]["name"] for t in client.get("/tool").json()] == ["lookup_order"]  # it was written
    entry = next(e for e in emulator.request_log if e.method == "POST")
    assert entry == LoggedRequest("POST", "/tool", 201, "acme", dropped=True, fault="drop")


def test_reset_does_nothing(emulator: Emulator, connect: Callable[..., httpx.Client]) -> None:
    client = connect()
    emulator.faults = Faults(reset_rate=1, only_methods=frozenset({"POST"}))
    with pytest.raises(httpx.TransportError):
        client.post("/tool", json=function_tool())
    assert client.get("/tool").json() == []
    assert emulator.request_log[0] == LoggedRequest("POST", "/tool", 0, None, fault="reset")


def test_seeded_faults_are_reproducible(connect: Callable[..., httpx.Client], emulator: Emulator) -> None:
    client = connect()

    def run() -> list[int]:
        emulator.faults = Faults(fail_rate=0.3, throttle_rate=0.3, seed=42)
        return [client.get("/assistant").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {200, 429} <= set(first) and set(first) - {200, 429}  # a mix of all three outcomes


def test_request_log_records_method_path_status_org(api: httpx.Client, emulator: Emulator) -> None:
    created = api.post("/tool", json=function_tool()).json()
    api.get(f"/tool/{created['id']}", params={"x": 1})
    api.delete("/assistant/missing")
    assert [(e.method, e.path, e.status, e.org) for e in emulator.request_log] == [
        ("POST", "/tool", 201, "acme"),
        ("GET", f"/tool/{created['id']}", 200, "acme"),
        ("DELETE", "/assistant/missing", 404, "acme"),
    ]
    assert emulator.request_log[1].query == "x=1"
    assert TOKEN not in repr(emulator.request_log)


def test_pooled_client_with_latency_and_concurrency_over_http(emulator: Emulator) -> None:
    emulator.faults = Faults(latency_ms=2)
    with (
        serve(emulator) as handle,
        httpx.Client(
            base_url=handle.url, headers={"Authorization": f"Bearer {TOKEN}"}, limits=httpx.Limits(max_connections=16)
        ) as client,
    ):

        def work(i: int) -> int:
            created = client.post("/tool", json=function_tool(f"t{i}"))
            return client.get(f"/tool/{created.json()['id']}").status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(work, range(200))) == {200}
        assert len(client.get("/tool", params={"limit": 1000}).json()) == 200
    assert len(emulator.request_log) == 401
