"""The Vapi API client: one org, one bearer token, every kind of the kinds table.

Why synchronous: a sync :class:`httpx.Client` plus a bounded :class:`ThreadPoolExecutor` (see
:meth:`VapiClient.map`).  The CLI is synchronous; the embedded emulator is mounted in-process
through a sync httpx transport (``url: embedded``); and the engine's concurrency is "independent
resources in parallel within a bound", which threads express directly.  An asyncio client would
force an event loop onto every caller for no gain at the few dozen requests an apply makes.  The
bound is a :class:`ConcurrencyLimiter` shared by all threads that halves on 429 and grows back by
one per success.

Request rules (facts from Vapi's OpenAPI spec and reference notes; see the README):

- ``GET``, ``PATCH`` (top-level replace, so repeating it is harmless) and ``DELETE`` are idempotent:
  retried on 408, 429, 5xx and connection errors, with exponential backoff and jitter, honouring
  ``Retry-After`` (seconds or HTTP-date) and ``retry-after-ms``.  No other 4xx is retried.
  A ``DELETE`` that answers 404 *after* an attempt whose outcome is unknown (lost answer, 5xx)
  counts as done: the earlier attempt deleted it.
- ``POST`` creates, and Vapi has no idempotency keys: it is retried only when the server certainly
  did not act (429, or a connection that was never established).  A lost answer or a 5xx raises
  :class:`AmbiguousWriteError`; the caller re-lists before retrying
  (:func:`ci_deployer.platform.upsert.create_or_adopt`).
- Lists read every item (:mod:`ci_deployer.platform.paging`): ``limit=1000`` plus a ``createdAt``
  cursor for bare arrays, ``page`` for paginated kinds.
- Errors become :class:`ci_deployer.errors.ApiError` (method, path, status, Vapi's message, a hint);
  no answer at all becomes :class:`ci_deployer.errors.TransportError`.  The token is registered with
  :mod:`ci_deployer.redact` and appears in no error, log line, ``repr`` or :class:`RequestRecord`.
"""

from __future__ import annotations

import builtins
import contextvars
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode
from urllib.request import getproxies

import httpx

from ci_deployer import redact
from ci_deployer.errors import ApiError, TransportError
from ci_deployer.platform import paging
from ci_deployer.platform.api_errors import api_error, parse_body
from ci_deployer.platform.connections import LentConnections
from ci_deployer.platform.kinds import KINDS, Kind
from ci_deployer.platform.limiter import ConcurrencyLimiter
from ci_deployer.platform.retry import RetryPolicy, is_retryable_status, parse_retry_after

