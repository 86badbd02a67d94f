"""The reference table derived from Vapi's spec: every id field of a payload, at any depth."""

from __future__ import annotations

import json
from typing import Any

from ci_deployer.paths import Path, format_path
from ci_deployer.platform.kinds import CREDENTIAL, ID_FIELDS, ID_FIELDS_EXCLUDED, KINDS
from ci_deployer.platform.reftable import REFS_FILE, RefTable, ref_sites, ref_table
from ci_deployer.validate.schemas import schema_dir

TOOL_OR_KB = ("Tool", "KnowledgeBase")


def sites(kind: str, payload: Any) -> dict[str, tuple[tuple[str, ...], Any]]:
    return {format_path(s.path): (s.kinds, s.value) for s in ref_sites(kind, payload)}


def test_top_level_fields_of_every_kind() -> None:
    assistant = {
        "model": {
            "provider": "openai",
            "model": "gpt-4.1",
            "toolIds": ["jira", "docs"],
            "toolRefs": [{"toolId": "jira", "version": "v3"}],
        },
        "artifactPlan": {"structuredOutputIds": ["summary"]},
        "credentialIds": ["twilio-main"],
        "server": {"url": "https://x.example", "credentialId": "webhook"},
    }
    assert sites("Assistant", assistant) == {
        "model.toolIds[0]": (TOOL_OR_KB, "jira"),
        "model.toolIds[1]": (TOOL_OR_KB, "docs"),
        "model.toolRefs[0].toolId": (TOOL_OR_KB, "jira"),
        "artifactPlan.structuredOutputIds[0]": (("StructuredOutput",), "summary"),
        "credentialIds[0]": ((CREDENTIAL,), "twilio-main"),
        "server.credentialId": ((CREDENTIAL,), "webhook"),
    }
    phone = {"number": "+14155550123", "assistantId": None, "squadId": "support", "server": {"credentialId": "c"}}
    assert sites("PhoneNumber", phone) == {
        "assistantId": (("Assistant",), None),
        "squadId": (("Squad",), "support"),
        "server.credentialId": ((CREDENTIAL,), "c"),
    }
    assert sites("StructuredOutput", {"name": "s", "schema": {}, "assistantIds": ["a"], "workflowIds": ["w"]}) == {
        "assistantIds[0]": (("Assistant",), "a")
    }
    handoff = {"type": "handoff", "destinations": [{"type": "assistant", "assistantId": "returns-agent"}]}
    assert sites("Tool", handoff) == {"destinations[0].assistantId": (("Assistant",), "returns-agent")}


def test_nested_overrides_resolve_like_top_level_fields() -> None:
    squad = {
        "members": [
            {
                "assistantId": "order-agent",
                "assistantOverrides": {
                    "model": {"provider": "openai", "model": "gpt-4.1", "toolIds": ["lookup-order"]},
                    "artifactPlan": {"structuredOutputIds": ["summary"]},
                    "credentialIds": ["twilio-main"],
                },
                "assistantDestinations": [{"type": "assistant", "assistantId": "returns-agent"}],
            },
            {
                # a transient assistant inside the squad: its own references count too
                "assistant": {
                    "model": {"provider": "anthropic", "model": "claude", "toolRefs": [{"toolId": "jira"}]},
                    "hooks": [
                        {
                            "on": "customer.speech.timeout",
                            "do": [{"type": "tool", "toolId": "nudge"}],
                        }
                    ],
                    "compliancePlan": {"recordingConsentPlan": {"type": "verbal", "declineToolId": "end-call"}},
                }
            },
        ],
        "membersOverrides": {"model": {"provider": "groq", "model": "x", "toolIds": ["zendesk"]}},
    }
    assert sites("Squad", squad) == {
        "members[0].assistantId": (("Assistant",), "order-agent"),
        "members[0].assistantOverrides.model.toolIds[0]": (TOOL_OR_KB, "lookup-order"),
        "members[0].assistantOverrides.artifactPlan.structuredOutputIds[0]": (("StructuredOutput",), "summary"),
        "members[0].assistantOverrides.credentialIds[0]": ((CREDENTIAL,), "twilio-main"),
        "members[0].assistantDestinations[0].assistantId": (("Assistant",), "returns-agent"),
        "members[1].assistant.model.toolRefs[0].toolId": (TOOL_OR_KB, "jira"),
        "members[1].assistant.hooks[0].do[0].toolId": (TOOL_OR_KB, "nudge"),
        "members[1].assistant.compliancePlan.recordingConsentPlan.declineToolId": (("Tool",), "end-call"),
        "membersOverrides.model.toolIds[0]": (TOOL_OR_KB, "zendesk"),
    }


