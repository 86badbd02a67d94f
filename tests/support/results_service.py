"""The Actions results service as the artifact v4 clients see it: Twirp ``ArtifactService`` + blob store.

Wire format (actions/toolkit ``packages/artifact``; see the project's reference notes §2):

- ``POST /twirp/github.actions.results.api.v1.ArtifactService/<Method>`` with ``Authorization: Bearer
  <ACTIONS_RUNTIME_TOKEN>`` and protobuf-JSON bodies (proto field names, int64 as strings, wrapper
  types as bare strings).  Methods: ``CreateArtifact`` → ``signed_upload_url``; ``FinalizeArtifact``
  (``size`` and ``hash`` = ``"sha256:<hex>"`` of the uploaded bytes, both checked) → ``artifact_id``;
  ``ListArtifacts`` and ``GetSignedArtifactURL`` (what actions/download-artifact calls).
- the blob: one ``PUT`` with ``x-ms-blob-type: BlockBlob`` to the signed URL, whose ``sig`` query
  value is checked; a ``GET`` of a signed URL serves the bytes without any other authentication.

Runtime tokens are unsigned JWTs whose ``scp`` claim holds ``Actions.Results:<run>:<job>`` backend
ids; the service knows which run and job a token belongs to (:meth:`ResultsService.register_job`)
and refuses requests naming other backend ids.  Artifact names are unique per workflow run.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from support.loopback import LoopbackServer, Reply, Request

SERVICE = "/twirp/github.actions.results.api.v1.ArtifactService/"
BLOB = "/blob/"
SIG = "s1gn4tur3-v4lue-XYZ"
RETENTION_DAYS = 90


def make_runtime_token(scp: str) -> str:
    """An unsigned JWT shaped like ACTIONS_RUNTIME_TOKEN (clients read its claims without verifying)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'scp': scp, 'exp': 4102444800})}.c2lnbmF0dXJl"


