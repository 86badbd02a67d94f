"""The client's file calls: multipart upload with metadata, and downloads that never send the API key
to another origin and never read past the cap."""

from __future__ import annotations

import json

import httpx
import pytest

from ci_deployer.platform.client import VapiClient

BASE = "https://api.vapi.test"
TOKEN = "tok-files-0123456789abcdef"


def client(handler: httpx.MockTransport) -> VapiClient:
    return VapiClient(BASE, TOKEN, transport=handler)


def test_upload_sends_multipart_with_purpose_and_metadata() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "f-1"})

    with client(httpx.MockTransport(handle)) as api:
        api.upload_file("faq.md", b"# FAQ\n", metadata={"ciDeployer": {"sha256": "abc"}}, mimetype="text/markdown")
    [request] = seen
    body = request.read()
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="purpose"\r\n\r\nknowledge-base-v2' in body
    assert b'name="metadata"\r\n\r\n{"ciDeployer":{"sha256":"abc"}}' in body
    assert b'filename="faq.md"\r\nContent-Type: text/markdown\r\n\r\n# FAQ\n' in body


def test_metadata_over_4096_characters_is_refused_before_sending() -> None:
    with client(httpx.MockTransport(lambda r: httpx.Response(500))) as api, pytest.raises(ValueError, match="4096"):
        api.upload_file("a.md", b"x", metadata={"k": "x" * 5000})


def test_a_download_from_another_origin_carries_no_api_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"bytes")

    with client(httpx.MockTransport(handle)) as api:
        assert api.download_file({"url": "https://storage.example/f-1"}, limit=100) == b"bytes"
        assert api.download_file({"url": f"{BASE}/file/f-1/content"}, limit=100) == b"bytes"
        assert api.download_file({"url": "/file/f-1/content"}, limit=100) == b"bytes"
        assert api.download_file({"url": "http://plain.example/f-1"}, limit=100) is None  # not https: not fetched
    foreign, own, relative = seen
    assert "authorization" not in foreign.headers
    assert own.headers["authorization"] == f"Bearer {TOKEN}"
    assert relative.url == httpx.URL(f"{BASE}/file/f-1/content")


def test_a_download_stops_at_the_cap_and_on_errors() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 1000)
        return httpx.Response(404, content=json.dumps({"message": "nope"}).encode())

    with client(httpx.MockTransport(handle)) as api:
        assert api.download_file({"url": f"{BASE}/big"}, limit=999) is None
        assert api.download_file({"url": f"{BASE}/big"}, limit=1000) == b"x" * 1000
        assert api.download_file({"url": f"{BASE}/missing"}, limit=1000) is None
        assert api.download_file({}, limit=1000) is None
