"""The JSON Schemas and the validation API, tested with folders of real Vapi payloads.

``tests/schemas/valid/<kind>/*.json`` must produce no issue; each file in
``tests/schemas/invalid/<kind>/*.json`` carries the expected message fragment in ``_expect`` (and
optionally ``_path``, ``_hint``, ``_mode``, or ``_value`` for a non-object payload); the ``_`` keys
are stripped before validation.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import pathlib
import sys
import threading
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ci_deployer.paths import format_path
from ci_deployer.platform.kinds import DOCUMENT_KINDS, KINDS
from ci_deployer.validate.schemas import (
    SchemaIssue,
    schema_dir,
    validate_document,
    validate_envelope,
    validate_environments,
    validate_spec,
)

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "schemas"
REPO = HERE.parent.parent
SPEC = REPO / "scripts" / "vapi-openapi.json"  # the generator's input, committed

STEM_TO_KIND = {**{k.schema: name for name, k in KINDS.items()}, "policy": "Policy"}


def _examples(direction: str) -> list[Any]:
    files = sorted((EXAMPLES / direction).glob("*/*.json"))
    return [pytest.param(f, id=f"{f.parent.name}/{f.stem}") for f in files]


def _messages(issues: list[SchemaIssue]) -> str:
    return "\n".join(f"{format_path(i.path)}: {i.message} (hint: {i.hint})" for i in issues)


# --------------------------------------------------------------------------- example folders


def test_every_kind_has_valid_and_invalid_examples() -> None:
    for direction in ("valid", "invalid"):
        folders = {p.name for p in (EXAMPLES / direction).iterdir() if p.is_dir()}
        assert folders == set(STEM_TO_KIND), direction


@pytest.mark.parametrize("path", _examples("valid"))
def test_valid_payload_passes(path: pathlib.Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload.pop("_source", None)  # where a real-world example came from
    issues = validate_spec(STEM_TO_KIND[path.parent.name], payload)
    assert issues == [], _messages(issues)


@pytest.mark.parametrize("path", _examples("valid"))
def test_valid_payload_is_a_valid_patch_body_too(path: pathlib.Path) -> None:
    # apply PATCHes the same rendered spec it would POST (without `number` for phone numbers)
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload.pop("_source", None)
    issues = validate_spec(STEM_TO_KIND[path.parent.name], payload, mode="update")
    assert issues == [], _messages(issues)


@pytest.mark.parametrize("path", _examples("invalid"))
def test_invalid_payload_fails_with_message(path: pathlib.Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    expect = payload.pop("_expect")
    want_path = payload.pop("_path", None)
    want_hint = payload.pop("_hint", None)
    mode = payload.pop("_mode", "create")
    value = payload.pop("_value", payload)
    issues = validate_spec(STEM_TO_KIND[path.parent.name], value, mode=mode)
    matching = [i for i in issues if expect in i.message]
    assert matching, f"expected {expect!r} among:\n{_messages(issues)}"
    if want_path is not None:
        assert format_path(matching[0].path) == want_path
    if want_hint is not None:
        assert matching[0].hint == want_hint


# --------------------------------------------------------------------------- messages


def test_unknown_property_points_at_the_property_with_did_you_mean() -> None:
    issues = validate_spec("Assistant", {"model": {"provider": "openai", "model": "gpt-4.1", "temprature": 0.2}})
    assert issues == [
        SchemaIssue(
            ("model", "temprature"), "property 'model.temprature' should not exist", "did you mean 'temperature'?"
        )
    ]


def test_provider_branch_errors_only_name_the_chosen_branch() -> None:
    issues = validate_spec("Assistant", {"model": {"provider": "openai", "model": "gpt-9"}})
    assert len(issues) == 1, _messages(issues)
    msg = issues[0].message
    assert msg.startswith("model.model: 'gpt-9' is not one of ")
    assert "gpt-4" in msg  # the closest names come first
    assert "claude" not in msg  # not the anthropic branch's enum
    assert msg.endswith("more)")  # the enum is capped, not ~150 names
    assert len(msg) < 200


def test_every_error_of_a_payload_is_reported() -> None:
    issues = validate_spec("Assistant", {"name": "x" * 41, "foo": 1, "maxDurationSeconds": "long"})
    assert [format_path(i.path) for i in issues] == ["foo", "maxDurationSeconds", "name"]


def test_template_left_in_number_field_gets_a_hint() -> None:
    (issue,) = validate_spec("Assistant", {"maxDurationSeconds": "${{ params.max }}0"})
    assert issue.message == "maxDurationSeconds must be a number"
    assert issue.hint is not None
    assert "whole value" in issue.hint


def test_null_is_accepted_only_where_vapi_takes_it() -> None:
    # a removed top-level field is PATCHed as null (the phone number detached from its assistant)
    assert validate_spec("PhoneNumber", {"assistantId": None, "squadId": None}, mode="update") == []
    assert validate_spec("Assistant", {"name": None, "voice": None}, mode="update") == []
    (issue,) = validate_spec("Assistant", {"name": None})
    assert issue.message == "name must be a string"
    (issue,) = validate_spec("Assistant", {"name": "x" * 41}, mode="update")
    assert issue.message == "name must be shorter than or equal to 40 characters"
    (issue,) = validate_spec("Assistant", {"name": 3}, mode="update")
    assert issue.message == "name must be a string or null"


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown document kind 'Workflow'"):
        validate_spec("Workflow", {})


# --------------------------------------------------------------------------- update mode


def test_update_mode_members_only_squad_patch_passes() -> None:
    assert validate_spec("Squad", {"members": [{"assistantId": "order-agent"}]}, mode="update") == []


def test_update_mode_squad_still_requires_members() -> None:
    # UpdateSquadDTO requires `members`: Vapi answers 400 to a squad PATCH without them.
    (issue,) = validate_spec("Squad", {"name": "renamed"}, mode="update")
    assert issue.message == "members is required"


def test_update_mode_relaxes_top_level_required_only() -> None:
    assert validate_spec("StructuredOutput", {"description": "new"}, mode="update") == []
    assert validate_spec("PhoneNumber", {"assistantId": "order-agent"}, mode="update") == []
    assert validate_spec("Tool", {"type": "apiRequest", "timeoutSeconds": 10}, mode="update") == []
    # nested objects are replaced whole on PATCH, so their own required fields still apply
    (issue,) = validate_spec("Assistant", {"voice": {"provider": "11labs"}}, mode="update")
    assert issue.message == "voice.voiceId is required"


def test_update_mode_rejects_unknown_properties() -> None:
    (issue,) = validate_spec("Assistant", {"nmae": "x"}, mode="update")
    assert issue.message == "property 'nmae' should not exist"
    assert issue.hint == "did you mean 'name'?"
    issues = validate_spec("Tool", {"type": "function", "functon": {}}, mode="update")
    assert [i.message for i in issues] == ["property 'functon' should not exist"]


def test_update_mode_tool_without_type_accepts_any_branch() -> None:
    assert validate_spec("Tool", {"function": {"name": "lookup_invoice"}}, mode="update") == []
    assert validate_spec("Tool", {"bogus": 1}, mode="update") != []


# --------------------------------------------------------------------------- envelope


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "ci-deployer/v1",
        "kind": "Assistant",
        "metadata": {
            "name": "order-agent",
            "previousNames": ["orders"],
            "description": "Handles order inquiries",
            "labels": {"app": "orders", "owner": "team-orders"},
            "environments": ["dev", "uat", "prod"],
        },
        "policies": ["safety"],
        "spec": {"name": "Order Agent"},
    }
    doc.update(over)
    return doc


def test_envelope_valid() -> None:
    assert validate_envelope(_doc()) == []
    for kind in DOCUMENT_KINDS:
        assert validate_envelope(_doc(kind=kind)) == []


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"apiVersion": "v1"}, "apiVersion", "apiVersion must be 'ci-deployer/v1'"),
        ({"kind": "Assistent"}, "kind", "kind: 'Assistent' is not one of Tool"),
        ({"metadata": {"name": "Order_Agent"}}, "metadata.name", "does not match the pattern"),
        ({"metadata": {"name": "a" * 41}}, "metadata.name", "shorter than or equal to 40 characters"),
        ({"metadata": {"name": "a", "labels": {"n": 1}}}, "metadata.labels.n", "metadata.labels.n must be a string"),
        ({"metadata": {}}, "metadata.name", "metadata.name is required"),
        ({"policies": ["Safety Policy"]}, "policies[0]", "does not match the pattern"),
        ({"spec": "x"}, "spec", "spec must be an object"),
        ({"specs": {}}, "specs", "property 'specs' should not exist"),
    ],
)
def test_envelope_invalid(change: dict[str, Any], path: str, fragment: str) -> None:
    issues = validate_envelope(_doc(**change))
    assert any(fragment in i.message and format_path(i.path) == path for i in issues), _messages(issues)


def test_envelope_unknown_top_level_key_suggests() -> None:
    (issue,) = validate_envelope(_doc(polices=["a"]))
    assert issue.hint == "did you mean 'policies'?"


def test_document_validation_prefixes_spec_paths() -> None:
    doc = _doc(spec={"name": "x" * 41, "nmae": "y"})
    issues = validate_document(doc)
    assert [(format_path(i.path), i.message) for i in issues] == [
        ("spec.name", "spec.name must be shorter than or equal to 40 characters"),
        ("spec.nmae", "property 'spec.nmae' should not exist"),
    ]


# --------------------------------------------------------------------------- environments.yaml


def _envs() -> dict[str, Any]:
    return {
        "apiVersion": "ci-deployer/v1",
        "defaults": {"params": {"model": "gpt-4.1-mini"}},
        "environments": {
            "dev": {"org": "acme-dev", "api": {"url": "embedded"}},
            "uat": {
                "org": "acme-uat",
                "api": {"url": "https://api.vapi.ai", "token": "secrets://VAPI_TOKEN_UAT"},
                "params": {"model": "gpt-4.1"},
                "credentials": {"twilio-main": "7d1c0000-0000-4000-8000-000000000001"},
                "drift": "warn",
                "allowDeletes": True,
            },
            "prod": {
                "org": "acme-prod",
                "api": {"url": "https://api.vapi.ai", "token": "secrets://VAPI_TOKEN_PROD"},
                "promotesFrom": "uat",
                "ignore": ["name:Legacy *"],
                "planAgainst": "snapshot",
                "protection": {
                    "requiredApprovals": 2,
                    "reviewers": ["alice", "bob", "@acme/platform-owners"],
                    "changeWindows": [
                        {
                            "days": ["mon", "tue", "wed", "thu"],
                            "start": "09:00",
                            "end": "16:00",
                            "timezone": "America/New_York",
                        }
                    ],
                    # PyYAML reads unquoted dates as datetime.date
                    "freezes": [{"from": dt.date(2026, 12, 20), "to": dt.date(2027, 1, 4), "reason": "holiday freeze"}],
                    "ticket": {"pattern": "(CHG|INC)-[0-9]+", "url": "https://jira.acme.example/browse/{ticket}"},
                    "planAgainst": "snapshot",
                    "monitoring": [],
                },
            },
        },
    }


def test_environments_valid() -> None:
    assert validate_environments(_envs()) == []


def test_environments_unquoted_time_gets_a_hint() -> None:
    data = _envs()
    data["environments"]["prod"]["protection"]["changeWindows"][0]["start"] = 540  # YAML 1.1: 09:00 → 540
    (issue,) = validate_environments(data)
    assert format_path(issue.path) == "environments.prod.protection.changeWindows[0].start"
    assert issue.message.endswith("must be a string")
    assert issue.hint is not None
    assert "quote" in issue.hint


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [
        (
            lambda d: d["environments"]["dev"].update(drift="error"),
            "environments.dev.drift",
            "'error' is not one of warn, fail",
        ),
        (lambda d: d["environments"]["dev"].pop("org"), "environments.dev.org", "environments.dev.org is required"),
        (
            lambda d: d["environments"]["dev"]["api"].update(url="api.vapi.ai"),
            "environments.dev.api.url",
            "does not match",
        ),
        (lambda d: d["environments"]["uat"].update(allowDelete=True), "environments.uat.allowDelete", "did-you-mean"),
        (
            lambda d: d["environments"]["prod"]["protection"]["changeWindows"][0].update(days=["monday"]),
            "environments.prod.protection.changeWindows[0].days[0]",
            "'monday' is not one of mon",
        ),
        (
            lambda d: d["environments"]["prod"]["protection"].update(requiredApprovals=-1),
            "environments.prod.protection.requiredApprovals",
            "must not be less than 0",
        ),
        (lambda d: d.pop("apiVersion"), "apiVersion", "apiVersion is required"),
    ],
)
def test_environments_invalid(mutate: Any, path: str, fragment: str) -> None:
    data = _envs()
    mutate(data)
    issues = validate_environments(data)
    if fragment == "did-you-mean":
        assert any(i.hint == "did you mean 'allowDeletes'?" and format_path(i.path) == path for i in issues), _messages(
            issues
        )
    else:
        assert any(fragment in i.message and format_path(i.path) == path for i in issues), _messages(issues)


# --------------------------------------------------------------------------- the files themselves


def test_schema_dir_is_the_source_tree_here() -> None:
    assert schema_dir() == REPO / "schemas"


def _registry_from_files() -> Registry[Any]:
    root = schema_dir()
    resources = [
        (p.resolve().as_uri(), Resource.from_contents(json.loads(p.read_text(encoding="utf-8")), DRAFT202012))
        for p in root.rglob("*.schema.json")
    ]
    return Registry().with_resources(resources)


def test_document_schema_works_offline_for_editors() -> None:
    # Editors resolve `$ref: spec/assistant.schema.json` relative to the file: do the same with file:// URIs.
    registry = _registry_from_files()
    uri = (schema_dir() / "document.schema.json").resolve().as_uri()
    validator = Draft202012Validator({"$ref": uri}, registry=registry)
    assert list(validator.iter_errors(_doc())) == []
    bad = _doc(spec={"name": "x" * 41})
    assert [list(e.absolute_path) for e in validator.iter_errors(bad)] == [["spec", "name"]]
    tool = _doc(kind="Tool", spec={"type": "function", "function": {"name": "lookup invoice"}})
    assert [list(e.absolute_path) for e in validator.iter_errors(tool)] == [["spec", "function", "name"]]


def test_every_schema_file_is_valid_2020_12_without_network() -> None:
    for path in schema_dir().rglob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_no_javascript_regex_delimiters_or_openapi_keywords_remain() -> None:
    text = (schema_dir() / "spec" / "assistant.schema.json").read_text(encoding="utf-8")
    for bad in ('"nullable"', '"discriminator"', '"example"', '"pattern": "/', "\\\\p{L}", "#/components/"):
        assert bad not in text


def test_concurrent_validation_is_consistent() -> None:
    payload = json.loads((EXAMPLES / "invalid" / "assistant" / "bad-openai-model.json").read_text(encoding="utf-8"))
    payload.pop("_expect")
    payload.pop("_path")
    expected = validate_spec("Assistant", payload)
    results: list[tuple[list[SchemaIssue], list[SchemaIssue]]] = []

    def work() -> None:
        for _ in range(20):
            results.append((validate_spec("Assistant", payload), validate_spec("Tool", {"type": "endCall"})))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160
    assert all(assistant == expected and tool == [] for assistant, tool in results)


def test_committed_schemas_are_what_the_generator_writes(tmp_path: pathlib.Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_schemas", REPO / "scripts" / "gen_schemas.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_schemas"] = gen
    try:
        spec.loader.exec_module(gen)
        assert gen.main(["--spec", str(SPEC), "--out", str(tmp_path)]) == 0
    finally:
        del sys.modules["gen_schemas"]
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json")}
    committed = {
        p.relative_to(schema_dir()).as_posix(): p.read_text(encoding="utf-8") for p in schema_dir().rglob("*.json")
    }
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"run scripts/gen_schemas.py: {stale} are out of date"
