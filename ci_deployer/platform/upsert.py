"""Create without duplicates when the answer to a create is lost.

Vapi has no idempotency keys, and names are not unique server-side.  When a POST's answer is lost
(or a 5xx comes back) the resource may or may not exist.  Retrying blindly makes a second copy;
giving up leaves an unmanaged copy behind.  :func:`create_or_adopt` re-lists the kind instead and
adopts the item the caller's matcher accepts (label, name, or — for nameless kinds such as
``endCall`` tools — the payload itself, :func:`matches_payload`); only when nothing matches does it
create again, a bounded number of times.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from typing import Any, Protocol

from ci_deployer.platform.client import AmbiguousWriteError, strip_server_fields

Matcher = Callable[[dict[str, Any]], bool]


class CreatingClient(Protocol):
    """What :func:`create_or_adopt` needs (``VapiClient`` has it)."""

    def list(self, kind: str) -> list[dict[str, Any]]: ...

    def create(self, kind: str, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]: ...


def create_or_adopt(
    client: CreatingClient,
    kind: str,
    payload: dict[str, Any],
    match: Matcher | None = None,
    *,
    attempts: int = 3,
    exclude: Collection[str] | Callable[[], Collection[str]] = (),
) -> tuple[dict[str, Any], bool]:
    """Create ``payload`` as a ``kind``; returns ``(resource, adopted)``.

    On :class:`AmbiguousWriteError` the kind is listed again and the newest item that ``match``
    accepts (default :func:`matches_payload`) and whose id is not in ``exclude`` (ids the caller
    already owns) is adopted: ``adopted`` is then True.  Nothing found → create again, at most
    ``attempts`` creates in all; the last error is raised when every one was ambiguous.
    ``exclude`` may be a function giving those ids: it is called only after a lost answer (an apply
    owns thousands of ids; collecting them for every create made its creates quadratic).
    """
    matcher = match if match is not None else matches_payload(kind, payload)
    last: AmbiguousWriteError | None = None
    for _ in range(max(1, attempts)):
        try:
            return client.create(kind, payload), False
        except AmbiguousWriteError as exc:
            last = exc
        owned = exclude() if callable(exclude) else exclude
        found = [item for item in client.list(kind) if str(item.get("id")) not in owned and matcher(item)]
        if found:
            # The create we just made is the newest of its matches (Vapi: createdAt is set on create).
            return max(found, key=lambda item: str(item.get("createdAt") or "")), True
    assert last is not None
    raise last


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_fingerprint(kind: str, payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``payload`` without the kind's server-managed fields."""
    return hashlib.sha256(canonical_json(strip_server_fields(kind, payload)).encode()).hexdigest()


def matches_payload(kind: str, payload: dict[str, Any]) -> Matcher:
    """A matcher accepting a listed item that holds what ``payload`` sent, key by key.

    Only the keys sent are compared (server fields stripped first), and recursively so: the server
    may add fields and defaults the payload never had, inside objects too, without spoiling the
    match.  Lists must have the same length, item by item.
    """
    want = strip_server_fields(kind, payload)

    def match(item: dict[str, Any]) -> bool:
        return _holds(item, want)

    return match


def _holds(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        # A key sent as null unsets the field (Vapi PATCH/POST), so the item must not have it.
        return all(actual.get(k) is None if v is None else _holds(actual.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(_holds(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    if isinstance(wanted, (int, float)) and isinstance(actual, (int, float)):
        return float(actual) == float(wanted)
    return bool(actual == wanted)
