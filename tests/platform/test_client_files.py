"""The client's file calls: multipart upload with metadata, and downloads that never send the API key
to another origin and never read past the cap."""

from __future__ import annotations

import ipaddress
import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ci_deployer.platform.client import VapiClient
from support.loopback import LoopbackServer, Reply, Request

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


def _self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a fresh self-signed certificate, and that certificate's file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storage.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_a_plain_http_api_root_still_verifies_tls_to_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client of a plain-HTTP root (the served emulator) loads no CA bundle for itself, but a
    document downloaded from HTTPS storage is fetched by a verifying client: an untrusted certificate
    reads nothing, the same certificate trusted (SSL_CERT_FILE, which httpx honours) reads the bytes."""
    tls, cert_file = _self_signed(tmp_path)
    api_requests: list[str] = []

    def api(request: Request) -> Reply:
        api_requests.append(request.path)
        return Reply(200, b"[]", {"Content-Type": "application/json"})

    with (
        LoopbackServer(lambda request: Reply(200, b"stored bytes"), tls=tls) as storage,
        LoopbackServer(api) as root,
        VapiClient(root.url, TOKEN) as client,
    ):
        assert storage.url.startswith("https://")
        assert client.list("Tool") == []  # the plain-HTTP root answers
        document = {"url": f"{storage.url}/f-1"}
        assert client.download_file(document, limit=100) is None  # self-signed: refused
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        assert client.download_file(document, limit=100) == b"stored bytes"
    assert api_requests == ["/tool"]
