"""Listing every item of a kind, whatever its list shape.  Never stops silently at a page size.

Vapi lists come in two shapes (Vapi OpenAPI spec, 2026-08):

- **Bare arrays** (``/assistant``, ``/squad``, ``/tool``, ``/phone-number``, ``/v2/knowledge-base``,
  ``/file``): ``limit`` (max 1000, *default 100*) and ``createdAt{Gt,Lt,Ge,Le}`` filters, no page, no
  cursor, no total.  VapiAI/gitops calls them without ``limit`` and so sees only 100 items.  We ask
  for ``limit=1000`` and, while a page comes back full, ask again for the items created no later than
  the millisecond of the oldest item seen (Vapi answers newest first; an oldest-first answer is
  detected and paged forward with ``createdAtGe`` instead).
- **Paginated** (``/structured-output``, ``/eval``, …): ``{results, metadata}`` with ``page`` (from 1)
  and ``limit`` (max 1000); we follow ``metadata.hasNextPage`` (else ``totalPages``, else a short
  page), which makes exactly ⌈n/1000⌉ requests (one for n = 0).

**Equal timestamps.**  A plain ``createdAtLt=<oldest createdAt seen>`` skips every item created in
the same millisecond as the page's oldest item but left off the page — and a page alone cannot tell
whether such siblings exist (a bulk import or parallel creates make them).  So the cursor is
*inclusive*: ``createdAtLt=<oldest + 1 ms>``, which re-reads that millisecond, and repeats are dropped
by id.  (``+1 ms`` rather than ``createdAtLe=<oldest>``: answers show milliseconds, and should the
server store finer times, ``Le`` would still drop the rest of that millisecond.)  The cost is the
few re-read items per page: a bare-array list takes ⌈n/999⌉ requests when one item shares the
boundary millisecond, i.e. ⌈n/1000⌉ except when n is a multiple of 1000 (a full last page cannot be
told from a full middle page without a total, so one more request is unavoidable) or lies just below
one (n = 1999: 3 requests).  A full page of items all from one millisecond cannot be paged at all:
that raises :class:`ListingIncomplete` rather than return a partial list.

Items created or deleted while a paginated list is read may shift pages: repeats are dropped by id;
an item deleted meanwhile can hide one other item (the engine lists before it writes, not during).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ci_deployer.errors import DeployerError
from ci_deployer.platform.kinds import Kind

PAGE_LIMIT = 1000  # Vapi: `limit` maximum 1000 on every list endpoint

Params = dict[str, str | int]
Fetch = Callable[[Params], Any]


class ListingIncomplete(DeployerError):
    """A list could not be read completely (the answers stopped making progress)."""

    failure_reason = "api-error"


def list_all(kind: Kind, fetch: Fetch, *, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    """Every item of ``kind``; ``fetch(params)`` GETs the kind's collection and returns decoded JSON."""
    if kind.list_shape == "paginated":
        return list_pages(kind.path, fetch, limit=limit)
    return list_bare(kind.path, fetch, limit=limit)


def list_pages(path: str, fetch: Fetch, *, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    """All items of a ``{results, metadata}`` list, following ``page`` until the last one."""
    seen: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        data = fetch({"limit": limit, "page": page})
        meta: Any
        if isinstance(data, list):  # tolerate a bare array where a page was expected
            results, meta = data, {}
        elif isinstance(data, dict) and isinstance(data.get("results"), list):
            results, meta = data["results"], data.get("metadata") or {}
        else:
            raise ListingIncomplete(
                f"GET {path}?page={page}: expected {{results, metadata}}, got {type(data).__name__}",
                hint="the API URL may not point at Vapi; check the env's api.url",
            )
        fresh = _add(seen, results, path)
        if not results:
            return list(seen.values())
        has_next = meta.get("hasNextPage") if isinstance(meta, dict) else None
        if has_next is None:
            total_pages = meta.get("totalPages") if isinstance(meta, dict) else None
            has_next = page < total_pages if isinstance(total_pages, int) else len(results) >= limit
        if not has_next:
            return list(seen.values())
        if not fresh:
            raise ListingIncomplete(
                f"GET {path}: page {page} repeated earlier items and the list claims more pages",
                hint="the API does not page as Vapi does; report this with the apply log",
            )
        page += 1


def list_bare(path: str, fetch: Fetch, *, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    """All items of a bare-array list, paged by ``createdAt`` (see the module docstring)."""
    seen: dict[str, dict[str, Any]] = {}
    params: Params = {"limit": limit}
    while True:
        batch = fetch(params)
        if not isinstance(batch, list):
            raise ListingIncomplete(
                f"GET {path}: expected a JSON array, got {type(batch).__name__}",
                hint="the API URL may not point at Vapi; check the env's api.url",
            )
        fresh = _add(seen, batch, path)
        if len(batch) < limit:
            return list(seen.values())
        if not fresh:
            raise ListingIncomplete(
                f"GET {path}: a full page of {len(batch)} items repeated items already seen: more items share "
                f"one creation millisecond than a page of {limit} holds, so the rest cannot be listed by createdAt",
                hint="Vapi's bare-array lists have no other cursor; report this to Vapi support",
            )
        params = next_cursor(path, batch, limit)


def next_cursor(path: str, batch: list[dict[str, Any]], limit: int) -> Params:
    """The query for the page after the full page ``batch`` (newest-first or oldest-first).

    Inclusive of the boundary millisecond (see the module docstring), so its siblings are not lost.
    """
    stamps = [_created(path, item) for item in batch]
    if stamps[0] < stamps[-1]:  # oldest first: continue forward from the newest seen
        return {"limit": limit, "createdAtGe": _iso(max(stamps))}
    return {"limit": limit, "createdAtLt": _iso(min(stamps) + timedelta(milliseconds=1))}


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # Vapi's timestamps are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _created(path: str, item: dict[str, Any]) -> datetime:
    value = item.get("createdAt")
    try:
        moment = datetime.fromisoformat(str(value))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except ValueError:
        raise ListingIncomplete(
            f"GET {path}: item {item.get('id')!r} has no readable createdAt ({value!r}), so the list "
            "cannot be paged past 1000 items",
            hint="the API URL may not point at Vapi; check the env's api.url",
        ) from None


def _add(seen: dict[str, dict[str, Any]], items: list[Any], path: str) -> int:
    """Add new items by id; returns how many were new."""
    fresh = 0
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            raise ListingIncomplete(f"GET {path}: list item without an id: {str(item)[:80]}")
        key = str(item["id"])
        if key not in seen:
            seen[key] = item
            fresh += 1
    return fresh
