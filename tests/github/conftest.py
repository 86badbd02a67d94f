"""Fixtures for the GitHub edge: a fake Actions results service on loopback, runtime tokens, events."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

RUN_BACKEND = "ce7f54c7-61c7-4aae-887f-30da475f5f1a"
JOB_BACKEND = "ca395085-040a-526b-2ce8-bdc85f692774"
SIG = "s1gn4tur3-v4lue-XYZ"


def make_runtime_token(scp: str = f"Actions.GenericRead Actions.Results:{RUN_BACKEND}:{JOB_BACKEND}") -> str:
    """An unsigned JWT shaped like ACTIONS_RUNTIME_TOKEN (the client reads claims without verifying)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'scp': scp, 'exp': 4102444800})}.c2lnbmF0dXJl"


@dataclass
class FakeResults:
    """A results service: CreateArtifact → signed blob URL → PUT → FinalizeArtifact (checks size + hash)."""

    url: str = ""
    token: str = ""
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    finalized: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before behaving
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            self.requests.append((method, path, headers, body))
            if self.fail_next:
                return self.fail_next.pop(0), {"code": "unavailable", "msg": "try again"}
        parts = urlsplit(path)
        if method == "POST" and parts.path.startswith("/twirp/github.actions.results.api.v1.ArtifactService/"):
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"code": "unauthenticated", "msg": "bad token"}
            if headers.get("content-type") != "application/json":
                return 400, {"code": "malformed", "msg": "json only"}
            request = json.loads(body)
            if (
                request.get("workflow_run_backend_id") != RUN_BACKEND
                or request.get("workflow_job_run_backend_id") != JOB_BACKEND
            ):
                return 400, {"code": "invalid_argument", "msg": "backend ids"}
            name = request["name"]
            if parts.path.endswith("/CreateArtifact"):
                if name in self.created:
                    return 409, {"code": "already_exists", "msg": "artifact exists"}
                self.created[name] = request
                return 200, {"ok": True, "signed_upload_url": f"{self.url}/blob/{name}?sv=2024&sig={SIG}"}
            if parts.path.endswith("/FinalizeArtifact"):
                blob = self.blobs.get(name)
                if blob is None:
                    return 404, {"code": "not_found", "msg": "no blob"}
                # The real service checks the declared size; the hash is a bare "sha256:<hex>" string.
                if (
                    request.get("size") != str(len(blob))
                    or request.get("hash") != "sha256:" + hashlib.sha256(blob).hexdigest()
                ):
                    return 400, {"code": "invalid_argument", "msg": "size or hash mismatch"}
                self.finalized[name] = request
                return 200, {"ok": True, "artifact_id": str(1000 + len(self.finalized))}
            return 404, {"code": "bad_route", "msg": "no such method"}
        if method == "PUT" and parts.path.startswith("/blob/"):
            if parse_qs(parts.query).get("sig") != [SIG] or headers.get("x-ms-blob-type") != "BlockBlob":
                return 403, None
            self.blobs[parts.path.removeprefix("/blob/")] = body
            return 201, None
        return 404, None


@pytest.fixture
def fake_results() -> Iterator[FakeResults]:
    """A loopback HTTP server speaking the artifact v4 Twirp API and the blob upload."""
    fake = FakeResults(token=make_runtime_token())

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = _serve
        do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_event(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def pr_event(number: int = 7, head: str = "a" * 40, base: str = "b" * 40, fork: bool = False) -> dict[str, Any]:
    """A pull_request webhook payload (the fields the action reads)."""
    repo = {"full_name": "acme/config", "default_branch": "main", "id": 1}
    head_repo = {"full_name": "mallory/config" if fork else "acme/config"}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head, "ref": "feature", "repo": head_repo},
            "base": {"sha": base, "ref": "main", "repo": {"full_name": "acme/config"}},
        },
        "repository": repo,
    }


@pytest.fixture
def make_pr_event() -> Any:
    """The pull_request payload builder (fixtures, not imports: tests/ has no packages)."""
    return pr_event


@pytest.fixture
def token_for() -> Any:
    """Builds runtime tokens with a given ``scp`` claim."""
    return make_runtime_token
