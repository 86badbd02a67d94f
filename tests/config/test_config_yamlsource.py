"""Reading and parsing files: positions, duplicate keys, bombs, encodings, sizes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

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


def test_scalars_are_typed_like_safe_load() -> None:
    text = "a: yes\nb: 1e5\nc: 1.5\nd: 2026-01-01\ne: ~\nf: '12'\ng: 0x1f\nh: 9:30\n"
    assert parse_text(text).data == yaml.safe_load(text)
    assert parse_text(text).data["d"] == dt.date(2026, 1, 1)


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
