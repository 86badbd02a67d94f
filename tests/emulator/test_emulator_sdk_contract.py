"""Contract test: Vapi's official Python SDK (``vapi-server-sdk``) against ``serve()`` on loopback.

The SDK is an independent client: if it parses every answer, the emulator's shapes match Vapi's.
One thing the SDK cannot express: its tool update bodies (``UpdateToolsRequestBody_*``) always carry
``type``, which Vapi rejects on PATCH ("property type should not exist", VapiAI/gitops
UPDATE_EXCLUDED_KEYS).  The test proves that rejection, then PATCHes through the SDK's own HTTP
client without ``type`` and parses the answer with the SDK's response type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emulator_helpers import TOKEN
from vapi import JsonSchema, OpenAiFunction, SquadMemberDto, Vapi
from vapi.core.api_error import ApiError
from vapi.core.unchecked_base_model import construct_type
from vapi.tools import CreateToolsRequest_Function, UpdateToolsRequestBody_Function, UpdateToolsResponse

from ci_deployer.emulator import Emulator, serve

MODEL = {
    "provider": "openai",
    "model": "gpt-4.1-mini",
    "messages": [{"role": "system", "content": "You help customers with their orders."}],
}


@pytest.fixture
def sdk(emulator: Emulator) -> Iterator[Vapi]:
    with serve(emulator) as handle:
        client = Vapi(token=TOKEN, base_url=handle.url, timeout=10)
        yield client
        client._client_wrapper.httpx_client.httpx_client.close()


def _no_retries() -> Any:
    return {"max_retries": 0}  # the SDK retries 409/429/5xx; the emulator's answers are final here


def test_assistants(sdk: Vapi) -> None:
    created = sdk.assistants.create(name="Order Agent", model=MODEL, first_message="Hi!", metadata={"a": 1})
    assert created.id and created.org_id and created.name == "Order Agent"
    assert created.first_message_mode == "assistant-speaks-first"  # a server default, parsed
    assert created.id in [a.id for a in sdk.assistants.list(limit=1000)]
    fetched = sdk.assistants.get(created.id)
    assert fetched.model is not None and fetched.created_at == created.created_at
    updated = sdk.assistants.update(created.id, first_message="Hello again")
    assert updated.first_message == "Hello again" and updated.name == "Order Agent"
    deleted = sdk.assistants.delete(created.id)
    assert deleted.id == created.id
    with pytest.raises(ApiError) as missing:  # the SDK declares no 404 for assistants: a plain ApiError
        sdk.assistants.get(created.id, request_options=_no_retries())
    assert missing.value.status_code == 404


def test_squads(sdk: Vapi) -> None:
    agent = sdk.assistants.create(name="Member", model=MODEL)
    created = sdk.squads.create(name="support", members=[SquadMemberDto(assistant_id=agent.id)])
    assert created.members[0].assistant_id == agent.id
    assert created.id in [s.id for s in sdk.squads.list(limit=10)]
    assert sdk.squads.get(created.id).name == "support"
    updated = sdk.squads.update(created.id, name="support-2", members=[SquadMemberDto(assistant_id=agent.id)])
    assert updated.name == "support-2"
    assert sdk.squads.delete(created.id).id == created.id
    assert sdk.assistants.delete(agent.id).id == agent.id  # no longer pinned by the squad


def test_function_tools(sdk: Vapi) -> None:
    created = sdk.tools.create(
        request=CreateToolsRequest_Function(
            function=OpenAiFunction(name="lookup_order", description="Look up an order")
        )
    )
    assert created.type == "function" and created.function is not None
    assert created.function.name == "lookup_order"
    assert created.id in [t.id for t in sdk.tools.list(limit=100)]
    assert sdk.tools.get(created.id).id == created.id

    with pytest.raises(ApiError) as rejected:
        sdk.tools.update(
            created.id,
            request=UpdateToolsRequestBody_Function(function=OpenAiFunction(name="lookup_v2")),
            request_options=_no_retries(),
        )
    assert rejected.value.status_code == 400
    assert "property type should not exist" in rejected.value.body["message"]
    raw = sdk._client_wrapper.httpx_client.request(
        f"tool/{created.id}", method="PATCH", json={"function": {"name": "lookup_v2"}}
    )
    assert raw.status_code == 200
    updated = construct_type(type_=UpdateToolsResponse, object_=raw.json())
    assert updated.function.name == "lookup_v2"  # type: ignore[union-attr]

    assert sdk.tools.delete(created.id).id == created.id


def test_structured_outputs(sdk: Vapi) -> None:
    so = sdk.structured_outputs
    created = so.structured_output_controller_create(name="outcome", schema=JsonSchema(type="string"))
    assert created.name == "outcome" and created.schema_ is not None
    page = so.structured_output_controller_find_all(limit=10)
    assert created.id in [r.id for r in page.results] and page.metadata.total_items == 1
    assert so.structured_output_controller_find_one(created.id).id == created.id
    updated = so.structured_output_controller_update(created.id, name="outcome-2", schema_override="false")
    assert updated.name == "outcome-2"
    assert so.structured_output_controller_remove(created.id).id == created.id


def test_knowledge_bases(sdk: Vapi) -> None:
    kb = sdk.knowledge_bases_v_2
    created = kb.knowledge_base_v_2_controller_create(name="FAQ", description="questions")
    assert created.name == "FAQ" and created.org_id
    assert created.id in [k.id for k in kb.knowledge_base_v_2_controller_find_all()]
    assert kb.knowledge_base_v_2_controller_find_one(created.id).description == "questions"
    # the generated search tool parses as the SDK's knowledgeBase tool type
    tools = [t for t in sdk.tools.list() if t.type == "knowledgeBase"]
    assert [t.knowledge_base_id for t in tools] == [created.id]  # type: ignore[union-attr]
    file = sdk.files.create(file=("faq.txt", b"Returns within 30 days."), purpose="knowledge-base-v2")
    attached = kb.knowledge_base_v_2_controller_file_attach(created.id, file_id=file.id)
    assert attached.file_id == file.id
    assert [f.file_id for f in kb.knowledge_base_v_2_controller_files_get(created.id)] == [file.id]
    assert kb.knowledge_base_v_2_controller_file_detach(created.id, file.id).file_id == file.id
    updated = kb.knowledge_base_v_2_controller_update(created.id, name="FAQ v2")
    assert updated.name == "FAQ v2"
    assert kb.knowledge_base_v_2_controller_remove(created.id).id == created.id
    assert [t for t in sdk.tools.list() if t.type == "knowledgeBase"] == []


def test_paginated_phone_numbers(sdk: Vapi, emulator: Emulator) -> None:
    emulator.seed(
        "acme",
        "PhoneNumber",
        [
            {"provider": "byo-phone-number", "number": f"+1415555{i:04d}", "name": f"Line {i}", "credentialId": "c"}
            for i in range(3)
        ],
    )
    page = sdk.phone_numbers.phone_number_controller_find_all_paginated(limit=2, sort_order="ASC")
    assert [n.name for n in page.results] == ["Line 0", "Line 1"]
    assert page.metadata.total_items == 3 and page.metadata.current_page == 1
    assert page.metadata.has_next_page is True
    found = sdk.phone_numbers.phone_number_controller_find_all_paginated(search="+14155550002")
    assert [n.number for n in found.results] == ["+14155550002"]  # type: ignore[union-attr]
