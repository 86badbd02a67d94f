"""What every secret store shares: the reference syntax, the interface, HTTP with retries.

Reference syntax (the part after ``secrets://``; placeholders use ``[A-Za-z0-9_./#-]`` only, so a
reference can never name another account, project or server — those come from the env's block)::

    vault/PATH#KEY        PATH: segments of [A-Za-z0-9_.-] (no '.' or '..'), KEY required
    aws/NAME[#KEY]        NAME: a Secrets Manager name ([A-Za-z0-9_./-]); KEY: a JSON key of its string
    gcp/NAME[#VERSION]    NAME: a secret id ([A-Za-z0-9_-]); VERSION: a number or ``latest`` (default)
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ci_deployer.errors import SecretStoreError

if TYPE_CHECKING:
    import httpx

STORES = ("vault", "aws", "gcp")

_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"
_SYNTAX: dict[str, tuple[re.Pattern[str], str]] = {
    "vault": (
        re.compile(rf"^(?P<name>{_SEGMENT}(?:/{_SEGMENT})*)#(?P<key>[A-Za-z0-9_.-]+)$"),
        "secrets://vault/PATH#KEY (the KV v2 path below the env's mount, then the key), e.g. "
        "secrets://vault/orders/api#token",
    ),
    "aws": (
        re.compile(rf"^(?P<name>{_SEGMENT}(?:/{_SEGMENT})*)(?:#(?P<key>[A-Za-z0-9_.-]+))?$"),
        "secrets://aws/NAME or secrets://aws/NAME#KEY (a key of the secret's JSON), e.g. secrets://aws/orders/api#token",
    ),
    "gcp": (
        re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,255})(?:#(?P<key>latest|[1-9][0-9]*))?$"),
        "secrets://gcp/NAME or secrets://gcp/NAME#VERSION (a version number; latest by default), e.g. "
        "secrets://gcp/orders-api-token#3",
    ),
}
# What the hint says an env's block needs, per store.
BLOCK_EXAMPLE = {
    "vault": "secrets: {vault: {address: https://vault.acme.example:8200, auth: {method: jwt, role: ci-deployer}}}",
    "aws": "secrets: {aws: {region: us-east-1, roleArn: arn:aws:iam::123456789012:role/ci-deployer}}",
    "gcp": "secrets: {gcp: {project: acme-prod}}",
}
EXTRA_PACKAGES = {"vault": "none beyond ci-deployer", "aws": "boto3", "gcp": "google-auth"}


@dataclass(frozen=True)
class StoreRef:
    """A parsed ``secrets://vault|aws|gcp/…`` reference."""

    store: str  # vault | aws | gcp
    name: str  # vault: the KV path; aws: the secret's name; gcp: the secret id
    key: str | None  # vault: the key (always); aws: a JSON key or None; gcp: the version or None
    ref: str  # as written after secrets://


def store_of(ref: str) -> str | None:
    """``"vault"``, ``"aws"`` or ``"gcp"`` for a store reference, else None (a variable or a file)."""
    prefix, slash, _ = ref.partition("/")
    return prefix if slash and prefix in STORES else None


def ref_problem(ref: str) -> str | None:
    """Why a store reference is malformed (what a good one looks like), or None."""
    store = store_of(ref)
    if store is None:
        return None
    pattern, expected = _SYNTAX[store]
    rest = ref.partition("/")[2]
    match = pattern.fullmatch(rest)
    if match is None or any(part in (".", "..") for part in match["name"].split("/")):
        return expected
    return None


def parse_ref(ref: str) -> StoreRef | None:
    """The parsed reference, or None when ``ref`` is not a well-formed store reference."""
    store = store_of(ref)
    if store is None or ref_problem(ref) is not None:
        return None
    match = _SYNTAX[store][0].fullmatch(ref.partition("/")[2])
    assert match is not None
    return StoreRef(store, match["name"], match["key"], ref)


class SecretStore(Protocol):
    """One configured secret manager of one env."""

    def available(self) -> bool:
        """Whether this run has an identity for the store (no request is made)."""
        ...

    def fetch(self, ref: StoreRef) -> str | None:
        """The value, or None when the secret does not exist or no identity is available here.
        Raises :class:`SecretStoreError` when the store refuses or fails."""
        ...


def as_text(value: Any) -> str:
    """A secret value as the text sent to Vapi: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


# -- HTTP --------------------------------------------------------------------------------------------

TIMEOUT = 15.0  # seconds per request; a secret read is small
ATTEMPTS = 5
RETRY_STATUSES = frozenset({429, 502, 503, 504})  # throttled, or a standby/sealed/overloaded server
MAX_WAIT = 20.0  # cap on one wait, Retry-After included


def backoff(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): Retry-After when given, else exponential
    with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    if retry_after:
        try:
            return min(MAX_WAIT, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return random.uniform(0, min(MAX_WAIT, 0.5 * 2**attempt))


def send(
    client: httpx.Client,
    method: str,
    url: str,
    failed: Callable[[str], SecretStoreError],
    *,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """One request, retried on throttling and lost connections; ``failed(reason)`` builds the error
    raised when no answer came (the reason names the URL's path, never a header or body)."""
    import httpx

    path = httpx.URL(url).path
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            if attempt == ATTEMPTS:
                raise failed(f"{method} {path}: no answer ({type(exc).__name__})") from None
            sleep(backoff(attempt))
            continue
        if response.status_code in RETRY_STATUSES and attempt < ATTEMPTS:
            sleep(backoff(attempt, response.headers.get("retry-after")))
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def error_text(response: httpx.Response, limit: int = 300) -> str:
    """The store's own error message from a JSON error body (Vault ``errors``, Google ``error.message``)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    message: Any = None
    if isinstance(body, dict):
        message = body.get("errors") or body.get("error")
        if isinstance(message, dict):
            message = message.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
    text = str(message) if message else ""
    return f"HTTP {response.status_code}" + (f": {text[:limit]}" if text else "")
