"""The compiled yes/no check answers exactly as jsonschema does.

Schema validation runs jsonschema only for values the compiled check rejects, so a check that said
"valid" where jsonschema finds an error would hide it.  These tests hold the two to the same answer
over every example payload, the bad-input corpus' specs, thousands of deterministic mutations of the
valid examples (every field replaced by values of every JSON type, removed, or joined by an unknown
key; every discriminator switched), and the value rules jsonschema is particular about.
"""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ci_deployer.platform.kinds import KINDS
from ci_deployer.validate import schemas
from ci_deployer.validate.fastcheck import Compiler, Unsupported, equal
from ci_deployer.validate.schemas import schema_dir

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "schemas"
STEM_TO_KIND = {**{k.schema: name for name, k in KINDS.items()}, "policy": "Policy"}
URI = "https://schemas.ci-deployer.invalid/"
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, 10**12, "", "x", "x" * 2000, [], [1], {}, {"a": 1}]


@functools.cache
def _registry() -> Registry:
    root = schema_dir()
    return Registry().with_resources(
        (URI + p.relative_to(root).as_posix(), Resource.from_contents(json.loads(p.read_text()), DRAFT202012))
        for p in root.rglob("*.schema.json")
    )


@functools.cache
def _reference(rel: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": URI + rel}, registry=_registry())


@functools.cache
def _compiler() -> Compiler:
    return Compiler(lambda rel: json.loads((schema_dir() / rel).read_text(encoding="utf-8")))


def _agree(rel: str, value: Any) -> None:
    fast = _compiler().file(rel)(value)
    slow = _reference(rel).is_valid(value)
    assert fast == slow, f"{rel}: compiled check says {fast}, jsonschema says {slow} for {json.dumps(value)[:400]}"


def _example_files() -> list[pathlib.Path]:
    return sorted(EXAMPLES.glob("*/*/*.json"))


def _payload(path: pathlib.Path) -> tuple[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    mode = "create"
    if isinstance(data, dict):
        mode = data.get("_mode", "create")
        value = data.get("_value", data) if "_value" in data else {k: v for k, v in data.items() if k[0] != "_"}
    else:
        value = data
    stem = path.parent.name
    rel = f"spec/{stem}.update.schema.json" if mode == "update" and stem != "policy" else f"spec/{stem}.schema.json"
    return rel, value


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.stem}")
def test_examples_agree(path: pathlib.Path) -> None:
    _agree(*_payload(path))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    out = copy.deepcopy(value)
    if not path:
        return new
    node = out
    for step in path[:-1]:
        node = node[step]
    if new is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return out


_DELETE = object()


def _mutations(value: Any, rng: random.Random) -> Iterator[Any]:
    for path in _paths(value):
        for odd in rng.sample(ODD_VALUES, 5):
            yield _replaced(value, path, odd)
        if path and isinstance(path[-1], str):
            yield _replaced(value, path, _DELETE)
            yield _replaced(value, (*path[:-1], "zzUnknown"), "x")


@pytest.mark.parametrize("stem", sorted(STEM_TO_KIND))
def test_mutations_of_valid_examples_agree(stem: str) -> None:
    rng = random.Random(f"fastcheck-{stem}")  # deterministic: the same mutations every run
    for path in sorted((EXAMPLES / "valid" / stem).glob("*.json")):
        rel, value = _payload(path)
        for mutated in _mutations(value, rng):
            _agree(rel, mutated)


@pytest.mark.parametrize("stem", ["tool", "phone-number", "structured-output", "eval"])
def test_switched_discriminators_agree(stem: str) -> None:
    """Every example with a ``type`` rechecked under every other type of its kind (and a few non-strings)."""
    schema = json.loads((schema_dir() / f"spec/{stem}.schema.json").read_text(encoding="utf-8"))
    types = sorted({b["if"]["properties"]["type"]["const"] for b in schema.get("allOf", []) if "if" in b})
    for path in sorted((EXAMPLES / "valid" / stem).glob("*.json")):
        rel, value = _payload(path)
        if not isinstance(value, dict):
            continue
        for other in [*types, None, 1, ["function"], "nope"]:
            _agree(rel, {**value, "type": other})
            _agree(rel.replace(".schema", ".update.schema"), {**value, "type": other})


def test_corpus_specs_agree() -> None:
    """The specs of the bad-input corpus' documents, as loaded (templates unrendered)."""
    from ci_deployer.config.yamlsource import ParseProblem, parse_text

    checked = 0
    for doc in sorted((HERE.parent / "corpus").rglob("*.yaml")):
        try:
            data = parse_text(doc.read_text(encoding="utf-8"), positions=False).data
        except ParseProblem:
            continue  # broken YAML is part of the corpus
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            continue
        stem = {name: k.schema for name, k in KINDS.items()}.get(str(data.get("kind")))
        if stem is not None:
            _agree(f"spec/{stem}.schema.json", data["spec"])
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ({"const": 1}, [1, 1.0, True, "1", [1]]),
        ({"const": True}, [True, 1, False]),
        ({"enum": [1, "a", None, [True]]}, [1, 1.0, True, "a", None, [True], [1], "b", False]),
        ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None]),
        ({"type": "number"}, [1, 1.5, True, "1"]),
        ({"type": ["string", "null"]}, ["a", None, 0]),
        ({"maxLength": 2}, ["ab", "abc", "ééé"[:2], 123, ["a", "b", "c"]]),
        ({"pattern": "^a"}, ["abc", "ba", 1]),
        ({"pattern": "b"}, ["abc", "xyz"]),
        ({"minimum": 0, "exclusiveMaximum": 10}, [0, -1, 10, 9.99, True, "5"]),
        ({"uniqueItems": True}, [[1, 2], [1, 1], [1, True], [{"a": 1}, {"a": 1}], [[1], [True]], "x"]),
        ({"minItems": 1, "items": {"type": "string"}}, [[], ["a"], [1], "x"]),
        ({"required": ["a"], "properties": {"a": {"type": "string"}}}, [{}, {"a": "x"}, {"a": 1}, [], "a"]),
        ({"properties": {"a": {}}, "additionalProperties": False}, [{"a": 1}, {"b": 1}, []]),
        ({"additionalProperties": {"type": "string"}}, [{"a": "x"}, {"a": 1}]),
        ({"propertyNames": {"maxLength": 1}}, [{"a": 1}, {"ab": 1}]),
        ({"minProperties": 1}, [{}, {"a": 1}, []]),
        ({"not": {"type": "string"}}, ["a", 1]),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, ["a", 1, 1.5]),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1, 1.5, "a"]),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}}, [{"a": 1}, {"c": 1}]),
        (
            {
                "allOf": [
                    {"if": {"properties": {"t": {"const": "x"}}, "required": ["t"]}, "then": {"required": ["x"]}},
                    {"if": {"properties": {"t": {"const": "y"}}, "required": ["t"]}, "then": {"required": ["y"]}},
                    {"type": ["object", "array"]},
                ]
            },
            [{"t": "x"}, {"t": "x", "x": 1}, {"t": "y", "y": 1}, {"t": 1}, {}, {"t": "z"}, [], "s"],
        ),
        ({"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}, ["a", 1]),
        ({"format": "uri", "type": "string"}, ["not a uri", 1]),
        (True, [1, None]),
        (False, [1, None]),
    ],
)
def test_value_rules_agree(schema: Any, values: list[Any]) -> None:
    compiler = Compiler(lambda rel: schema)
    check = compiler.file("x.json")
    for value in values:
        assert check(value) == Draft202012Validator(schema).is_valid(value), (schema, value)


def test_unknown_keywords_are_refused_not_guessed() -> None:
    for schema in ({"patternProperties": {"a": {}}, "additionalProperties": False}, {"contains": {}}, {"$id": "x"}):
        with pytest.raises(Unsupported):
            Compiler(lambda rel, s=schema: s).file("x.json")


def test_equal_tells_booleans_from_numbers() -> None:
    assert equal(1, 1.0)
    assert not equal(True, 1)
    assert not equal([True], [1])
    assert equal({"a": [1]}, {"a": [1.0]})


def test_validate_spec_uses_jsonschema_only_for_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid payload never builds a jsonschema validator; an invalid one is explained by it."""
    built: list[str] = []
    real = schemas._validator

    def spy(rel: str) -> Any:
        built.append(rel)
        return real(rel)

    monkeypatch.setattr(schemas, "_validator", spy)
    ok = {"type": "function", "function": {"name": "lookup"}}
    assert schemas.validate_spec("Tool", ok) == []
    assert built == []
    issues = schemas.validate_spec("Tool", {**ok, "bogus": 1})
    assert built == ["spec/tool.schema.json"]
    assert [i.message for i in issues] == ["property 'bogus' should not exist"]