def test_handoff_destination_overrides_and_squads() -> None:
    handoff = {
        "type": "handoff",
        "destinations": [
            {
                "type": "assistant",
                "assistantId": "returns-agent",
                "assistantOverrides": {"model": {"provider": "openai", "model": "gpt-4.1", "toolIds": ["jira"]}},
            },
            {"type": "squad", "squadId": "support"},
        ],
    }
    assert sites("Tool", handoff) == {
        "destinations[0].assistantId": (("Assistant",), "returns-agent"),
        "destinations[0].assistantOverrides.model.toolIds[0]": (TOOL_OR_KB, "jira"),
        "destinations[1].squadId": (("Squad",), "support"),
    }


def test_free_form_objects_and_excluded_ids_are_not_searched() -> None:
    assistant = {
        # metadata and variable values are the user's: an `assistantId` key there is just data
        "metadata": {"assistantId": "not-a-ref", "toolIds": ["x"]},
        "model": {
            "provider": "openai",
            "model": "gpt-4.1",
            # a transient tool's parameters are a JSON Schema: property names are not fields
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {"toolId": {"type": "string"}}},
                    },
                }
            ],
        },
        "voice": {"provider": "11labs", "voiceId": "21m00Tcm4TlvDq8ikWAM"},  # a provider's id
        "name": "assistantId",
    }
    assert sites("Assistant", assistant) == {}


def test_values_of_any_shape_are_reported_where_an_id_belongs() -> None:
    # The table says where; callers decide what a value means (UUID, slug, ref token, null).
    found = sites("Assistant", {"model": {"provider": "openai", "toolIds": [{"ref": "tool/jira"}, 3]}})
    assert found == {"model.toolIds[0]": (TOOL_OR_KB, {"ref": "tool/jira"}), "model.toolIds[1]": (TOOL_OR_KB, 3)}


def test_kinds_without_id_fields_and_unknown_kinds_yield_nothing() -> None:
    assert ref_sites("KnowledgeBase", {"name": "docs", "assistantId": "x"}) == []
    assert ref_sites("Policy", {"model": {"toolIds": ["x"]}}) == []
    assert ref_sites("Assistant", ["not", "a", "map"]) == []


def test_the_committed_table_covers_every_kind_and_only_classified_fields() -> None:
    data = json.loads((schema_dir() / REFS_FILE).read_text(encoding="utf-8"))
    assert set(data["roots"]) == set(KINDS)
    for node, edges in data["nodes"].items():
        for prop, edge in edges.items():
            if "ids" in edge:
                assert tuple(edge["ids"]) == ID_FIELDS[prop], f"{node}.{prop}"
            else:
                assert set(edge["to"]) <= set(data["nodes"]), f"{node}.{prop}"
    for where in data["excluded"]:
        node, prop = where.rsplit(".", 1)
        assert where in ID_FIELDS_EXCLUDED or prop in ID_FIELDS_EXCLUDED, where


def test_transitions_are_cached_per_state_set() -> None:
    table = RefTable.from_json(
        {
            "roots": {"Assistant": ["A"]},
            "nodes": {"A": {"model": {"to": ["M1", "M2"]}}, "M1": {"toolIds": {"ids": ["Tool"]}}, "M2": {}},
        }
    )
    payload: dict[str, Any] = {"model": {"toolIds": ["a", "b"]}}
    first: list[Path] = [s.path for s in table.sites("Assistant", payload)]
    assert first == [("model", "toolIds", 0), ("model", "toolIds", 1)]
    assert [s.path for s in table.sites("Assistant", payload)] == first
    assert (frozenset({"M1", "M2"}), "toolIds") in table._cache


def test_the_loaded_table_is_read_once() -> None:
    assert ref_table() is ref_table()