__all__ = [
    "AmbiguousWriteError",
    "ConcurrencyLimiter",
    "MapResult",
    "RequestRecord",
    "RetryPolicy",
    "VapiClient",
    "strip_server_fields",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Errors raised before a single byte of the request left: the server cannot have acted.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AmbiguousWriteError(TransportError):
    """A create was sent but its outcome is unknown (the answer was lost, or a 5xx came back).

    The resource may exist now.  Re-list the kind and look for it before creating again;
    :func:`ci_deployer.platform.upsert.create_or_adopt` does exactly that.
    """

    def __init__(self, method: str, path: str, message: str, *, status: int = 0) -> None:
        super().__init__(
            method,
            path,
            message,
            hint="the write may have happened: re-list before retrying (ci-deployer apply does this itself)",
        )
        self.status = status


@dataclass
class RequestRecord:
    """One HTTP exchange, for the apply log.  Bodies are raw bytes (for checksums); no headers, no token."""

    method: str
    path: str  # path and query, without the base URL
    status: int | None  # None: no answer (error says why)
    duration_ms: float
    request_body: bytes | None
    response_body: bytes | None
    attempt: int  # 1 for the first try
    error: str | None
    started_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class MapResult(Generic[R]):
    """The outcome of one item of :meth:`VapiClient.map_results`: a value or the exception raised."""

    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # R may itself admit None


def strip_server_fields(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` without the top-level fields the server manages for ``kind`` (kinds table)."""
    fields = KINDS[kind].server_fields
    return {k: v for k, v in payload.items() if k not in fields}


@dataclass
class _Answer:
    status: int
    content: bytes
    headers: httpx.Headers


class VapiClient:
    """A client for one Vapi org.  Thread-safe: share one instance between the workers of :meth:`map`.

    ``base_url`` is the API root (``https://api.vapi.ai``, or the emulator); ``token`` the org's
    private API key (``None`` sends no ``Authorization``: the embedded emulator).  ``transport``
    injects an httpx transport (the in-process emulator).  ``on_request`` receives a
    :class:`RequestRecord` per HTTP attempt, from whichever thread made it.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        if token:
            redact.register(token)
        headers = {"Accept": "application/json", "User-Agent": "ci-deployer"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = ConcurrencyLimiter(max_concurrency)
        self.max_concurrency = max_concurrency
        self.on_request = on_request
        pool = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        # A plain-HTTP API root (the served emulator) never speaks TLS through this client: it sends
        # only to that root and follows no redirects.  httpx would still load the CA bundle for it
        # (~25 ms a process); a download from storage elsewhere gets a verifying client of its own
        # (download_file).  An injected transport decides TLS itself.
        self._plain = transport is None and self.base_url.startswith("http://")
        self._transport = transport if transport is not None else _own_transport(verify=not self._plain)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=self._transport,
            timeout=timeout,
            limits=pool,
            verify=not self._plain,
        )
        self._timeout = timeout
        self._calls = 0
        self._calls_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VapiClient({self.base_url!r}, max_concurrency={self.max_concurrency})"

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        with self._calls_lock:
            return self._calls

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VapiClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- resources of the kinds table --------------------------------------------------------------

    def list(self, kind: str) -> builtins.list[dict[str, Any]]:
        """Every item of ``kind`` ("Assistant", "Tool", …), all pages."""
        spec = KINDS[kind]
        return paging.list_all(spec, lambda params: self._json("GET", spec.path, params=params))

    def get(self, kind: str, id: str) -> dict[str, Any]:
        """One item by id (404 → :class:`ApiError`)."""
        return self._object("GET", _item_path(KINDS[kind], id))

    def create(self, kind: str, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]:
        """POST a new item; returns Vapi's answer (with its ``id``).

        Retried only when the server certainly did not act (429, no connection).  A lost answer or a
        5xx raises :class:`AmbiguousWriteError` — unless ``retry_unsafe``, for writes where a
        duplicate is harmless, which are then retried like a GET.
        """
        return self._object("POST", KINDS[kind].path, body=payload, idempotent=retry_unsafe)

    def update(self, kind: str, id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """PATCH an item.  Drops the kind's ``patch_drop`` keys (tool/structured-output/eval ``type``).

        PATCH replaces each top-level field sent, whole (no deep merge), and ``null`` unsets it.
        A squad PATCH must carry the full ``members`` (UpdateSquadDTO requires it): a payload without
        every ``patch_always`` key is refused with :class:`ValueError` before anything is sent.
        """
        spec = KINDS[kind]
        missing = sorted(k for k in spec.patch_always if payload.get(k) is None)
        if missing:
            raise ValueError(
                f"PATCH {spec.path}/{id}: a {kind} update must carry the full {', '.join(missing)} "
                "(Vapi replaces the whole list and requires it)"
            )
        body = {k: v for k, v in payload.items() if k not in spec.patch_drop}
        return self._object("PATCH", _item_path(spec, id), body=body)

    def delete(self, kind: str, id: str) -> dict[str, Any]:
        """DELETE an item; returns the deleted object.  A pinned item answers 409 (:class:`ApiError`)."""
        return self._object("DELETE", _item_path(KINDS[kind], id))

    # --- files and knowledge-base attachments ------------------------------------------------------

    def upload_file(
        self,
        name: str,
        content: bytes,
        purpose: str = "knowledge-base-v2",
        *,
        metadata: dict[str, Any] | None = None,
        mimetype: str | None = None,
    ) -> dict[str, Any]:
        """POST /file as multipart/form-data (``file``, ``purpose``, ``metadata`` as a JSON string,
        CreateFileDTO: at most 4096 characters).  A create: not retried once sent (a lost answer
        raises :class:`AmbiguousWriteError`; re-list and look for the metadata before uploading again)."""
        files = {"file": (name, content, mimetype or _mimetype(name))}
        data = {"purpose": purpose}
        if metadata is not None:
            text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
            if len(text) > 4096:
                raise ValueError(f"POST /file: metadata is {len(text)} characters, Vapi takes at most 4096")
            data["metadata"] = text
        return self._object("POST", "/file", files=files, data=data)

    def get_file(self, id: str) -> dict[str, Any]:
        """GET /file/{id}: ``status`` processing | done | failed."""
        return self._object("GET", f"/file/{quote(id, safe='')}")

    def delete_file(self, id: str) -> dict[str, Any]:
        """DELETE /file/{id} (the deleted file)."""
        return self._object("DELETE", f"/file/{quote(id, safe='')}")

    def download_file(self, file: dict[str, Any], *, limit: int) -> bytes | None:
        """The bytes of an uploaded file from its ``url``, or ``None`` when it cannot be read (no url,
        an error, more than ``limit`` bytes).  The API key is sent only to the API's own origin: a
        storage URL elsewhere is fetched without it."""
        url = file.get("url")
        if not isinstance(url, str) or not url:
            return None
        own = url.startswith("/") or url.startswith(self.base_url + "/")
        if not own and not url.startswith("https://"):
            return None
        request = self._http.build_request("GET", url.removeprefix(self.base_url) if own else url)
        if not own:
            request.headers.pop("Authorization", None)
        storage = None if own or not self._plain else httpx.Client(timeout=self._timeout)  # verifies TLS
        chunks: list[bytes] = []
        try:
            with self.limiter.slot():
                response = (storage or self._http).send(request, stream=True)
                try:
                    if response.status_code != 200:
                        return None
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:  # read no further than the cap: a document is at most `limit` bytes
                            return None
                        chunks.append(chunk)
                finally:
                    response.close()
        except httpx.HTTPError:
            return None
        finally:
            if storage is not None:
                storage.close()
        return b"".join(chunks)

    def files(self, purpose: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every uploaded file (optionally of one ``purpose``), all pages."""

        def fetch(params: paging.Params) -> Any:
            return self._json("GET", "/file", params={**params, **({"purpose": purpose} if purpose else {})})

        return paging.list_bare("/file", fetch)

    def kb_files(self, kb_id: str) -> builtins.list[dict[str, Any]]:
        """The files attached to knowledge base ``kb_id`` (GET /v2/knowledge-base/{id}/file)."""
        result = self._json("GET", f"{_kb_path(kb_id)}/file")
        if not isinstance(result, list):
            raise ApiError("GET", f"{_kb_path(kb_id)}/file", 200, f"expected a JSON array, got {type(result).__name__}")
        return result

    def attach_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]:
        """Attach an uploaded file to a knowledge base.

        After a lost answer the attachments are re-read: a file found attached is the result,
        otherwise the attach is sent again (once).
        """
        path = f"{_kb_path(kb_id)}/file"
        try:
            return self._object("POST", path, body={"fileId": file_id})
        except AmbiguousWriteError:
            for attachment in self.kb_files(kb_id):
                if attachment.get("fileId") == file_id:
                    return attachment
            return self._object("POST", path, body={"fileId": file_id})

    def detach_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]:
        """Detach a file from a knowledge base (the file itself stays)."""
        return self._object("DELETE", f"{_kb_path(kb_id)}/file/{quote(file_id, safe='')}")

    def retry_kb_file(self, kb_id: str, file_id: str) -> dict[str, Any]:
        """POST /v2/knowledge-base/{id}/file/{fileId}/retry: index a failed attachment again."""
        return self._object("POST", f"{_kb_path(kb_id)}/file/{quote(file_id, safe='')}/retry", idempotent=True)

    # --- behavioural tests ---------------------------------------------------------------------------

    def chat(self, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]:
        """POST /chat (one turn against an assistant or squad); see :meth:`create` for retries."""
        return self._object("POST", "/chat", body=payload, idempotent=retry_unsafe)

    def run_eval(self, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]:
        """POST /eval/run (``{type: "eval", evalId, target}``); poll :meth:`get_eval_run` until ended."""
        return self._object("POST", "/eval/run", body=payload, idempotent=retry_unsafe)

    def get_eval_run(self, id: str) -> dict[str, Any]:
        """GET /eval/run/{id}: ``status`` queued | running | ended, ``results[].status`` pass | fail."""
        return self._object("GET", f"/eval/run/{quote(id, safe='')}")

    def wait_eval_run(self, id: str, *, poll: float = 2.0, timeout: float = 300.0) -> dict[str, Any]:
        """Poll an eval run until its ``status`` is ``ended`` (sleeping with the retry policy's sleep)."""
        waited = 0.0
        while True:
            run = self.get_eval_run(id)
            if run.get("status") == "ended" or waited >= timeout:
                return run
            self.retry.sleep(poll)
            waited += poll

    # --- concurrency ---------------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> builtins.list[R]:
        """``[fn(item) for item in items]``, run concurrently; results in input order.

        Every item runs to its end (none is abandoned half-way).  If any raised, the first
        exception in input order is raised afterwards; use :meth:`map_results` to get each
        item's outcome instead.  HTTP requests made by ``fn`` stay within :attr:`limiter`.
        """
        return [r.unwrap() for r in self.map_results(fn, items)]

    def map_results(self, fn: Callable[[T], R], items: Iterable[T]) -> builtins.list[MapResult[R]]:
        """Like :meth:`map`, but each item's outcome (value or exception) is returned, never raised."""
        todo = builtins.list(items)

        def run(item: T) -> MapResult[R]:
            try:
                return MapResult(value=fn(item))
            except Exception as exc:  # captured per item; the caller decides (see map())
                return MapResult(error=exc)

        if len(todo) <= 1 or self.max_concurrency == 1:
            return [run(item) for item in todo]
        # Workers see the caller's context variables (the engine's current operation, for the
        # apply log): one copy per item, taken here, since a context cannot be entered twice at once.
        jobs = [(contextvars.copy_context(), item) for item in todo]
        # A pool per call: nested map() calls cannot starve each other of workers.
        with ThreadPoolExecutor(max_workers=min(len(todo), self.max_concurrency)) as pool:
            return builtins.list(pool.map(lambda job: job[0].run(run, job[1]), jobs))

    # --- the request loop ----------------------------------------------------------------------------

    def _object(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: paging.Params | None = None,
        files: Any = None,
        data: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        result = self._json(method, path, body=body, params=params, files=files, data=data, idempotent=idempotent)
        if isinstance(result, dict):
            return result
        if result is None and method == "DELETE":
            return {}
        raise ApiError(method, path, 200, f"expected a JSON object, got {type(result).__name__}")

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: paging.Params | None = None,
        files: Any = None,
        data: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send with retries; the decoded JSON answer.  See the module docstring for the rules."""
        if idempotent is None:
            idempotent = method != "POST"
        target = path + ("?" + urlencode(params) if params else "")
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() if body is not None else None
        if files is None:
            request = self._request(method, target, content)
            request_body = content
        else:
            request = self._http.build_request(method, path, params=params, files=files, data=data)
            request_body = request.read()  # multipart: the bytes sent (and now re-sendable)
        maybe_acted = False  # an earlier attempt may have reached the server and done the write
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= policy.max_attempts
            answer, failure = self._send(request, target, request_body, attempt)
            if failure is not None:
                not_sent = isinstance(failure, _NOT_SENT)
                if not idempotent and not not_sent:
                    raise AmbiguousWriteError(method, target, _describe(failure)) from failure
                maybe_acted = maybe_acted or not not_sent
                if last:
                    raise TransportError(
                        method,
                        target,
                        f"{_describe(failure)} (gave up after {attempt} attempts)",
                        hint="check the env's api.url and the network; Vapi did not answer",
                    ) from failure
                delay = policy.delay(attempt, None)
                log.info("%s %s: %s; retry %d in %.2fs", method, target, _describe(failure), attempt + 1, delay)
                policy.sleep(delay)
                continue
            assert answer is not None
            status = answer.status
            if status < 400:
                return parse_body(answer.content)
            if status == 404 and method == "DELETE" and maybe_acted:
                # An earlier attempt deleted it and its answer was lost: the goal is reached.
                log.info("%s %s: 404 after an unanswered attempt; counted as deleted", method, target)
                return {"id": path.rsplit("/", 1)[-1]}
            retryable = is_retryable_status(status)
            if retryable and not idempotent and status != 429:
                # A 5xx (or 408) to a create: it may have been written before the server failed.
                error = api_error(method, target, status, answer.content)
                raise AmbiguousWriteError(method, target, f"{status}: {error.api_message}", status=status)
            if not retryable or last:
                retry_after = parse_retry_after(answer.headers) if status == 429 else None
                note = f" (gave up after {attempt} attempts)" if retryable else ""
                raise api_error(method, target, status, answer.content, retry_after=retry_after, note=note)
            maybe_acted = maybe_acted or status != 429
            delay = policy.delay(attempt, parse_retry_after(answer.headers))
            log.info("%s %s → %d; retry %d in %.2fs", method, target, status, attempt + 1, delay)
            policy.sleep(delay)

    def _request(self, method: str, target: str, content: bytes | None) -> httpx.Request:
        """The request ``self._http.build_request(method, path, params=…, content=…)`` builds, made
        once per call (its attempts send it again: its body is bytes) and for less: one URL parse
        instead of a merge with the base URL, the client's headers copied as they are, no cookies
        (see :meth:`_exchange`)."""
        return httpx.Request(
            method,
            self.base_url + target,
            headers=self._headers_with_body if content is not None else self._http.headers,
            content=content,
            extensions=self._extensions,
        )

    @functools.cached_property
    def _headers_with_body(self) -> httpx.Headers:
        headers = self._http.headers.copy()
        headers["Content-Type"] = "application/json"
        return headers

    @functools.cached_property
    def _extensions(self) -> dict[str, Any]:
        return {"timeout": self._http.timeout.as_dict()}

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the answer.

        With one transport for every URL (an injected one, or the client's own connections: no
        proxy), the request goes straight to it: :meth:`httpx.Client.send` would only add a cookie
        jar fed from every answer (the API authenticates by bearer token; a cookie it sets is not
        sent back), event hooks and redirects (none here) and a log line.  Through a proxy, httpx
        routes it.
        """
        if self._transport is None:
            return self._http.send(request)
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        response = self._transport.handle_request(request)
        try:
            response.read()
        except BaseException:
            response.close()
            raise
        return response

    def _send(
        self, request: httpx.Request, target: str, request_body: bytes | None, attempt: int
    ) -> tuple[_Answer | None, httpx.TransportError | None]:
        """One attempt within a limiter slot; reports it to ``on_request``."""
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        t0 = time.perf_counter()
        answer: _Answer | None = None
        failure: httpx.TransportError | None = None
        with self.limiter.slot() as slot:
            try:
                response = self._exchange(request)
                answer = _Answer(response.status_code, response.content, response.headers)
            except httpx.TransportError as exc:
                failure = exc
            finally:
                with self._calls_lock:
                    self._calls += 1
            if answer is not None and answer.status == 429:
                self.limiter.throttled(slot)
            elif answer is not None and answer.status < 400:
                self.limiter.succeeded(slot)
        if self.on_request is not None:
            self.on_request(
                RequestRecord(
                    method=request.method,
                    path=target,
                    status=answer.status if answer is not None else None,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    request_body=request_body,
                    response_body=answer.content if answer is not None else None,
                    attempt=attempt,
                    error=_describe(failure) if failure is not None else None,
                    started_at=started_at,
                )
            )
        return answer, failure


def _own_transport(*, verify: bool) -> httpx.BaseTransport | None:
    """The client's connections (:mod:`ci_deployer.platform.connections`), unless a proxy is
    configured (``HTTPS_PROXY``, ``ALL_PROXY``, …, read as httpx reads them): httpx routes to the
    proxy only with its own transports (``None`` leaves them to it)."""
    if getproxies():
        return None
    return LentConnections(verify=verify)


def _item_path(kind: Kind, id: str) -> str:
    if not id:
        raise ValueError(f"{kind.name}: an empty id cannot be addressed")
    return f"{kind.path}/{quote(str(id), safe='')}"


def _kb_path(kb_id: str) -> str:
    return f"{KINDS['KnowledgeBase'].path}/{quote(kb_id, safe='')}"


def _describe(exc: BaseException) -> str:
    """An httpx error in words (httpx messages hold no headers; redacted all the same)."""
    text = str(exc) or type(exc).__name__
    return redact.redact(f"{type(exc).__name__}: {text}")


def _mimetype(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"
