"""Auth, validation, reference and delete-conflict answers, with Vapi's body shapes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from emulator_helpers import OTHER_TOKEN, assistant_body, function_tool

from ci_deployer.emulator import Emulator


def test_missing_or_wrong_token_is_401(connect: Callable[..., httpx.Client]) -> None:
    for client in (connect(token=None), connect(token="not-a-token")):
        response = client.get("/assistant")
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "Unauthorized" and body["statusCode"] == 401
        assert "not-a-token" not in response.text  # the token is never echoed


def test_a_token_sees_only_its_org(connect: Callable[..., httpx.Client]) -> None:
    acme, other = connect(), connect(token=OTHER_TOKEN)
    created = acme.post("/assistant", json=assistant_body()).json()
    assert other.get("/assistant").json() == []
    # a foreign id looks exactly like a missing one
    for response in (
        other.get(f"/assistant/{created['id']}"),
        other.patch(f"/assistant/{created['id']}", json={"name": "stolen"}),
        other.delete(f"/assistant/{created['id']}"),
    ):
        assert response.status_code == 404
        assert response.json() == {"message": "Assistant not found", "error": "Not Found", "statusCode": 404}
    assert acme.get(f"/assistant/{created['id']}").json()["name"] == "Order Agent"


def test_400_lists_every_problem_in_nest_shape(api: httpx.Client) -> None:
    response = api.post("/assistant", json={"name": "x" * 41, "customer": {}, "id": "mine"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Bad Request" and body["statusCode"] == 400
    assert set(body["message"]) == {
        "name must be shorter than or equal to 40 characters",
        "property customer should not exist",
        "property id should not exist",
    }
    assert api.get("/assistant").json() == []  # nothing was written


def test_patch_rules_for_type_and_squad_members(api: httpx.Client) -> None:
    tool = api.post("/tool", json=function_tool()).json()
    response = api.patch(f"/tool/{tool['id']}", json={"type": "function", "function": {"name": "x"}})
    assert response.status_code == 400
    assert response.json()["message"] == ["property type should not exist"]
    so = api.post("/structured-output", json={"name": "o", "schema": {"type": "string"}}).json()
    assert api.patch(f"/structured-output/{so['id']}", json={"type": "ai"}).json()["message"] == [
        "property type should not exist"
    ]
    assistant = api.post("/assistant", json=assistant_body()).json()
    squad = api.post("/squad", json={"name": "s", "members": [{"assistantId": assistant["id"]}]}).json()
    response = api.patch(f"/squad/{squad['id']}", json={"name": "renamed"})
    assert response.status_code == 400 and "members must be an array" in response.json()["message"]
    # tool PATCH bodies are checked against the stored tool's type
    wrong = api.patch(f"/tool/{tool['id']}", json={"destinations": []})
    assert wrong.status_code == 400 and "property destinations should not exist" in wrong.json()["message"]


def test_references_must_be_ids_of_this_org(emulator: Emulator, api: httpx.Client) -> None:
    body = assistant_body(model={**assistant_body()["model"], "toolIds": ["jira"]})
    response = api.post("/assistant", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == ["model.toolIds[0] Tool 'jira' not found"]  # slugs never get through
    foreign = emulator.seed("other", "Tool", [function_tool()])[0]
    body["model"]["toolIds"] = [foreign["id"]]
    assert api.post("/assistant", json=body).status_code == 400
    squad = api.post("/squad", json={"members": [{"assistantId": "order-agent"}]})
    assert squad.json()["message"] == ["members[0].assistantId Assistant 'order-agent' not found"]


def test_nested_references_must_be_ids_of_this_org_too(emulator: Emulator, api: httpx.Client) -> None:
    # Every id field Vapi's spec declares is checked, not only top-level ones (platform/reftable.py).
    assistant = api.post("/assistant", json=assistant_body()).json()
    override = {"model": {**assistant_body()["model"], "toolIds": ["lookup-order"]}}
    squad = {"members": [{"assistantId": assistant["id"], "assistantOverrides": override}]}
    response = api.post("/squad", json=squad)
    assert response.status_code == 400
    assert response.json()["message"] == [
        "members[0].assistantOverrides.model.toolIds[0] Tool 'lookup-order' not found"
    ]
    tool = emulator.seed("acme", "Tool", [function_tool()])[0]
    override["model"]["toolIds"] = [tool["id"]]
    assert api.post("/squad", json=squad).status_code == 201


def test_kb_tools_cannot_be_posted(api: httpx.Client) -> None:
    response = api.post("/tool", json={"type": "knowledgeBase", "knowledgeBaseId": "x", "function": {"name": "s"}})
    assert response.status_code == 400
    assert "knowledge base" in response.json()["message"][0]


def test_deleting_a_referenced_tool_or_assistant_is_409(api: httpx.Client) -> None:
    tool = api.post("/tool", json=function_tool()).json()
    pinned_tool = api.post("/tool", json=function_tool("pinned")).json()
    pin = {"toolId": pinned_tool["id"], "version": "v1"}
    model = {**assistant_body()["model"], "toolIds": [tool["id"]], "toolRefs": [pin]}
    assistant = api.post("/assistant", json=assistant_body(model=model)).json()
    squad = api.post("/squad", json={"members": [{"assistantId": assistant["id"]}]}).json()

    for tool_id in (tool["id"], pinned_tool["id"]):
        response = api.delete(f"/tool/{tool_id}")
        assert response.status_code == 409
        assert response.json()["error"] == "version_pinned"
        assert response.json()["pinnedBy"] == [{"sourceType": "assistant_version", "sourceId": assistant["id"]}]
    response = api.delete(f"/assistant/{assistant['id']}")
    assert response.status_code == 409
    assert response.json()["pinnedBy"] == [{"sourceType": "squad", "sourceId": squad["id"]}]

    # removing the references (or the referrer) first makes the deletes work, in reverse dependency order
    assert api.delete(f"/squad/{squad['id']}").status_code == 200
    assert api.delete(f"/assistant/{assistant['id']}").status_code == 200
    assert api.delete(f"/tool/{tool['id']}").status_code == 200
    assert api.delete(f"/tool/{pinned_tool['id']}").status_code == 200


def test_invalid_json_body_is_400(api: httpx.Client) -> None:
    response = api.post("/assistant", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "Bad Request"
