"""/eval/run as behavioural tests use it: runs that must be polled, inline (transient) targets and evals
checked like creates, JS-style regex literals, case-insensitive exact judges, relayed tool answers and
``exitOnFailureEnabled``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_helpers import assistant_body, function_tool

from ci_deployer.emulator import Emulator

GREETING = "Hi, this is Order Agent."


def conversation(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"type": "chat.mockConversation", "messages": list(messages)}


def judge(kind: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "judgePlan": {"type": kind, "content": content}, **extra}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def run(api: httpx.Client, the_eval: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/eval/run", json={"type": "eval", "eval": the_eval, "target": target})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def verdicts(body: dict[str, Any]) -> list[str]:
    return [m["judge"]["status"] for m in body["results"][0]["messages"] if "judge" in m]


def test_runs_are_queued_then_running_until_polled_enough(emulator: Emulator, api: httpx.Client) -> None:
    emulator.eval_run_polls = 2
    body = run(
        api, conversation(user("Hi"), judge("exact", GREETING)), {"type": "assistant", "assistant": assistant_body()}
    )
    assert (body["status"], body["results"]) == ("queued", [])
    assert "endedReason" not in body
    seen = [api.get(f"/eval/run/{body['id']}").json() for _ in range(3)]
    assert [s["status"] for s in seen] == ["running", "running", "ended"]
    assert seen[2]["endedReason"] == "mockConversation.done" and verdicts(seen[2]) == ["pass"]
    assert api.get(f"/eval/run/{body['id']}").json() == seen[2]  # stays ended


def test_inline_squads_answer_with_their_first_member_inline_or_saved(api: httpx.Client) -> None:
    inline = {"members": [{"assistant": assistant_body()}]}
    body = run(api, conversation(user("Hi"), judge("exact", GREETING)), {"type": "squad", "squad": inline})
    assert verdicts(body) == ["pass"]
    saved = api.post("/assistant", json=assistant_body(firstMessage="Saved one here.")).json()
    by_id = {"members": [{"assistantId": saved["id"]}]}
    body = run(api, conversation(user("Hi"), judge("exact", "saved one here.")), {"type": "squad", "squad": by_id})
    assert verdicts(body) == ["pass"]  # exact is case-insensitive, as Vapi documents


@pytest.mark.parametrize(
    ("target", "the_eval", "message"),
    [
        (
            {"type": "assistant", "assistant": {**assistant_body(), "colour": "blue"}},
            conversation(user("Hi")),
            "target.assistant.property colour should not exist",
        ),
        (
            {"type": "squad", "squad": {"members": [{"assistantId": "missing"}]}},
            conversation(user("Hi")),
            "target.squad.members[0].assistantId Assistant 'missing' not found",
        ),
        (
            {"type": "assistant", "assistant": assistant_body()},
            {"type": "chat.mockConversation", "messages": [], "nmae": "x"},
            "eval.property nmae should not exist",
        ),
    ],
)
def test_inline_payloads_are_validated_like_creates(
    api: httpx.Client, target: dict[str, Any], the_eval: dict[str, Any], message: str
) -> None:
    response = api.post("/eval/run", json={"type": "eval", "eval": the_eval, "target": target})
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_judges_regex_literals_tool_relays_and_exit_on_failure(api: httpx.Client) -> None:
    tool = api.post("/tool", json=function_tool("lookup_order")).json()
    model = {**assistant_body()["model"], "toolIds": [tool["id"]]}
    agent = api.post("/assistant", json=assistant_body(model=model)).json()
    target = {"type": "assistant", "assistantId": agent["id"]}
    played = conversation(
        user("Hi"),
        judge("regex", "/ORDER agent/i"),  # Vapi's JS-style literal: delimiters dropped, `i` honoured
        user("please lookup_order 7"),
        {"role": "assistant", "judgePlan": {"type": "exact", "content": "", "toolCalls": [{"name": "lookup_order"}]}},
        {"role": "tool", "content": "Order 7 is out for delivery."},
        judge("regex", "out for delivery"),  # the reply after a tool answer relays it
    )
    assert verdicts(run(api, played, target)) == ["pass", "pass", "pass"]
    stop = {"exitOnFailureEnabled": True}
    stopped = conversation(user("Hi"), judge("exact", "Nope", continuePlan=stop), user("More"), judge("regex", "."))
    body = run(api, stopped, target)
    assert verdicts(body) == ["fail"] and body["results"][0]["status"] == "fail"
