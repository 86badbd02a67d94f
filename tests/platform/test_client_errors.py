"""Error answers become one readable ApiError; the token never shows anywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from platform_helpers import TOKEN, Sleeps, assistant_body, function_tool

from ci_deployer.emulator import Emulator, Faults
from ci_deployer.errors import ApiError, DeployerError
from ci_deployer.platform.api_errors import vapi_message
from ci_deployer.platform.client import RequestRecord, RetryPolicy, VapiClient


def test_a_wrong_token_is_a_401_with_a_hint_and_without_the_token(make_client: Callable[..., VapiClient]) -> None:
    wrong = "tok-wrong-9a8b7c6d5e4f3a2b"
    client = make_client(token=wrong)

    with pytest.raises(ApiError) as caught:
        client.list("Assistant")

    error = caught.value
    assert error.status == 401 and isinstance(error, DeployerError)
    assert "Invalid API key" in error.api_message
    assert error.hint and "api.token" in error.hint
    assert wrong not in str(error) and wrong not in repr(error) and wrong not in repr(client)
    assert client.calls == 1  # a 401 is not retried


def test_the_token_appears_in_no_error_record_repr_or_log(
    emulator: Emulator,
    make_client: Callable[..., VapiClient],
    records: list[RequestRecord],
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    emulator.faults = Faults(fail_rate=0.5, throttle_rate=0.3, seed=11)
    created = client.create("Assistant", assistant_body(), retry_unsafe=True)
    client.update("Assistant", created["id"], {"firstMessage": "Hello"})
    errors: list[str] = []
    calls: list[Callable[[], object]] = [
        lambda: client.get("Assistant", "missing"),
        lambda: client.create("Assistant", {"bogus": 1}),
    ]
    for bad in calls:
        try:
            bad()
        except ApiError as exc:
            errors.append(f"{exc} {exc!r} {exc.hint} {exc.body}")

    assert len(errors) == 2 and sleeps.delays  # errors and retries (and their log lines) really happened
    record_text = b"".join((r.request_body or b"") + (r.response_body or b"") for r in records)
    assert TOKEN.encode() not in record_text
    texts = [*errors, repr(client), caplog.text, *(f"{r!r}" for r in records)]
    assert not [t for t in texts if TOKEN in t]


def test_a_token_echoed_by_the_server_is_masked_in_the_error() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": [f"bad header {request.headers['authorization']}"]})

    with (
        VapiClient("http://vapi.test", TOKEN, transport=httpx.MockTransport(echo)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.create("Tool", function_tool())
    assert TOKEN not in str(caught.value)
    assert str(caught.value) == "POST /tool → 400: bad header Bearer ***"


def test_a_pinned_delete_is_a_409_naming_what_pins_it(emulator: Emulator, client: VapiClient) -> None:
    [tool] = emulator.seed("acme", "Tool", [function_tool()])
    emulator.seed(
        "acme", "Assistant", [assistant_body(model={"provider": "openai", "model": "gpt-4.1", "toolIds": [tool["id"]]})]
    )

    with pytest.raises(ApiError) as caught:
        client.delete("Tool", tool["id"])

    error = caught.value
    assert error.status == 409 and client.calls == 1
    assert "still referenced" in error.api_message and "pinned by: assistant_version" in error.api_message
    assert error.hint and "references" in error.hint


def test_an_unreadable_error_body_is_reported_by_its_status_text() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"<html><body>Bad gateway</body></html>")

    client = VapiClient(
        "http://vapi.test",
        TOKEN,
        transport=httpx.MockTransport(gateway),
        retry=RetryPolicy(max_attempts=2, sleep=lambda _: None),
    )
    with client, pytest.raises(ApiError) as caught:
        client.get("Squad", "abc")
    assert caught.value.status == 502
    assert caught.value.api_message == "502 Bad Gateway (gave up after 2 attempts)"
    assert caught.value.path == "/squad/abc"


def test_vapi_message_shapes() -> None:
    assert vapi_message(400, {"message": ["a must be x", "b should not exist"]}) == "a must be x; b should not exist"
    assert vapi_message(404, {"message": "Assistant not found", "statusCode": 404}) == "Assistant not found"
    assert vapi_message(403, {"error": "Forbidden"}) == "Forbidden"
    assert vapi_message(500, None) == "500 Internal Server Error"
    assert vapi_message(418, {"message": []}) == "418 I'm a Teapot"


def test_ids_are_escaped_into_one_path_segment(client: VapiClient, records: list[RequestRecord]) -> None:
    with pytest.raises(ApiError) as caught:
        client.get("Assistant", "../tool")
    assert caught.value.status == 404
    assert records[0].path == "/assistant/..%2Ftool"
