from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from validate_helpers import make_doc, rendered

from ci_deployer.validate import compat

OLD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderNumber": {"type": "string"},
        "postalCode": {"type": "string"},
        "reason": {"type": "string", "enum": ["damaged", "other"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    },
    "required": ["orderNumber"],
}


def changes(new: dict[str, Any]) -> list[tuple[str, tuple[Any, ...], str]]:
    return [(c.code, c.path, c.message) for c in compat.compare_schemas(OLD, new)]


def variant(**props: Any) -> dict[str, Any]:
    new = {**OLD, "properties": {**OLD["properties"]}}
    for key, value in props.items():
        if value is None:
            del new["properties"][key]
        else:
            new["properties"][key] = value
    return new


def test_identical_and_added_optional_are_compatible() -> None:
    assert changes(OLD) == []
    assert changes(variant(note={"type": "string"})) == []
    assert changes(variant(reason={"type": "string", "enum": ["damaged", "other", "lost"]})) == []


def test_removed_property() -> None:
    assert changes(variant(postalCode=None)) == [
        ("E-COMPAT-REMOVED", ("properties",), "property 'postalCode' was removed")
    ]


def test_newly_required() -> None:
    new = {**OLD, "required": ["orderNumber", "postalCode", "brandNew"]}
    new["properties"] = {**OLD["properties"], "brandNew": {"type": "string"}}
    assert changes(new) == [
        ("E-COMPAT-REQUIRED", ("required",), "property 'postalCode' is now required (it was optional)"),
        ("E-COMPAT-REQUIRED", ("required",), "property 'brandNew' is now required (it was new)"),
    ]


def test_type_change_nested_and_enum_removal() -> None:
    nested = variant(items={"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "integer"}}}})
    assert changes(nested) == [
        ("E-COMPAT-TYPE", ("properties", "items", "items", "properties", "sku"), "type changed from string to integer")
    ]
    assert changes(variant(reason={"type": "string", "enum": ["other"]})) == [
        ("E-COMPAT-ENUM", ("properties", "reason"), "enum values removed: 'damaged'")
    ]
    assert changes(variant(postalCode={"type": "string", "enum": ["x"]}))[0][0] == "E-COMPAT-ENUM"
    # widening a type is compatible
    assert changes(variant(postalCode={"type": ["string", "null"]})) == []


def test_compare_tools_locates_the_new_document_and_follows_renames() -> None:
    old_doc = make_doc("Tool", "lookup", {"type": "function", "function": {"name": "l", "parameters": OLD}})
    new_spec = {"type": "function", "function": {"name": "l", "parameters": variant(postalCode=None)}}
    new_doc = make_doc("Tool", "lookup-order", new_spec, previous=["lookup"])
    findings = compat.compare_tools({"lookup": rendered(old_doc)}, [rendered(new_doc)], "dev")
    assert len(findings) == 1
    f = findings[0]
    assert f.code == "E-COMPAT-REMOVED"
    assert f.path == "tools/lookup-order.yaml"
    assert f.line == new_doc.position(("spec", "function", "parameters", "properties")).line
    assert (
        f.message
        == "breaking change to Tool 'lookup-order' function.parameters.properties: property 'postalCode' was removed"
    )


def git(cwd: Path, *args: str) -> str:
    env_args = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    out = subprocess.run(["git", *env_args, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_materialize_reads_the_config_folder_at_a_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "platform" / "tools").mkdir(parents=True)
    (repo / "platform" / "tools" / "t.yaml").write_text("old\n", encoding="utf-8")
    (repo / "other.txt").write_text("x\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "platform" / "tools" / "t.yaml").write_text("new\n", encoding="utf-8")
    dest = tmp_path / "out"
    dest.mkdir()
    base_root = compat.materialize(repo / "platform", "main", dest)
    assert base_root == dest / "platform"
    assert (base_root / "tools" / "t.yaml").read_text(encoding="utf-8") == "old\n"
    assert not (dest / "other.txt").exists()
    # a config folder that did not exist at the ref: nothing to compare
    (repo / "newcfg").mkdir()
    assert compat.materialize(repo / "newcfg", "main", tmp_path / "out2") is None


@pytest.mark.parametrize("ref", ["no-such-branch", "main~5"])
def test_unknown_ref_is_one_clear_finding(tmp_path: Path, ref: str) -> None:
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "c")
    with pytest.raises(compat.BaseUnavailable) as exc:
        compat.materialize(tmp_path, ref, tmp_path / "o")
    finding = exc.value.finding
    assert finding.code == "E-COMPAT-BASE"
    assert f"--base {ref}: no such commit" in finding.message
    assert "fetch-depth: 0" in (finding.hint or "")


def test_not_a_git_repository(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    with pytest.raises(compat.BaseUnavailable) as exc:
        compat.materialize(cfg, "main", tmp_path / "o")
    assert "is not inside a git repository" in exc.value.finding.message
