"""Workflow artifacts uploaded from inside the container through the Actions results service.

The artifact v4 protocol, as actions/toolkit ``packages/artifact`` speaks it:

1. backend ids from the ``scp`` claim of ``ACTIONS_RUNTIME_TOKEN`` (a JWT, read without verifying):
   ``Actions.Results:<workflowRunBackendId>:<workflowJobRunBackendId>``;
2. ``POST {origin}/twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact`` with
   protobuf-JSON (proto field names, int64 as strings, defaults omitted) → ``signed_upload_url``;
3. one ``PUT`` of the zip to that URL with ``x-ms-blob-type: BlockBlob``;
4. ``FinalizeArtifact`` with ``size`` (string) and ``hash`` ``"sha256:<hex>"`` (a bare string: the
   official codec rejects the ``{"value": …}`` wrapper form) → ``artifact_id``.

Twirp calls are retried on 429/500/502/503/504 (toolkit: 5 attempts, 3 s base, ×1.5).  The ``sig``
query value of signed URLs is masked.  GitHub Enterprise Server has no results service: there the
files stay in ``artifacts_dir`` and a notice says so.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ci_deployer import redact
from ci_deployer.errors import GitHubError

SERVICE = "/twirp/github.actions.results.api.v1.ArtifactService/"
RETRYABLE = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 5
BASE_DELAY = 3.0
MULTIPLIER = 1.5
# Characters actions/upload-artifact refuses in names (toolkit upload/path-and-artifact-name-validation.ts).
_BAD_NAME = re.compile(r'["\:<>|*?\r\n\\/]')


class ArtifactError(GitHubError):
    """The results service refused or failed an artifact upload."""


@dataclass(frozen=True)
class BackendIds:
    """The run and job ids the results service knows this job by."""

    workflow_run_backend_id: str
    workflow_job_run_backend_id: str


@dataclass(frozen=True)
class UploadedArtifact:
    """A finalized artifact: its name, id, zip size and ``sha256:`` digest."""

    name: str
    artifact_id: str
    size: int
    digest: str


def is_ghes(server_url: str) -> bool:
    """True for GitHub Enterprise Server (toolkit ``isGhes``: not github.com, *.ghe.com or *.localhost)."""
    host = (urlsplit(server_url).hostname or "").lower()
    return not (host == "github.com" or host.endswith(".ghe.com") or host.endswith(".localhost"))


def backend_ids_from_token(token: str) -> BackendIds:
    """Read ``Actions.Results:<run>:<job>`` from the token's ``scp`` claim (toolkit ``getBackendIdsFromToken``)."""
    invalid = ArtifactError("Failed to get backend IDs: The provided JWT token is invalid and/or missing claims")
    parts = token.split(".")
    if len(parts) != 3:
        raise invalid
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    scopes = claims.get("scp") if isinstance(claims, dict) else None
    if not isinstance(scopes, str):
        raise invalid
    for scope in scopes.split(" "):
        pieces = scope.split(":")
        if pieces[0] != "Actions.Results":
            continue
        if len(pieces) != 3 or not pieces[1] or not pieces[2]:
            raise invalid
        return BackendIds(pieces[1], pieces[2])
    raise invalid


def artifact_name(env: str, command: str, run_id: str, run_attempt: str, job: str) -> str:
    """``ci-deployer-<env>-<command>-<run_id>-<run_attempt>-<job>``: unique per run, attempt and job
    (a v4 artifact name can be uploaded only once per run)."""
    name = f"ci-deployer-{env or 'all'}-{command}-{run_id or 'local'}-{run_attempt or '1'}-{job or 'job'}"
    return _BAD_NAME.sub("-", name)


def build_zip(files: Sequence[Path], root: Path) -> bytes:
    """A zip of ``files`` (paths relative to ``root``), deflate level 6 as upload-artifact uses."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(files):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _mask_signed_url(url: str, mask: Callable[[str], None]) -> None:
    for value in parse_qs(urlsplit(url).query).get("sig", []):
        mask(value)


class ArtifactUploader:
    """A client of the results service's ArtifactService (artifact v4)."""

    def __init__(
        self,
        results_url: str,
        runtime_token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retention_days: int | None = None,
        mask: Callable[[str], None] = redact.register,
        timeout: float = 300.0,
    ) -> None:
        parts = urlsplit(results_url)
        # toolkit config: the base is the URL's origin; its path is dropped.
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.token = runtime_token
        self.ids = backend_ids_from_token(runtime_token)
        self.sleep = sleep
        self.retention_days = retention_days
        self.mask = mask
        self.http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def __enter__(self) -> ArtifactUploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _twirp(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.origin + SERVICE + method
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        last = ""
        for attempt in range(ATTEMPTS):
            try:
                response = self.http.post(url, content=json.dumps(body, separators=(",", ":")), headers=headers)
            except httpx.TransportError as exc:
                last = f"no answer ({type(exc).__name__})"
            else:
                if response.is_success:
                    try:
                        data = response.json()
                    except ValueError as exc:
                        raise ArtifactError(f"{method}: the results service answered with invalid JSON") from exc
                    return data if isinstance(data, dict) else {}
                last = f"{response.status_code}: {_twirp_message(response)}"
                if response.status_code not in RETRYABLE:
                    raise ArtifactError(f"{method} failed ({last})")
            if attempt + 1 < ATTEMPTS:
                self.sleep(BASE_DELAY * MULTIPLIER**attempt * random.uniform(0.5, 1.5))
        raise ArtifactError(f"{method} failed after {ATTEMPTS} attempts ({last})")

    def _put_blob(self, url: str, data: bytes) -> None:
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/zip"}
        last = ""
        for attempt in range(ATTEMPTS):
            try:
                response = self.http.put(url, content=data, headers=headers)
            except httpx.TransportError as exc:
                last = f"no answer ({type(exc).__name__})"
            else:
                if response.is_success:
                    return
                last = str(response.status_code)
                if response.status_code not in RETRYABLE:
                    break
            if attempt + 1 < ATTEMPTS:
                self.sleep(BASE_DELAY * MULTIPLIER**attempt * random.uniform(0.5, 1.5))
        raise ArtifactError(f"uploading the artifact blob failed ({last})")

    def upload(self, name: str, files: Sequence[Path], root: Path) -> UploadedArtifact:
        """Zip ``files`` and upload them as the artifact ``name``; returns the finalized artifact."""
        if not files:
            raise ArtifactError(f"artifact {name}: no files to upload")
        data = build_zip(files, root)
        ids = {
            "workflow_run_backend_id": self.ids.workflow_run_backend_id,
            "workflow_job_run_backend_id": self.ids.workflow_job_run_backend_id,
            "name": name,
        }
        create: dict[str, Any] = {**ids, "version": 4}
        if self.retention_days:
            expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=self.retention_days)
            create["expires_at"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        created = self._twirp("CreateArtifact", create)
        url = created.get("signed_upload_url")
        if not created.get("ok") or not isinstance(url, str) or not url:
            raise ArtifactError(f"CreateArtifact refused the artifact {name}")
        _mask_signed_url(url, self.mask)
        self._put_blob(url, data)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        finalized = self._twirp("FinalizeArtifact", {**ids, "size": str(len(data)), "hash": digest})
        if not finalized.get("ok"):
            raise ArtifactError(f"FinalizeArtifact refused the artifact {name}")
        return UploadedArtifact(
            name=name, artifact_id=str(finalized.get("artifact_id", "")), size=len(data), digest=digest
        )


def _twirp_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(data, dict) and data.get("msg"):
        return str(data["msg"])
    return response.reason_phrase
