"""scripts/gen_schemas.py on copies of the committed spec: id fields derived, oneOf + sibling enum.

The generator's input, Vapi's OpenAPI spec, is committed as ``scripts/vapi-openapi.json``; these
tests edit copies of it to prove the generator notices what a new spec version would bring.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import pathlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from ci_deployer.platform.kinds import ID_FIELDS
from ci_deployer.platform.reftable import RefTable
from ci_deployer.validate.schemas import validate_spec

REPO = pathlib.Path(__file__).resolve().parents[2]
SPEC = REPO / "scripts" / "vapi-openapi.json"


@pytest.fixture(scope="module")
def gen() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("gen_schemas", REPO / "scripts" / "gen_schemas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_schemas"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["gen_schemas"]


@pytest.fixture(scope="module")
def committed_spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def vapi_spec(committed_spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the committed spec, free to edit."""
    return copy.deepcopy(committed_spec)


def add_property(spec: dict[str, Any], schema: str, name: str, definition: dict[str, Any]) -> None:
    spec["components"]["schemas"][schema]["properties"][name] = definition


def test_every_id_field_of_the_committed_spec_is_classified(gen: ModuleType, vapi_spec: dict[str, Any]) -> None:
    deriver, table = gen.derive_refs(vapi_spec)
    assert deriver.unclassified == {}
    gen.check_refs(deriver)  # no SystemExit
    nodes = table["nodes"]
    assert nodes["SquadMemberDTO"]["assistantOverrides"] == {"to": ["AssistantOverrides"]}
    assert "OpenAIModel" in nodes["AssistantOverrides"]["model"]["to"]
    assert nodes["OpenAIModel"]["toolIds"] == {"ids": ["Tool", "KnowledgeBase"]}
    assert table["excluded"]["VapiModel.workflowId"].startswith("workflows are not managed")


@pytest.mark.parametrize(
    "case",
    [
        # nested: AssistantOverrides is reached only through squad members, handoffs and transfers
        ("AssistantOverrides", "escalationPolicyId", {"type": "string"}),
        ("ArtifactPlan", "reportTemplateIds", {"type": "array", "items": {"type": "string"}}),
        # marked by its description only
        ("HandoffDestinationAssistant", "escalationPolicy", {"type": "string", "description": "The ID of the policy."}),
    ],
)
def test_a_new_unclassified_id_field_stops_the_generator(
    gen: ModuleType, vapi_spec: dict[str, Any], tmp_path: pathlib.Path, case: tuple[str, str, dict[str, Any]]
) -> None:
    schema, name, definition = case
    add_property(vapi_spec, schema, name, definition)
    deriver, _ = gen.derive_refs(vapi_spec)
    assert list(deriver.unclassified) == [f"{schema}.{name}"]
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(vapi_spec), encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        gen.main(["--spec", str(spec_file), "--out", str(tmp_path / "out")])
    assert f"{schema}.{name}" in str(info.value)
    assert "ID_FIELDS_EXCLUDED" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_id_field_needs_no_decision(gen: ModuleType, vapi_spec: dict[str, Any]) -> None:
    # Only the payloads of managed kinds matter: a campaign's new id is not ci-deployer's business.
    add_property(vapi_spec, "CreateCampaignDTO", "escalationPolicyId", {"type": "string"})
    deriver, _ = gen.derive_refs(vapi_spec)
    assert deriver.unclassified == {}


def test_a_known_id_name_in_a_new_place_resolves_there(gen: ModuleType, vapi_spec: dict[str, Any]) -> None:
    add_property(vapi_spec, "StartSpeakingPlan", "structuredOutputIds", {"type": "array", "items": {"type": "string"}})
    deriver, table = gen.derive_refs(vapi_spec)
    assert deriver.unclassified == {}
    assert table["nodes"]["StartSpeakingPlan"]["structuredOutputIds"] == {"ids": ["StructuredOutput"]}
    squad = {"membersOverrides": {"startSpeakingPlan": {"structuredOutputIds": ["so"]}}}
    found = RefTable.from_json(table).sites("Squad", squad)
    assert [(s.path, s.kinds, s.value) for s in found] == [
        (("membersOverrides", "startSpeakingPlan", "structuredOutputIds", 0), ("StructuredOutput",), "so")
    ]
    # ... and the generated schema accepts a slug there, as for every other id field
    files = gen.build_specs(vapi_spec)
    defs = files["spec/squad.schema.json"]["$defs"]
    widened = defs["StartSpeakingPlan"]["properties"]["structuredOutputIds"]["items"]
    assert widened == {"$ref": "#/$defs/CiDeployerReference"}


def test_an_id_name_the_spec_no_longer_has_stops_the_generator(gen: ModuleType, vapi_spec: dict[str, Any]) -> None:
    assert "declineToolId" in ID_FIELDS
    del vapi_spec["components"]["schemas"]["RecordingConsentPlanVerbal"]["properties"]["declineToolId"]
    deriver, _ = gen.derive_refs(vapi_spec)
    with pytest.raises(SystemExit, match="declineToolId"):
        gen.check_refs(deriver)


