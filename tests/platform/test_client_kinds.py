"""Per-kind behaviour (PATCH quirks, server fields), files and knowledge bases, chats and evals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from platform_helpers import Sleeps, assistant_body, function_tool

from ci_deployer.emulator import Emulator, Faults
from ci_deployer.platform.client import RequestRecord, VapiClient, strip_server_fields


def test_crud_round_trip(client: VapiClient) -> None:
    created = client.create("Assistant", assistant_body())
    assert client.get("Assistant", created["id"])["name"] == "Order Agent"

    updated = client.update("Assistant", created["id"], {"name": "Order Agent 2", "firstMessage": None})

    assert updated["name"] == "Order Agent 2" and "firstMessage" not in updated  # null unsets
    assert client.delete("Assistant", created["id"])["id"] == created["id"]
    assert client.list("Assistant") == []


def test_tool_patch_does_not_send_type(client: VapiClient, records: list[RequestRecord]) -> None:
    tool = client.create("Tool", function_tool())
    updated = client.update("Tool", tool["id"], function_tool("lookup_invoice"))

    sent = json.loads(records[-1].request_body or b"{}")
    assert "type" not in sent and sent["function"]["name"] == "lookup_invoice"
    assert updated["type"] == "function" and updated["function"]["name"] == "lookup_invoice"


@pytest.mark.parametrize("kind", ["StructuredOutput", "Eval"])
def test_structured_output_and_eval_patch_drop_type(
    client: VapiClient, records: list[RequestRecord], kind: str
) -> None:
    body: dict[str, Any]
    if kind == "Eval":
        body = {"name": "e", "type": "chat.mockConversation", "messages": [{"role": "user", "content": "hi"}]}
    else:
        body = {"name": "so", "type": "ai", "schema": {"type": "object"}}
    created = client.create(kind, body)

    client.update(kind, created["id"], {**body, "name": "renamed"})

    assert "type" not in json.loads(records[-1].request_body or b"{}")
    assert client.get(kind, created["id"])["name"] == "renamed"


def test_a_squad_patch_without_members_is_refused_before_sending(client: VapiClient) -> None:
    assistant = client.create("Assistant", assistant_body())
    squad = client.create("Squad", {"name": "front", "members": [{"assistantId": assistant["id"]}]})

    with pytest.raises(ValueError, match="full members"):
        client.update("Squad", squad["id"], {"name": "front desk"})
    calls = client.calls
    updated = client.update("Squad", squad["id"], {"name": "front desk", "members": squad["members"]})

    assert client.calls == calls + 1
    assert updated["name"] == "front desk" and updated["members"] == squad["members"]


def test_strip_server_fields_uses_the_kinds_table(client: VapiClient) -> None:
    created = client.create("Tool", function_tool())

    stripped = strip_server_fields("Tool", created)

    assert set(created) - set(stripped) == {"id", "orgId", "createdAt", "updatedAt", "latestVersion"}
    phone = {"id": "1", "status": "active", "number": "+15550000000", "assistantId": "a"}
    assert strip_server_fields("PhoneNumber", phone) == {"number": "+15550000000", "assistantId": "a"}


def test_files_and_knowledge_base_attachments(client: VapiClient, records: list[RequestRecord]) -> None:
    kb = client.create("KnowledgeBase", {"name": "Orders FAQ"})
    upload = client.upload_file("faq.md", b"# Returns\nWithin 30 days.", "knowledge-base-v2")

    assert upload["name"] == "faq.md" and upload["bytes"] == 25 and upload["purpose"] == "knowledge-base-v2"
    assert b"Within 30 days." in (records[-1].request_body or b"")  # the multipart bytes, for the log
    assert [f["id"] for f in client.files("knowledge-base-v2")] == [upload["id"]]

    attached = client.attach_kb_file(kb["id"], upload["id"])
    assert attached["fileId"] == upload["id"]
    assert [a["fileId"] for a in client.kb_files(kb["id"])] == [upload["id"]]

    client.detach_kb_file(kb["id"], upload["id"])
    assert client.kb_files(kb["id"]) == []
    generated = [t for t in client.list("Tool") if t.get("knowledgeBaseId") == kb["id"]]
    assert len(generated) == 1  # Vapi generates one search tool per base


def test_an_attach_whose_answer_was_lost_is_found_not_repeated(
    emulator: Emulator, client: VapiClient, records: list[RequestRecord]
) -> None:
    kb = client.create("KnowledgeBase", {"name": "Orders FAQ"})
    upload = client.upload_file("faq.md", b"hello", "knowledge-base-v2")
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"POST"}))

    attached = client.attach_kb_file(kb["id"], upload["id"])

    assert attached["fileId"] == upload["id"]
    assert [(r.method, r.status) for r in records[-2:]] == [("POST", None), ("GET", 200)]


def test_chat_and_eval_runs(client: VapiClient, sleeps: Sleeps) -> None:
    assistant = client.create("Assistant", assistant_body(firstMessage="Hi, Order Agent here."))
    chat = client.chat({"assistantId": assistant["id"], "input": "Hello"})
    assert chat["output"][0]["content"] == "Hi, Order Agent here."

    evaluation = client.create(
        "Eval",
        {
            "name": "greets",
            "type": "chat.mockConversation",
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "judgePlan": {"type": "exact", "content": "Hi, Order Agent here."}},
            ],
        },
    )
    run = client.run_eval(
        {"type": "eval", "evalId": evaluation["id"], "target": {"type": "assistant", "assistantId": assistant["id"]}}
    )
    finished = client.wait_eval_run(run["id"])

    assert finished["status"] == "ended"
    assert finished["results"][0]["status"] == "pass"
    assert sleeps.delays == []  # already ended: no polling wait