def runtime_scopes(run_backend: str, job_backend: str) -> str:
    """The ``scp`` claim a job's runtime token carries (the shape of the example in toolkit's util.ts)."""
    return f"Actions.GenericRead Actions.Results:{run_backend}:{job_backend}"


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StoredArtifact:
    """One artifact: created, then (maybe) uploaded and finalized."""

    id: int
    name: str
    run_backend: str
    job_backend: str
    owner: Any  # what register_job was told owns the job (the fake GitHub: a (run id, job) pair)
    create_request: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    blob: bytes | None = None
    finalize_request: dict[str, Any] | None = None

    @property
    def finalized(self) -> bool:
        """True once FinalizeArtifact accepted the upload (only then is it listed)."""
        return self.finalize_request is not None

    @property
    def size(self) -> int:
        """Size of the uploaded zip in bytes."""
        return len(self.blob or b"")

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the uploaded bytes."""
        return "sha256:" + hashlib.sha256(self.blob or b"").hexdigest()


@dataclass
class ResultsService:
    """The state and request handling of the results service; serve it with :class:`LoopbackServer`.

    ``blob_base`` is the origin signed URLs point at (it may name the server by another host name
    than the API, as blob storage is another host on GitHub).  ``on_finalize`` is told about every
    finalized artifact.  ``fail_next`` holds statuses to answer (before behaving) to the next Twirp
    or blob requests, for retry tests.
    """

    blob_base: str = ""
    on_finalize: Callable[[StoredArtifact], None] | None = None
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    artifacts: dict[int, StoredArtifact] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _jobs: dict[str, tuple[str, str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    # -- registration ----------------------------------------------------------------------------------

    def register_job(self, run_backend: str, job_backend: str, owner: Any = None) -> str:
        """A runtime token for a job of a run (both backend ids), remembering who owns it."""
        token = make_runtime_token(runtime_scopes(run_backend, job_backend))
        with self.lock:
            self._jobs[token] = (run_backend, job_backend, owner)
        return token

    # -- views -----------------------------------------------------------------------------------------

    def by_run(self, run_backend: str) -> list[StoredArtifact]:
        """The finalized artifacts of a run, oldest first."""
        with self.lock:
            return [a for a in self.artifacts.values() if a.run_backend == run_backend and a.finalized]

    @property
    def created(self) -> dict[str, dict[str, Any]]:
        """Artifact name → its CreateArtifact request (the newest artifact of that name wins)."""
        with self.lock:
            return {a.name: a.create_request for a in self.artifacts.values()}

    @property
    def blobs(self) -> dict[str, bytes]:
        """Artifact name → the uploaded bytes."""
        with self.lock:
            return {a.name: a.blob for a in self.artifacts.values() if a.blob is not None}

    @property
    def finalized(self) -> dict[str, dict[str, Any]]:
        """Artifact name → its FinalizeArtifact request."""
        with self.lock:
            return {a.name: a.finalize_request for a in self.artifacts.values() if a.finalize_request is not None}

    def signed_url(self, artifact: StoredArtifact) -> str:
        """The signed blob URL of an artifact (uploads and downloads alike)."""
        return f"{self.blob_base}{BLOB}{artifact.id}?sv=2024-05-04&sr=b&sig={quote(SIG)}"

    # -- requests --------------------------------------------------------------------------------------

    def handles(self, request: Request) -> bool:
        """True for the paths this service answers."""
        return request.path.startswith((SERVICE, BLOB))

    def handle(self, request: Request) -> Reply:
        """Answer one request to the Twirp service or the blob store."""
        with self.lock:
            self.requests.append((request.method, request.target, request.headers, request.body))
            if self.fail_next:
                return _json(self.fail_next.pop(0), {"code": "unavailable", "msg": "try again"})
        if request.path.startswith(SERVICE):
            if request.method != "POST":
                return _json(405, {"code": "bad_route", "msg": "POST only"})
            return self._twirp(request)
        if request.path.startswith(BLOB):
            return self._blob(request)
        return _json(404, {"code": "bad_route", "msg": "no such path"})

    def _twirp(self, request: Request) -> Reply:
        method = request.path.removeprefix(SERVICE)
        auth = request.headers.get("authorization", "")
        job = self._jobs.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if job is None:
            return _json(401, {"code": "unauthenticated", "msg": "bad token"})
        if request.headers.get("content-type") != "application/json":
            return _json(400, {"code": "malformed", "msg": "json only"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return _json(400, {"code": "malformed", "msg": "invalid json"})
        run_backend, job_backend, owner = job
        # The service only acts for the run and job the token was issued to.
        if body.get("workflow_run_backend_id") != run_backend or body.get("workflow_job_run_backend_id") != job_backend:
            return _json(400, {"code": "invalid_argument", "msg": "backend ids"})
        handler = {
            "CreateArtifact": self._create,
            "FinalizeArtifact": self._finalize,
            "ListArtifacts": self._list,
            "GetSignedArtifactURL": self._signed_url,
        }.get(method)
        if handler is None:
            return _json(404, {"code": "bad_route", "msg": "no such method"})
        return handler(body, run_backend, job_backend, owner)

    def _named(self, run_backend: str, name: str) -> StoredArtifact | None:
        return next((a for a in self.artifacts.values() if a.run_backend == run_backend and a.name == name), None)

    def _create(self, body: dict[str, Any], run_backend: str, job_backend: str, owner: Any) -> Reply:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return _json(400, {"code": "invalid_argument", "msg": "name"})
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(days=RETENTION_DAYS)
        if isinstance(body.get("expires_at"), str):
            expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        with self.lock:
            if self._named(run_backend, name) is not None:  # v4: a name can be uploaded once per run
                return _json(409, {"code": "already_exists", "msg": "artifact exists"})
            artifact = StoredArtifact(
                id=next(self._ids),
                name=name,
                run_backend=run_backend,
                job_backend=job_backend,
                owner=owner,
                create_request=body,
                created_at=now,
                expires_at=expires,
            )
            self.artifacts[artifact.id] = artifact
        return _json(200, {"ok": True, "signed_upload_url": self.signed_url(artifact)})

    def _finalize(self, body: dict[str, Any], run_backend: str, job_backend: str, owner: Any) -> Reply:
        with self.lock:
            artifact = self._named(run_backend, str(body.get("name")))
            if artifact is None or artifact.blob is None:
                return _json(404, {"code": "not_found", "msg": "no blob"})
            # The real service checks the declared size; the hash is a bare "sha256:<hex>" string.
            if body.get("size") != str(artifact.size) or body.get("hash") != artifact.digest:
                return _json(400, {"code": "invalid_argument", "msg": "size or hash mismatch"})
            artifact.finalize_request = body
        if self.on_finalize is not None:
            self.on_finalize(artifact)
        return _json(200, {"ok": True, "artifact_id": str(artifact.id)})

    def _list(self, body: dict[str, Any], run_backend: str, job_backend: str, owner: Any) -> Reply:
        name, wanted_id = body.get("name_filter"), body.get("id_filter")
        found = [
            {
                "workflow_run_backend_id": a.run_backend,
                "workflow_job_run_backend_id": a.job_backend,
                "database_id": str(a.id),
                "name": a.name,
                "size": str(a.size),
                "created_at": _timestamp(a.created_at),
            }
            for a in self.by_run(run_backend)
            if (name is None or a.name == name) and (wanted_id is None or str(a.id) == str(wanted_id))
        ]
        return _json(200, {"artifacts": found})

    def _signed_url(self, body: dict[str, Any], run_backend: str, job_backend: str, owner: Any) -> Reply:
        with self.lock:
            artifact = self._named(run_backend, str(body.get("name")))
        if artifact is None or not artifact.finalized:
            return _json(404, {"code": "not_found", "msg": "artifact not found"})
        return _json(200, {"signed_url": self.signed_url(artifact)})

    def _blob(self, request: Request) -> Reply:
        key = request.path.removeprefix(BLOB)
        with self.lock:
            artifact = self.artifacts.get(int(key)) if key.isdigit() else None
        if artifact is None:
            return Reply(404)
        if request.param("sig") != SIG:
            return Reply(403)
        if request.method == "PUT":
            if request.headers.get("x-ms-blob-type") != "BlockBlob":
                return Reply(400)
            with self.lock:
                if artifact.finalized:
                    return Reply(409)  # a finalized blob is immutable
                artifact.blob = request.body
            return Reply(201)
        if request.method == "GET" and artifact.finalized and artifact.blob is not None:
            return Reply(200, artifact.blob, {"Content-Type": "application/zip"})
        return Reply(404)


@dataclass
class ServedResults:
    """A results service on loopback with one registered job (the GitHub edge's unit tests)."""

    service: ResultsService
    url: str
    token: str

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        """Every request, in order: (method, path and query, headers, body)."""
        return self.service.requests

    @property
    def created(self) -> dict[str, dict[str, Any]]:
        """Artifact name → CreateArtifact request."""
        return self.service.created

    @property
    def blobs(self) -> dict[str, bytes]:
        """Artifact name → uploaded bytes."""
        return self.service.blobs

    @property
    def finalized(self) -> dict[str, dict[str, Any]]:
        """Artifact name → FinalizeArtifact request."""
        return self.service.finalized

    @property
    def fail_next(self) -> list[int]:
        """Statuses to answer before behaving."""
        return self.service.fail_next

    @fail_next.setter
    def fail_next(self, statuses: list[int]) -> None:
        self.service.fail_next[:] = statuses


@contextmanager
def serve_results(run_backend: str, job_backend: str) -> Iterator[ServedResults]:
    """A results service on 127.0.0.1 with one job registered; yields its URL and the job's token."""
    service = ResultsService()
    with LoopbackServer(service.handle) as server:
        service.blob_base = server.url
        token = service.register_job(run_backend, job_backend)
        yield ServedResults(service, server.url, token)