def test_every_nested_id_field_is_widened_to_take_a_slug(gen: ModuleType, vapi_spec: dict[str, Any]) -> None:
    files = gen.build_specs(vapi_spec)
    defs = files["spec/squad.schema.json"]["$defs"]
    ref = "#/$defs/CiDeployerReference"

    def takes_ref(schema: dict[str, Any]) -> bool:
        return schema.get("$ref") == ref or any(b.get("$ref") == ref for b in schema.get("anyOf", []))

    assert takes_ref(defs["SquadMemberDTO"]["properties"]["assistantId"])  # nullable: anyOf [ref, null]
    assert takes_ref(defs["ToolCallHookAction"]["properties"]["toolId"])
    assert takes_ref(defs["ScorecardMetric"]["properties"]["structuredOutputId"])
    assert takes_ref(defs["AssistantOverrides"]["properties"]["credentialIds"]["items"])
    # excluded ids keep Vapi's type
    assert defs["VapiModel"]["properties"]["workflowId"] == {
        "description": "This is the workflow that will be used for the call. To use a transient workflow, use "
        "`workflow` instead.",
        "type": "string",
    }
    assert files["refs.json"]["roots"]["Squad"] == ["CreateSquadDTO"]


# --------------------------------------------------------------------------- oneOf + sibling enum


def test_a_sibling_enum_that_shadows_typed_branches_is_dropped(gen: ModuleType) -> None:
    # VapiVoice.version as the spec writes it: the sibling enum lists only the strings.
    node = {
        "description": "legacy numeric values (1, 2) are also accepted",
        "enum": ["1", "2", "latest"],
        "oneOf": [{"type": "string", "enum": ["1", "2", "latest"]}, {"type": "number", "enum": [1, 2]}],
    }
    out = gen.Converter({}).convert(node, "VapiVoice/properties/version")
    assert "enum" not in out
    assert out["anyOf"] == [{"type": "string", "enum": ["1", "2", "latest"]}, {"type": "number", "enum": [1, 2]}]


def test_a_sibling_enum_is_kept_when_a_branch_allows_any_value(
    gen: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    node = {"enum": ["a", "b"], "oneOf": [{"type": "string"}, {"type": "number", "enum": [1]}]}
    out = gen.Converter({}).convert(node, "X/properties/y")
    assert out["enum"] == ["a", "b"]
    assert "kept enum beside oneOf at X/properties/y" in capsys.readouterr().err


def test_every_one_of_with_a_sibling_enum_in_the_spec_is_audited(committed_spec: dict[str, Any]) -> None:
    # The audit behind the fix: every such case in Vapi's spec has branches with their own values,
    # so dropping the sibling widens nothing the branches do not allow.
    found = []
    for name, schema in committed_spec["components"]["schemas"].items():
        for prop, definition in (schema.get("properties") or {}).items():
            if isinstance(definition, dict) and "oneOf" in definition and "enum" in definition:
                found.append(f"{name}.{prop}")
                branch_values = [v for b in definition["oneOf"] for v in b["enum"]]
                assert all(v in branch_values for v in definition["enum"]), f"{name}.{prop}"
    assert sorted(found) == [
        "FallbackLMNTVoice.language",
        "FallbackVapiVoice.version",
        "LMNTVoice.language",
        "VapiVoice.version",
    ]


@pytest.mark.parametrize("version", [1, 2, "1", "2", "latest"])
def test_vapi_voice_takes_the_legacy_numeric_versions(version: Any) -> None:
    voice = {"provider": "vapi", "voiceId": "Elliot", "version": version}
    assert validate_spec("Assistant", {"voice": voice}) == []
    fallback = {"provider": "11labs", "voiceId": "x", "fallbackPlan": {"voices": [voice]}}
    assert validate_spec("Assistant", {"voice": fallback}) == []


@pytest.mark.parametrize("version", [3, "3", 1.5, "v2", True, None])
def test_vapi_voice_rejects_other_versions_with_a_clear_message(version: Any) -> None:
    # Before: "voice.version: 2 is not one of 1, 2, latest" for a valid 2, which reads as nonsense.
    (issue,) = validate_spec("Assistant", {"voice": {"provider": "vapi", "voiceId": "Elliot", "version": version}})
    assert issue.path == ("voice", "version")
    assert issue.message == 'voice.version must be one of "1", "2", "latest", 1, 2'


def test_lmnt_auto_language_is_accepted() -> None:
    assert validate_spec("Assistant", {"voice": {"provider": "lmnt", "voiceId": "lily", "language": "auto"}}) == []
    assert validate_spec("Assistant", {"voice": {"provider": "lmnt", "voiceId": "lily", "language": "de"}}) == []
    assert validate_spec("Assistant", {"voice": {"provider": "lmnt", "voiceId": "lily", "language": "xx"}}) != []
