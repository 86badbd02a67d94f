"""Create, list, get, update and delete for every kind, in-process and over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from emulator_helpers import TOKEN, assistant_body, function_tool

from ci_deployer.emulator import Emulator

SERVER_FIELDS = {"id", "orgId", "createdAt", "updatedAt"}


def _create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _bodies(client: httpx.Client) -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    """(path, create body, patch body, list shape) per kind; references point at real ids."""
    assistant = _create(client, "/assistant", assistant_body("Helper"))
    return [
        ("/assistant", assistant_body(), {"firstMessage": "Hello again"}, "array"),
        ("/tool", function_tool(), {"function": {"name": "lookup_v2"}}, "array"),
        (
            "/squad",
            {"name": "support", "members": [{"assistantId": assistant["id"]}]},
            {"members": [{"assistantId": assistant["id"]}], "name": "support-2"},
            "array",
        ),
        ("/structured-output", {"name": "outcome", "schema": {"type": "string"}}, {"name": "outcome-2"}, "paginated"),
        ("/v2/knowledge-base", {"name": "FAQ"}, {"description": "Frequently asked"}, "array"),
        (
            "/eval",
            {
                "name": "greets",
                "type": "chat.mockConversation",
                "messages": [{"role": "user", "content": "hi"}],
            },
            {"name": "greets-2"},
            "paginated",
        ),
        (
            "/phone-number",
            {"provider": "byo-phone-number", "number": "+15551230001", "credentialId": "cred-1"},
            {"assistantId": assistant["id"], "name": "Main line"},
            "array",
        ),
    ]


def _listed(client: httpx.Client, path: str, shape: str) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200
    data = response.json()
    if shape == "array":
        assert isinstance(data, list)
        return data
    assert set(data) == {"results", "metadata"}
    assert data["metadata"]["currentPage"] == 1
    results: list[dict[str, Any]] = data["results"]
    return results


def _one(path: str, obj: dict[str, Any]) -> dict[str, Any]:
    """GET one as the list item: a knowledge base answers KnowledgeBaseV2WithFiles (its files, its tool)."""
    if path == "/v2/knowledge-base":
        assert obj.pop("files") == [] and isinstance(obj.pop("toolId"), str)
    return obj


def test_crud_for_every_kind(connect: Callable[..., httpx.Client]) -> None:
    client = connect()
    for path, body, patch, shape in _bodies(client):
        created = _create(client, path, body)
        assert set(created) >= SERVER_FIELDS, path
        assert created["createdAt"].endswith("Z") and len(created["createdAt"]) == 24  # ms precision, like Vapi
        for key, value in body.items():
            assert created[key] == value, (path, key)

        assert created["id"] in {item["id"] for item in _listed(client, path, shape)}
        fetched = client.get(f"{path}/{created['id']}")
        assert fetched.status_code == 200 and _one(path, fetched.json()) == created

        updated = client.patch(f"{path}/{created['id']}", json=patch)
        assert updated.status_code == 200, (path, updated.text)
        for key, value in patch.items():
            assert updated.json()[key] == value
        assert updated.json()["updatedAt"] > created["updatedAt"]
        assert updated.json()["createdAt"] == created["createdAt"]
        assert _one(path, client.get(f"{path}/{created['id']}").json()) == updated.json()

        deleted = client.delete(f"{path}/{created['id']}")
        assert deleted.status_code == 200 and deleted.json() == updated.json()  # DELETE returns the object
        assert client.get(f"{path}/{created['id']}").status_code == 404
        assert created["id"] not in {item["id"] for item in _listed(client, path, shape)}


def test_server_defaults_are_added_on_create_and_kept(connect: Callable[..., httpx.Client]) -> None:
    client = connect()
    created = _create(client, "/assistant", assistant_body())
    fetched = client.get(f"/assistant/{created['id']}").json()
    assert fetched["firstMessageMode"] == "assistant-speaks-first"
    assert fetched["transcriber"] == {"provider": "deepgram", "model": "nova-3", "language": "en"}
    assert fetched["isServerUrlSecretSet"] is False
    assert fetched["latestVersion"] is None
    explicit = _create(client, "/assistant", assistant_body(firstMessageMode="assistant-waits-for-user"))
    assert explicit["firstMessageMode"] == "assistant-waits-for-user"  # a given value is never overwritten
    tool = _create(client, "/tool", function_tool())
    assert tool["latestVersion"] is None
    phone = _create(client, "/phone-number", {"provider": "byo-phone-number", "number": "+1555", "credentialId": "c"})
    assert phone["status"] == "active"


def test_patch_merges_top_level_only_and_null_unsets(api: httpx.Client) -> None:
    body = assistant_body(voice={"provider": "vapi", "voiceId": "Elliot"}, metadata={"a": 1, "b": 2})
    created = api.post("/assistant", json=body).json()
    patched = api.patch(f"/assistant/{created['id']}", json={"metadata": {"c": 3}, "firstMessage": None})
    assert patched.status_code == 200, patched.text
    result = patched.json()
    assert result["metadata"] == {"c": 3}  # the whole subtree is replaced, no deep merge
    assert "firstMessage" not in result  # null unsets the field
    assert result["voice"] == body["voice"]  # untouched fields stay
    assert result["model"] == body["model"]
    assert "firstMessage" not in api.get(f"/assistant/{created['id']}").json()


def test_created_at_is_strictly_increasing(api: httpx.Client) -> None:
    stamps = [api.post("/tool", json=function_tool(f"t{i}")).json()["createdAt"] for i in range(30)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 30  # ties are bumped by a millisecond


def test_phone_numbers_are_bring_your_own(api: httpx.Client) -> None:
    bought = api.post("/phone-number", json={"provider": "vapi", "number": "+15550000000"})
    assert bought.status_code == 400
    assert any("byo-phone-number" in m for m in bought.json()["message"])
    byo = {"provider": "byo-phone-number", "number": "+15550000001", "credentialId": "c"}
    number = api.post("/phone-number", json=byo)
    squad_id = "00000000-0000-4000-8000-000000000000"
    routed = api.patch(f"/phone-number/{number.json()['id']}", json={"squadId": squad_id})
    assert routed.status_code == 400
    assert routed.json()["message"] == [f"squadId Squad '{squad_id}' not found"]


@pytest.mark.parametrize("path", ["/assistant", "/squad", "/tool", "/structured-output", "/eval", "/file"])
def test_unknown_id_is_404_with_nest_body(api: httpx.Client, path: str) -> None:
    response = api.get(f"{path}/6f1c0b43-0000-4000-8000-000000000000")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "Not Found" and body["statusCode"] == 404 and body["message"].endswith("not found")


def test_unknown_route_and_method_answer_like_nest(api: httpx.Client) -> None:
    response = api.get("/workflow")
    assert response.status_code == 404
    assert response.json() == {"message": "Cannot GET /workflow", "error": "Not Found", "statusCode": 404}
    assert api.put("/assistant/x", json={}).status_code == 404  # there is no PUT anywhere in Vapi's API


def test_the_wsgi_app_serves_the_same_api(emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    transport = httpx.WSGITransport(app=emulator.wsgi_app)
    with httpx.Client(base_url="http://wsgi.test", transport=transport, headers=headers) as client:
        created = client.post("/tool", json=function_tool())
        assert created.status_code == 201
        assert client.get("/tool", params={"limit": 5}).json() == [created.json()]
        assert client.get("/tool", params={"limit": 5000}).status_code == 400
