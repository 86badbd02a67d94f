"""List shapes, limits, timestamp filters and cursor paging by createdAtLt."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from emulator_helpers import function_tool

from ci_deployer.emulator import Emulator


def test_cursor_paging_by_created_at_lt_is_exact_over_1000_items(
    emulator: Emulator, connect: Callable[..., httpx.Client]
) -> None:
    seeded = emulator.seed("acme", "Tool", [function_tool(f"tool_{i}") for i in range(2345)])
    client = connect()
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 1000} | ({"createdAtLt": cursor} if cursor else {})
        page = client.get("/tool", params=params).json()
        assert isinstance(page, list) and len(page) <= 1000
        pages += 1
        if not page:
            break
        stamps = [item["createdAt"] for item in page]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        seen += [item["id"] for item in page]
        cursor = page[-1]["createdAt"]
    assert pages == 4  # 1000 + 1000 + 345 + the empty page that ends the loop
    assert len(seen) == len(set(seen)) == 2345
    assert set(seen) == {item["id"] for item in seeded}


def test_limit_defaults_to_100_and_caps_at_1000(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed("acme", "Assistant", [{"name": f"a{i}"} for i in range(150)])
    assert len(api.get("/assistant").json()) == 100
    assert len(api.get("/assistant", params={"limit": 1000}).json()) == 150
    assert api.get("/assistant", params={"limit": 0}).json() == []
    too_many = api.get("/assistant", params={"limit": 1001})
    assert too_many.status_code == 400
    assert too_many.json() == {
        "message": ["limit must not be greater than 1000"],
        "error": "Bad Request",
        "statusCode": 400,
    }
    assert api.get("/assistant", params={"limit": "ten"}).status_code == 400


def test_timestamp_filters(emulator: Emulator, api: httpx.Client) -> None:
    items = emulator.seed("acme", "Tool", [function_tool(f"t{i}") for i in range(5)])
    middle = items[2]["createdAt"]
    assert [t["id"] for t in api.get("/tool", params={"createdAtGt": middle}).json()] == [
        items[4]["id"],
        items[3]["id"],
    ]
    assert len(api.get("/tool", params={"createdAtGe": middle}).json()) == 3
    assert len(api.get("/tool", params={"createdAtLe": middle}).json()) == 3
    # other ISO spellings of the same instant work (offset instead of Z)
    assert len(api.get("/tool", params={"createdAtLt": middle.replace("Z", "+00:00")}).json()) == 2
    api.patch(f"/tool/{items[0]['id']}", json={"function": {"name": "renamed"}})
    fresh = api.get("/tool", params={"updatedAtGt": items[4]["updatedAt"]}).json()
    assert [t["id"] for t in fresh] == [items[0]["id"]]
    bad = api.get("/tool", params={"createdAtLt": "yesterday"})
    assert bad.json()["message"] == ["createdAtLt must be a valid ISO 8601 date string"]


def test_unknown_query_parameters_are_rejected(api: httpx.Client) -> None:
    response = api.get("/assistant", params={"page": 2})  # bare-array lists have no pages
    assert response.status_code == 400
    assert response.json()["message"] == ["property page should not exist"]


def test_paginated_lists(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed("acme", "StructuredOutput", [{"name": f"so{i}", "schema": {"type": "string"}} for i in range(25)])
    first = api.get("/structured-output", params={"limit": 10}).json()
    assert first["metadata"] == {
        "itemsPerPage": 10,
        "totalItems": 25,
        "currentPage": 1,
        "totalPages": 3,
        "hasNextPage": True,
        "sortOrder": "DESC",
    }
    assert [r["name"] for r in first["results"]][:2] == ["so24", "so23"]
    last = api.get("/structured-output", params={"limit": 10, "page": 3}).json()
    assert len(last["results"]) == 5 and last["metadata"]["hasNextPage"] is False
    ascending = api.get("/structured-output", params={"sortOrder": "ASC", "limit": 1}).json()
    assert ascending["results"][0]["name"] == "so0"
    assert api.get("/structured-output", params={"name": "so7"}).json()["metadata"]["totalItems"] == 1
    assert api.get("/structured-output", params={"limit": 5000}).status_code == 400


def test_squad_id_any_filter(emulator: Emulator, api: httpx.Client) -> None:
    squads = emulator.seed("acme", "Squad", [{"name": f"s{i}", "members": []} for i in range(4)])
    wanted = {squads[0]["id"], squads[2]["id"]}
    listed = api.get("/squad", params={"idAny": ",".join(sorted(wanted))}).json()
    assert {s["id"] for s in listed} == wanted


def test_seed_adds_server_fields_and_defaults(emulator: Emulator, api: httpx.Client) -> None:
    [assistant] = emulator.seed("acme", "Assistant", [{"name": "seeded"}])
    assert assistant["orgId"] == emulator.org_id("acme")
    assert assistant["firstMessageMode"] == "assistant-speaks-first"
    assert api.get(f"/assistant/{assistant['id']}").json() == assistant
