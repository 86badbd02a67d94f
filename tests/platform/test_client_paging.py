"""Lists see every item: the emulator over HTTP for real sizes, a fake server for protocol edges."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ci_deployer.emulator import Emulator
from ci_deployer.platform.client import VapiClient
from ci_deployer.platform.paging import ListingIncomplete

ARRAY_KINDS = ["Assistant", "Tool", "Squad", "KnowledgeBase", "PhoneNumber"]


def _items(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "StructuredOutput":
        return [{"name": f"so-{i}", "schema": {"type": "object"}} for i in range(n)]
    if kind == "Eval":
        return [{"name": f"ev-{i}", "type": "chat.mockConversation", "messages": []} for i in range(n)]
    return [{"name": f"a-{i}"} for i in range(n)]


def _list_queries(emulator: Emulator, path: str) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in emulator.request_log if r.method == "GET" and r.path == path]


def test_2500_assistants_are_all_listed_in_three_calls(emulator: Emulator, client: VapiClient) -> None:
    seeded = emulator.seed("acme", "Assistant", _items("Assistant", 2500))

    listed = client.list("Assistant")

    assert len(listed) == 2500
    assert {a["id"] for a in listed} == {a["id"] for a in seeded}
    assert client.calls == 3
    queries = _list_queries(emulator, "/assistant")
    assert all(q["limit"] == ["1000"] for q in queries)  # never the default 100
    assert "createdAtLt" not in queries[0]
    assert all("createdAtLt" in q for q in queries[1:])
    listed_ids = [a["id"] for a in listed]
    assert len(set(listed_ids)) == len(listed_ids)  # the re-read boundary items are not repeated


@pytest.mark.parametrize(
    ("n", "calls"), [(0, 1), (1, 1), (999, 1), (1000, 2), (1001, 2), (1998, 2), (1999, 3), (2500, 3), (3000, 4)]
)
def test_bare_array_calls(emulator: Emulator, client: VapiClient, n: int, calls: int) -> None:
    emulator.seed("acme", "Squad", _items("Squad", n))

    assert len(client.list("Squad")) == n
    # ⌈n/1000⌉, plus one when a full last page cannot be told from a full middle page (n = 1000,
    # 3000) or when the one re-read boundary item per page pushes a page over (n = 1999).
    assert client.calls == calls


@pytest.mark.parametrize(("n", "calls"), [(0, 1), (1000, 1), (1001, 2), (2500, 3)])
def test_paginated_kinds_follow_has_next_page(emulator: Emulator, client: VapiClient, n: int, calls: int) -> None:
    seeded = emulator.seed("acme", "StructuredOutput", _items("StructuredOutput", n))

    listed = client.list("StructuredOutput")

    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in seeded)
    assert client.calls == calls
    assert [q["page"] for q in _list_queries(emulator, "/structured-output")] == [[str(p)] for p in range(1, calls + 1)]


@pytest.mark.parametrize("kind", [*ARRAY_KINDS, "StructuredOutput", "Eval"])
def test_every_kind_lists_past_the_default_page_size(emulator: Emulator, client: VapiClient, kind: str) -> None:
    if kind == "PhoneNumber":
        items = [
            {"provider": "byo-phone-number", "number": f"+1555{i:07d}", "credentialId": "cred"} for i in range(150)
        ]
    else:
        items = _items(kind, 150)
    emulator.seed("acme", kind, items)

    listed = client.list(kind)

    # A knowledge base's generated search tool is a Tool, so only the kind itself is counted.
    assert len(listed) == 150
    assert client.calls == 1


# --- protocol edges the emulator cannot produce (its clock never repeats a millisecond) -----------


def _fake_vapi(
    items: list[dict[str, Any]], *, ascending: bool = False, ignore_cursor: bool = False
) -> tuple[httpx.MockTransport, list[str]]:
    """A fake bare-array list server honouring limit and the createdAt filters (ties allowed)."""
    seen_queries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_queries.append(request.url.query.decode())
        params = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        limit = int(params.get("limit", "100"))
        rows = sorted(items, key=lambda i: i["createdAt"], reverse=not ascending)
        rows = [{**r, "at": datetime.fromisoformat(r["createdAt"])} for r in rows]
        if not ignore_cursor:
            tests: dict[str, Callable[[datetime, datetime], bool]] = {
                "Lt": lambda a, b: a < b,
                "Le": lambda a, b: a <= b,
                "Gt": lambda a, b: a > b,
                "Ge": lambda a, b: a >= b,
            }
            for op, test in tests.items():
                bound = params.get(f"createdAt{op}")
                if bound is not None:
                    rows = [r for r in rows if test(r["at"], datetime.fromisoformat(bound))]
        page = [{k: v for k, v in r.items() if k != "at"} for r in rows[:limit]]
        return httpx.Response(200, content=json.dumps(page).encode())

    return httpx.MockTransport(handler), seen_queries


def _stamped(n: int, stamp_of: Callable[[int], datetime]) -> list[dict[str, Any]]:
    return [
        {"id": f"id-{i:05d}", "name": f"a-{i}", "createdAt": stamp_of(i).isoformat(timespec="milliseconds")}
        for i in range(n)
    ]


BASE = datetime(2026, 1, 1, tzinfo=UTC)


def test_items_sharing_the_boundary_millisecond_are_not_skipped() -> None:
    # 1,500 items created in pairs: every millisecond holds two, so a page boundary splits a pair.
    items = _stamped(1501, lambda i: BASE + timedelta(milliseconds=i // 2))
    transport, queries = _fake_vapi(items)
    with VapiClient("http://vapi.test", "tok-fake-000000", transport=transport) as client:
        listed = client.list("Assistant")

    assert sorted(i["id"] for i in listed) == sorted(i["id"] for i in items)
    assert len(listed) == len(items)
    assert len(queries) == 2


def test_a_plain_lt_cursor_would_lose_those_items() -> None:
    # Shows the previous test can fail: the same data read with createdAtLt only loses an item.
    items = _stamped(1501, lambda i: BASE + timedelta(milliseconds=i // 2))
    transport, _ = _fake_vapi(items)
    with httpx.Client(base_url="http://vapi.test", transport=transport) as http:
        first = http.get("/assistant", params={"limit": 1000}).json()
        oldest = min(i["createdAt"] for i in first)
        rest = http.get("/assistant", params={"limit": 1000, "createdAtLt": oldest}).json()
    assert len({i["id"] for i in first + rest}) < len(items)


def test_an_oldest_first_server_is_paged_forward() -> None:
    items = _stamped(2300, lambda i: BASE + timedelta(seconds=i))
    transport, queries = _fake_vapi(items, ascending=True)
    with VapiClient("http://vapi.test", "tok-fake-000000", transport=transport) as client:
        listed = client.list("Tool")

    assert len({i["id"] for i in listed}) == 2300
    assert client.calls == 3
    assert "createdAtGe" in queries[1]


def test_a_server_ignoring_the_cursor_fails_loudly_instead_of_looping_or_truncating() -> None:
    transport, _ = _fake_vapi(_stamped(1200, lambda i: BASE + timedelta(seconds=i)), ignore_cursor=True)
    with (
        VapiClient("http://vapi.test", "tok-fake-000000", transport=transport) as client,
        pytest.raises(ListingIncomplete),
    ):
        client.list("Assistant")


def test_a_thousand_items_in_one_millisecond_cannot_be_paged_and_say_so() -> None:
    transport, _ = _fake_vapi(_stamped(1200, lambda i: BASE))
    with (
        VapiClient("http://vapi.test", "tok-fake-000000", transport=transport) as client,
        pytest.raises(ListingIncomplete, match="one creation millisecond"),
    ):
        client.list("Assistant")


def test_a_paginated_answer_without_has_next_page_uses_total_pages() -> None:
    pages = {1: list(range(1000)), 2: list(range(1000, 1400))}

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        results = [{"id": str(i)} for i in pages.get(page, [])]
        body = {"results": results, "metadata": {"currentPage": page, "totalPages": 2, "itemsPerPage": 1000}}
        return httpx.Response(200, json=body)

    with VapiClient("http://vapi.test", None, transport=httpx.MockTransport(handler)) as client:
        assert len(client.list("Eval")) == 1400
        assert client.calls == 2
