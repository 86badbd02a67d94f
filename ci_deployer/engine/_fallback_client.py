"""A minimal Vapi client used only while :mod:`ci_deployer.platform.client` is not available.

Same surface as ``VapiClient`` as far as the engine uses it: ``list`` (``limit=1000``, paged with
``createdAtLt`` for bare arrays, ``page`` for paginated kinds), ``create``, ``update`` (drops the
kind's ``patch_drop`` keys), ``delete``, ``map`` (bounded concurrency that halves on 429 and grows
back by one per success), retries on 429/5xx honouring ``Retry-After``, and an ``on_request``
hook receiving one record per HTTP attempt.  A POST whose answer is lost raises
:class:`~ci_deployer.errors.TransportError` without retrying (the caller looks before retrying).
"""

from __future__ import annotations

import builtins
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from ci_deployer.errors import ApiError, TransportError
from ci_deployer.platform.kinds import KINDS


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    duration_ms: float
    request_body: bytes | None
    response_body: bytes | None
    attempt: int
    error: str | None
    started_at: float


class _Limiter:
    """AIMD: halve the allowed concurrency on 429, add one per success (up to ``ceiling``)."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.active = 0
        self._cond = threading.Condition()

    def __enter__(self) -> None:
        with self._cond:
            while self.active >= max(1, int(self.limit)):
                self._cond.wait()
            self.active += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self.limit = max(1.0, self.limit / 2)

    def succeeded(self) -> None:
        with self._cond:
            self.limit = min(float(self.ceiling), self.limit + 1 / max(1.0, self.limit))
            self._cond.notify_all()


class FallbackClient:
    """See the module docstring."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_concurrency: int = 16,
        retries: int = 6,
        on_request: Callable[[Any], None] | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=max_concurrency * 2, max_keepalive_connections=max_concurrency * 2)
        self._http = httpx.Client(
            base_url=base_url, headers=headers, transport=transport, timeout=timeout, limits=limits
        )
        self._limiter = _Limiter(max_concurrency)
        self.max_concurrency = max_concurrency
        self.retries = retries
        self.on_request = on_request
        self.calls = 0
        self._calls_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.retries + 2):
            started = time.time()
            t0 = time.perf_counter()
            status, text, error, retry_after = 0, b"", None, None
            with self._limiter:
                try:
                    response = self._http.request(
                        method,
                        path,
                        content=data,
                        params=params,
                        headers={"Content-Type": "application/json"} if data is not None else None,
                    )
                    status, text = response.status_code, response.content
                    header = response.headers.get("Retry-After")
                    retry_after = float(header) if header else None
                except httpx.TransportError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            with self._calls_lock:
                self.calls += 1
            if self.on_request is not None:
                self.on_request(
                    RequestRecord(
                        method, path, status, (time.perf_counter() - t0) * 1000, data, text, attempt, error, started
                    )
                )
            if error is not None:
                # A lost POST may have created the resource: never blind-retry it (the caller checks).
                if method == "POST" or attempt > self.retries:
                    raise TransportError(method, path, error)
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())
                continue
            if status == 429 or status >= 500:
                if status == 429:
                    self._limiter.throttled()
                if attempt > self.retries:
                    break
                time.sleep(retry_after if retry_after is not None else min(2.0, 0.05 * 2**attempt) * random.random())
                continue
            if status >= 400:
                payload = _json(text)
                message = payload.get("message") if isinstance(payload, dict) else text.decode("utf-8", "replace")
                if isinstance(message, list):
                    message = "; ".join(str(m) for m in message)
                raise ApiError(method, path, status, str(message), body=payload)
            self._limiter.succeeded()
            return _json(text)
        payload = _json(text)
        message = payload.get("message") if isinstance(payload, dict) else ""
        raise ApiError(method, path, status, f"{message} (after {self.retries} retries)", body=payload)

    def list(self, kind: str) -> builtins.list[dict[str, Any]]:
        spec = KINDS[kind]
        out: builtins.list[dict[str, Any]] = []
        if spec.list_shape == "paginated":
            page = 1
            while True:
                data = self._request("GET", spec.path, params={"limit": 1000, "page": page})
                out.extend(data.get("results") or [])
                if not (data.get("metadata") or {}).get("hasNextPage"):
                    return out
                page += 1
        params: dict[str, Any] = {"limit": 1000}
        while True:
            batch = self._request("GET", spec.path, params=params)
            out.extend(batch)
            if len(batch) < 1000:
                return out
            params = {"limit": 1000, "createdAtLt": min(str(o["createdAt"]) for o in batch)}

    def create(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", KINDS[kind].path, payload)
        return result

    def update(self, kind: str, resource_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        spec = KINDS[kind]
        body = {k: v for k, v in payload.items() if k not in spec.patch_drop}
        result: dict[str, Any] = self._request("PATCH", f"{spec.path}/{resource_id}", body)
        return result

    def delete(self, kind: str, resource_id: str) -> Any:
        return self._request("DELETE", f"{KINDS[kind].path}/{resource_id}")

    def map(self, fn: Callable[[Any], Any], items: builtins.list[Any]) -> builtins.list[Any]:
        if not items:
            return []
        if len(items) == 1:
            return [fn(items[0])]
        with ThreadPoolExecutor(max_workers=min(len(items), self.max_concurrency)) as pool:
            return builtins.list(pool.map(fn, items))


def _json(text: bytes) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
