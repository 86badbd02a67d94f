"""/chat and /eval/run: the scripted responder answers deterministically."""

from __future__ import annotations

from typing import Any

import httpx
from emulator_helpers import assistant_body, function_tool


def _agent(api: httpx.Client) -> dict[str, Any]:
    tool = api.post("/tool", json=function_tool("lookup_order")).json()
    model = {**assistant_body()["model"], "toolIds": [tool["id"]]}
    response = api.post("/assistant", json=assistant_body(model=model))
    assert response.status_code == 201
    agent: dict[str, Any] = response.json()
    return agent


def test_chat_turns_are_scripted_from_the_assistant_config(api: httpx.Client) -> None:
    agent = _agent(api)
    first = api.post("/chat", json={"assistantId": agent["id"], "input": "Hello"})
    assert first.status_code == 201
    assert first.json()["output"] == [{"role": "assistant", "content": "Hi, this is Order Agent."}]
    second = api.post("/chat", json={"previousChatId": first.json()["id"], "input": "Where is my parcel?"}).json()
    assert second["assistantId"] == agent["id"] and second["previousChatId"] == first.json()["id"]
    assert second["output"][0]["content"] == "You help customers with their orders."  # the prompt's first sentence
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    third = api.post("/chat", json={"previousChatId": second["id"], "input": "please LOOKUP_ORDER 42"}).json()
    [call] = third["output"][0]["tool_calls"]
    assert call["function"] == {"name": "lookup_order", "arguments": "{}"}
    again = api.post("/chat", json={"previousChatId": second["id"], "input": "please LOOKUP_ORDER 42"}).json()
    assert again["output"] == third["output"]  # deterministic, ids included
    listed = api.get("/chat", params={"assistantId": agent["id"]}).json()
    assert listed["metadata"]["totalItems"] == 4
    assert api.get(f"/chat/{first.json()['id']}").json() == first.json()


def test_chat_through_a_squad_uses_its_first_member(api: httpx.Client) -> None:
    agent = _agent(api)
    squad = api.post("/squad", json={"members": [{"assistantId": agent["id"]}]}).json()
    chat = api.post("/chat", json={"squadId": squad["id"], "input": "hi"}).json()
    assert chat["squadId"] == squad["id"] and chat["output"][0]["content"] == "Hi, this is Order Agent."


def test_chat_needs_one_target(api: httpx.Client) -> None:
    response = api.post("/chat", json={"input": "hi"})
    assert response.status_code == 400
    assert "exactly one of assistant, assistantId, squad, or squadId." in response.json()["message"][0]
    assert api.post("/chat", json={"assistantId": "nope", "input": "hi"}).status_code == 400


LOOKUP = "lookup_order"
AI_JUDGE = {
    "type": "ai",
    "model": {"provider": "openai", "model": "gpt-4.1", "messages": [{"role": "system", "content": "Pass if polite"}]},
}


def _eval_body(second_reply: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "orders",
        "type": "chat.mockConversation",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "judgePlan": {"type": "exact", "content": "Hi, this is Order Agent."}},
            {"role": "user", "content": "Find my order"},
            {"role": "assistant", "judgePlan": second_reply},
            {"role": "user", "content": "run lookup_order please"},
            {"role": "assistant", "judgePlan": {"type": "exact", "content": "", "toolCalls": [{"name": LOOKUP}]}},
        ],
    }


def test_eval_run_passes_and_fails_deterministically(api: httpx.Client) -> None:
    agent = _agent(api)
    passing = api.post("/eval", json=_eval_body({"type": "regex", "content": "orders\\.$"})).json()
    failing = api.post("/eval", json=_eval_body({"type": "exact", "content": "Something else"})).json()
    target = {"type": "assistant", "assistantId": agent["id"]}

    run = api.post("/eval/run", json={"type": "eval", "evalId": passing["id"], "target": target})
    assert run.status_code == 201, run.text
    body = run.json()
    assert body["status"] == "ended" and body["endedReason"] == "mockConversation.done"
    assert [r["status"] for r in body["results"]] == ["pass"]
    assert api.get(f"/eval/run/{body['id']}").json() == body

    bad = api.post("/eval/run", json={"type": "eval", "evalId": failing["id"], "target": target}).json()
    assert bad["results"][0]["status"] == "fail"
    judged = [m["judge"] for m in bad["results"][0]["messages"] if "judge" in m]
    assert [j["status"] for j in judged] == ["pass", "fail", "pass"]
    assert "Something else" in judged[1]["failureReason"]

    inline = api.post("/eval/run", json={"type": "eval", "eval": _eval_body(AI_JUDGE), "target": target})
    assert inline.status_code == 201
    assert inline.json()["results"][0]["status"] == "pass"  # ai judges always pass offline
    runs = api.get("/eval/run").json()
    assert runs["metadata"]["totalItems"] == 3


def test_eval_run_rejects_unknown_targets(api: httpx.Client) -> None:
    evaluation = api.post("/eval", json=_eval_body(AI_JUDGE)).json()
    target = {"type": "assistant", "assistantId": "x"}
    response = api.post("/eval/run", json={"type": "eval", "evalId": evaluation["id"], "target": target})
    assert response.status_code == 400
    assert api.post("/eval/run", json={"type": "eval", "target": {"type": "assistant"}}).status_code == 400
