"""Reading and parsing files: positions, duplicate keys, bombs, encodings, sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_deployer.config import yamlsource
from ci_deployer.config.yamlsource import MAX_DEPTH, ParseProblem, parse_text, read_text


def problem_of(text: str, *, json_file: bool = False) -> ParseProblem:
    with pytest.raises(ParseProblem) as info:
        parse_text(text, json_file=json_file)
    return info.value


def test_positions_of_nested_keys_and_list_items() -> None:
    text = "spec:\n  model:\n    toolIds:\n      - jira\n      - {ref: tool/zendesk}\n"
    parsed = parse_text(text)
    assert parsed.positions[("spec",)] == (1, 1)
    assert parsed.positions[("spec", "model")] == (2, 3)
    assert parsed.positions[("spec", "model", "toolIds")] == (3, 5)
    assert parsed.positions[("spec", "model", "toolIds", 0)] == (4, 9)
    assert parsed.positions[("spec", "model", "toolIds", 1, "ref")] == (5, 10)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # YAML 1.2 core schema (yaml.org/spec/1.2.2 §10.3.2): only these six spellings are booleans
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        # ... YAML 1.1's other booleans stay strings (PyYAML's safe_load makes them True/False)
        ("on", "on"),
        ("off", "off"),
        ("yes", "yes"),
        ("no", "no"),
        ("y", "y"),
        ("n", "n"),
        ("Yes", "Yes"),
        ("ON", "ON"),
        # null
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("~", None),
        ("", None),
        ("nul", "nul"),
        # integers: decimal (a leading 0 is not octal), 0o octal, 0x hex
        ("0", 0),
        ("-12", -12),
        ("+12", 12),
        ("017", 17),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1:20", "1:20"),  # YAML 1.1 sexagesimal (80) is gone
        ("0X1F", "0X1F"),
        ("-0x1F", "-0x1F"),
        # floats
        ("1.5", 1.5),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e5", 100000.0),  # YAML 1.1 needs a dot: PyYAML reads 1e5 as a string
        ("6.02E+23", 6.02e23),
        ("1.2.3", "1.2.3"),
        # timestamps are not a 1.2 core type
        ("2026-01-01", "2026-01-01"),
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"),
        # quoted scalars are strings whatever they spell
        ("'true'", "true"),
        ('"12"', "12"),
        ("'~'", "~"),
        ("!!str 12", "12"),
        ("!!int 12", 12),
        ("!!float 3", 3.0),
        ("!!bool false", False),
        ("!!null null", None),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: Any) -> None:
    data = parse_text(f"v: {text}\n").data
    assert data == {"v": value}
    assert type(data["v"]) is type(value)


@pytest.mark.parametrize("key", ["on", "off", "yes", "no", "y", "n", "Off", "NO"])
def test_yaml_1_1_boolean_words_stay_string_keys(key: str) -> None:
    # Vapi's own examples write hooks as `- on: customer.speech.timeout`; YAML 1.1 makes that key True.
    parsed = parse_text(f"hooks:\n  - {key}: customer.speech.timeout\n    do: []\n")
    assert parsed.data == {"hooks": [{key: "customer.speech.timeout", "do": []}]}
    assert parsed.positions[("hooks", 0, key)] == (2, 5)


@pytest.mark.parametrize(
    ("text", "literal", "column"),
    [
        ("temperature: .nan\n", ".nan", 14),
        ("temperature: .NaN\n", ".NaN", 14),
        ("temperature: .inf\n", ".inf", 14),
        ("temperature: -.Inf\n", "-.Inf", 14),
        ("temperature: +.INF\n", "+.INF", 14),
        ("temperature: 1e400\n", "1e400", 14),  # overflows to infinity
        ("temperature: !!float .nan\n", ".nan", 14),
    ],
)
def test_nan_and_infinity_are_located_errors(text: str, literal: str, column: int) -> None:
    problem = problem_of("model:\n  " + text)
    assert problem.code == "E-YAML-NONFINITE"
    assert literal in problem.message
    assert "NaN or Infinity" in problem.message
    assert (problem.line, problem.column) == (2, column + 2)
    assert "quote" in problem.hint


def test_quoted_nan_is_a_string() -> None:
    assert parse_text("a: '.nan'\nb: \".inf\"\n").data == {"a": ".nan", "b": ".inf"}


@pytest.mark.parametrize(
    ("text", "what", "position"),
    [
        ("1: one\n", "a number", (1, 1)),
        ("spec:\n  true: x\n", "a boolean", (2, 3)),
        ("spec:\n  model:\n    ~: x\n", "null", (3, 5)),
        ("a:\n  - 1.5: x\n", "a number", (2, 5)),
        ("{0x10: a}\n", "a number", (1, 2)),
        ("? null\n: x\n", "null", (1, 3)),
    ],
)
def test_non_string_keys_are_located_errors(text: str, what: str, position: tuple[int, int]) -> None:
    problem = problem_of(text)
    assert problem.code == "E-YAML-KEY"
    assert f"is {what}, not a string" in problem.message
    assert (problem.line, problem.column) == position
    assert problem.hint.startswith("quote the key")


def test_quoted_keys_that_look_typed_are_strings() -> None:
    assert parse_text("'1': a\n\"true\": b\n'null': c\n").data == {"1": "a", "true": "b", "null": "c"}


def test_keys_equal_under_1_2_typing_are_duplicates() -> None:
    problem = problem_of("on: a\n'on': b\n")
    assert (problem.code, problem.line) == ("E-YAML-DUPKEY", 2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!bool yes\n", "'yes' is not a valid !!bool value"),
        ("a: !!int 1_000\n", "'1_000' is not a valid !!int value"),
        ("a: !!null nothing\n", "'nothing' is not a valid !!null value"),
    ],
)
def test_explicit_tags_must_fit_the_1_2_core_schema(text: str, fragment: str) -> None:
    problem = problem_of(text)
    assert problem.code == "E-YAML-VALUE"
    assert fragment in problem.message
    assert (problem.line, problem.column) == (1, 4)


def test_timestamp_tag_is_not_supported() -> None:
    assert problem_of("a: !!timestamp 2026-01-01\n").code == "E-YAML-TAG"


def test_merge_key_only_merges_as_a_plain_key() -> None:
    assert parse_text("b: &b {x: 1}\nc:\n  '<<': *b\nd: <<\n").data == {"b": {"x": 1}, "c": {"<<": {"x": 1}}, "d": "<<"}


def test_huge_integer_is_a_located_error() -> None:
    problem = problem_of("a: " + "9" * 5000 + "\n")
    assert (problem.code, problem.line, problem.column) == ("E-YAML-VALUE", 1, 4)


def test_pure_python_fallback_types_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without libyaml, PyYAML's pure-Python parser composes the nodes; the results must not change.
    text = "on: yes\nhooks:\n  - {on: x, n: [1, .5, 0x1f, 017, 2026-01-01, ~, true]}\n"
    fast = parse_text(text)
    monkeypatch.setattr(yamlsource, "_LOADERS", [])
    monkeypatch.delattr(yaml, "CBaseLoader")
    assert "CBaseLoader" not in [c.__name__ for c in yamlsource.composer_class().__mro__]
    slow = parse_text(text)
    assert (slow.data, slow.positions) == (fast.data, fast.positions)
    assert problem_of("a: .nan\n").code == "E-YAML-NONFINITE"


def test_libyaml_is_used_when_present() -> None:
    if not hasattr(yaml, "CBaseLoader"):
        pytest.skip("PyYAML without libyaml")
    assert issubclass(yamlsource.composer_class(), yaml.CBaseLoader)


def test_duplicate_key_is_an_error_with_the_second_position() -> None:
    problem = problem_of("spec:\n  name: a\n  model: {}\n  name: b\n")
    assert problem.code == "E-YAML-DUPKEY"
    assert "'name'" in problem.message
    assert (problem.line, problem.column) == (4, 3)


def test_merge_keys_let_explicit_keys_win_without_a_duplicate_error() -> None:
    parsed = parse_text("base: &b {x: 1, y: 2}\nchild:\n  y: 3\n  <<: *b\n")
    assert parsed.data["child"] == {"x": 1, "y": 3}
    assert parsed.positions[("child", "y")] == (3, 3)


def test_alias_bomb_stops_with_a_finding() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    problem = problem_of("\n".join(lines) + "\n")
    assert problem.code == "E-YAML-TOO-MANY-NODES"
    assert problem.line is not None


def test_recursive_alias_is_refused() -> None:
    assert problem_of("a: &x [1, *x]\n").code == "E-YAML-ALIAS"


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 5
    assert problem_of("[" * depth + "]" * depth).code == "E-YAML-DEPTH"
    assert problem_of("[" * depth + "]" * depth, json_file=True).code == "E-YAML-DEPTH"


@pytest.mark.parametrize(
    "text", ["a: !!python/object/apply:os.system [ls]\n", "a: !!binary aGVsbG8=\n", "a: !custom 1\n"]
)
def test_unsupported_tags_are_refused(text: str) -> None:
    problem = problem_of(text)
    assert problem.code == "E-YAML-TAG"
    assert problem.line == 1


def test_multiple_documents_point_at_the_second() -> None:
    problem = problem_of("kind: Tool\n---\nkind: Tool\n")
    assert problem.code == "E-YAML-MULTIDOC"
    assert problem.line == 2
    assert "own file" in problem.hint


def test_tabs_give_a_syntax_error_with_position_and_hint() -> None:
    problem = problem_of("spec:\n\tname: x\n")
    assert problem.code == "E-YAML-SYNTAX"
    assert problem.line == 2
    assert "spaces" in problem.hint


def test_invalid_yaml_has_a_position() -> None:
    problem = problem_of("spec:\n  name: [unclosed\n  other: 1\n")
    assert problem.code == "E-YAML-SYNTAX"
    assert problem.line is not None and problem.line >= 2


def test_json_keeps_json_types_and_positions() -> None:
    parsed = parse_text('{\n  "a": 1e5,\n  "b": {"c": [true, null]}\n}\n', json_file=True)
    assert parsed.data == {"a": 100000.0, "b": {"c": [True, None]}}
    assert parsed.positions[("b", "c", 1)] == (3, 21)


@pytest.mark.parametrize(
    ("text", "literal", "position"),
    [
        ('{\n  "temperature": NaN\n}\n', "NaN", (2, 18)),
        ('{"a": "NaN and Infinity in a string", "b": [1,\n  Infinity]}', "Infinity", (2, 3)),
        ('{"a": -Infinity}', "-Infinity", (1, 7)),
        ('{"a": "1e400", "b": 1e400}', "1e400", (1, 21)),
    ],
)
def test_json_nan_and_infinity_are_located_errors(text: str, literal: str, position: tuple[int, int]) -> None:
    problem = problem_of(text, json_file=True)
    assert problem.code == "E-YAML-NONFINITE"
    assert literal in problem.message
    assert (problem.line, problem.column) == position


def test_json_keys_that_look_typed_stay_strings_with_positions() -> None:
    parsed = parse_text('{"on": {"true": 1, "1": null}}', json_file=True)
    assert parsed.data == {"on": {"true": 1, "1": None}}
    assert parsed.positions[("on", "true")] == (1, 9)


def test_invalid_json_says_json() -> None:
    problem = problem_of('{"a": 1,\n "b": }\n', json_file=True)
    assert problem.code == "E-JSON-SYNTAX"
    assert problem.message.startswith("invalid JSON")
    assert problem.line == 2


def test_json_duplicate_key_is_an_error() -> None:
    problem = problem_of('{"a": 1,\n "a": 2}', json_file=True)
    assert problem.code == "E-YAML-DUPKEY"
    assert problem.line == 2


def test_empty_and_comment_only_files_parse_to_none() -> None:
    assert parse_text("").data is None
    assert parse_text("# nothing here\n").data is None
    assert parse_text("  \n", json_file=True).data is None


def test_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing written
    with pytest.raises(ParseProblem) as info:
        read_text(big, 5 * 1024 * 1024)
    assert info.value.code == "E-FILE-TOO-LARGE"
    assert "52,428,800" in info.value.message


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"kind: Tool\nname: \x00\x01\x02")
    with pytest.raises(ParseProblem) as info:
        read_text(path, 1000)
    assert (info.value.code, info.value.line) == ("E-FILE-BINARY", 2)


def test_non_utf8_is_refused_with_position(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"kind: Tool\nname: caf" + b"\xe9\n")
    with pytest.raises(ParseProblem) as info:
        read_text(path, 1000)
    assert (info.value.code, info.value.line, info.value.column) == ("E-ENCODING", 2, 10)
    assert "0xe9" in info.value.message


def test_utf16_and_bom(tmp_path: Path) -> None:
    utf16 = tmp_path / "a.yaml"
    utf16.write_bytes("kind: Tool".encode("utf-16"))
    with pytest.raises(ParseProblem) as info:
        read_text(utf16, 1000)
    assert info.value.code == "E-ENCODING"
    bom = tmp_path / "b.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode())
    assert parse_text(read_text(bom, 1000), json_file=True).data == {"a": 1}


def test_control_character_is_a_syntax_error() -> None:
    problem = problem_of("a: b\x07c\n")
    assert problem.code == "E-YAML-SYNTAX"
    assert problem.line == 1
