"""GET /v2/phone-number: the paginated phone number list (PhoneNumberController_findAllPaginated).

Vapi's spec: query `search` (name, number or SIP URI, partial, case-insensitive, ≤ 100 characters),
`page`, `sortOrder`, `sortBy` (createdAt|duration|cost), `limit` (≤ 1000) and the timestamp filters;
the answer is PhoneNumberPaginatedResponse `{results, metadata: PaginationMeta}`.  Only GET exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator

Connect = Callable[..., httpx.Client]


def numbers(emulator: Emulator, count: int, org: str = "acme") -> list[dict[str, Any]]:
    items = [
        {"provider": "byo-phone-number", "number": f"+1415555{i:04d}", "name": f"Line {i}", "credentialId": "c"}
        for i in range(count)
    ]
    return emulator.seed(org, "PhoneNumber", items)


def test_pages_in_the_paginated_shape(emulator: Emulator, connect: Connect) -> None:
    numbers(emulator, 25)
    api = connect()
    first = api.get("/v2/phone-number", params={"limit": 10})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"results", "metadata"}
    assert body["metadata"] == {
        "itemsPerPage": 10,
        "totalItems": 25,
        "currentPage": 1,
        "totalPages": 3,
        "hasNextPage": True,
        "sortOrder": "DESC",
    }
    assert [r["name"] for r in body["results"]][:2] == ["Line 24", "Line 23"]  # newest first by default
    assert body["results"][0]["status"] == "active" and body["results"][0]["orgId"] == emulator.org_id("acme")
    last = api.get("/v2/phone-number", params={"limit": 10, "page": 3}).json()
    assert [r["name"] for r in last["results"]] == [f"Line {i}" for i in range(4, -1, -1)]
    assert last["metadata"]["hasNextPage"] is False
    every = api.get("/v2/phone-number", params={"sortOrder": "ASC"}).json()  # limit defaults to 100
    assert [r["name"] for r in every["results"]] == [f"Line {i}" for i in range(25)]
    # the same records as the bare-array list
    assert {r["id"] for r in every["results"]} == {r["id"] for r in api.get("/phone-number").json()}


def test_search_matches_name_number_or_sip_uri(emulator: Emulator, connect: Connect) -> None:
    numbers(emulator, 12)
    emulator.seed(
        "acme", "PhoneNumber", [{"provider": "byo-phone-number", "sipUri": "sip:Front-Desk@acme.example", "name": "x"}]
    )
    api = connect()

    def names(search: str) -> list[str]:
        data = api.get("/v2/phone-number", params={"search": search, "sortOrder": "ASC"}).json()
        assert data["metadata"]["totalItems"] == len(data["results"])
        return [r["name"] for r in data["results"]]

    assert names("line 1") == ["Line 1", "Line 10", "Line 11"]  # name, case-insensitive, partial
    assert names("5550003") == ["Line 3"]  # number
    assert names("front-desk") == ["x"]  # SIP URI
    assert names("nothing") == []


def test_only_this_orgs_numbers(emulator: Emulator, connect: Connect) -> None:
    numbers(emulator, 2)
    numbers(emulator, 3, org="other")
    assert connect().get("/v2/phone-number").json()["metadata"]["totalItems"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sortBy": "updatedAt"}, "sortBy must be one of the following values: createdAt, duration, cost"),
        ({"search": "x" * 101}, "search must be shorter than or equal to 100 characters"),
        ({"limit": 1001}, "limit must not be greater than 1000"),
        ({"page": 0}, "page must not be less than 1"),
        ({"cursor": "abc"}, "property cursor should not exist"),
        ({"sortOrder": "up"}, "sortOrder must be one of the following values: ASC, DESC"),
    ],
)
def test_bad_query_parameters_are_400(connect: Connect, params: dict[str, Any], message: str) -> None:
    response = connect().get("/v2/phone-number", params=params)
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize("sort_by", ["createdAt", "duration", "cost"])
def test_every_declared_sort_is_accepted(emulator: Emulator, connect: Connect, sort_by: str) -> None:
    numbers(emulator, 3)
    data = connect().get("/v2/phone-number", params={"sortBy": sort_by, "sortOrder": "ASC"}).json()
    assert [r["name"] for r in data["results"]] == ["Line 0", "Line 1", "Line 2"]


def test_only_get_exists_on_the_v2_path(emulator: Emulator, connect: Connect) -> None:
    [number] = numbers(emulator, 1)
    api = connect()
    created = api.post("/v2/phone-number", json={"provider": "byo-phone-number", "number": "+14155550199"})
    assert created.status_code == 404
    assert created.json()["message"] == "Cannot POST /v2/phone-number"
    assert api.get(f"/v2/phone-number/{number['id']}").status_code == 404
    assert api.patch(f"/v2/phone-number/{number['id']}", json={"name": "y"}).status_code == 404


def test_needs_a_token(connect: Connect) -> None:
    assert connect(token=None).get("/v2/phone-number").status_code == 401
