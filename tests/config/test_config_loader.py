"""load_repo: environments.yaml, document discovery, envelope checks, findings with positions."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_deployer import redact
from ci_deployer.config.loader import load_repo
from ci_deployer.errors import ConfigError
from ci_deployer.findings import Finding

MakeRepo = Callable[..., Path]

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: jira}
spec: {type: function, function: {name: jira}}
"""

LISTED_TOOL = "- " + TOOL.rstrip("\n").replace("\n", "\n  ") + "\n"  # TOOL as a list item


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def test_missing_root_and_missing_environments_raise(tmp_path: Path, make_repo: MakeRepo) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_repo(tmp_path / "nope")
    root = make_repo({}, environments=None)
    with pytest.raises(ConfigError, match=r"environments\.yaml not found") as info:
        load_repo(root)
    assert info.value.hint is not None


def test_environments_defaults_and_protection(make_repo: MakeRepo) -> None:
    repo, findings = load_repo(make_repo({}))
    assert findings == []
    dev, uat, prod = repo.environments["dev"], repo.environments["uat"], repo.environments["prod"]
    assert (dev.api_url, dev.api_token) == ("embedded", None)
    assert (dev.drift, dev.allow_deletes, dev.plan_against, dev.protection) == ("warn", True, "live", None)
    assert uat.params == {"model": "gpt-4.1", "temperature": 0.2, "nested": {"a": 1, "b": 3}}
    assert uat.credentials == {"twilio-main": "7d1c0000-0000-0000-0000-000000000001"}
    assert uat.api_token == "secrets://VAPI_TOKEN_UAT"
    assert (prod.drift, prod.allow_deletes, prod.plan_against) == ("fail", False, "snapshot")
    assert prod.promotes_from == "uat"
    assert prod.protection is not None
    assert prod.protection.required_approvals == 2
    assert prod.protection.reviewers == ["alice", "@acme/platform-owners"]
    window = prod.protection.change_windows[0]
    # `end: 16:00` unquoted: YAML 1.2 reads it as the string meant (1.1 made it the sexagesimal 960).
    assert (window.days, window.start, window.end, window.timezone) == (
        ["mon", "tue"],
        "09:00",
        "16:00",
        "America/New_York",
    )
    freeze = prod.protection.freezes[0]
    assert (freeze.start, freeze.end, freeze.reason) == ("2026-12-20", "2027-01-04", "holiday freeze")
    assert prod.protection.ticket is not None and prod.protection.ticket.pattern == "(CHG|INC)-[0-9]+"
    assert (prod.position.file, prod.position.line) == ("environments.yaml", 13)


def test_explicit_values_win_over_protection_defaults(make_repo: MakeRepo) -> None:
    envs = """\
apiVersion: ci-deployer/v1
environments:
  prod:
    org: p
    api: {url: embedded}
    drift: warn
    allowDeletes: true
    planAgainst: live
    protection: {requiredApprovals: 1}
"""
    repo, findings = load_repo(make_repo({}, environments=envs))
    assert findings == []
    prod = repo.environments["prod"]
    assert (prod.drift, prod.allow_deletes, prod.plan_against) == ("warn", True, "live")


def test_literal_token_is_an_error_and_never_echoed(make_repo: MakeRepo) -> None:
    token = "sk-live-0123456789abcdef"
    envs = (
        "apiVersion: ci-deployer/v1\nenvironments:\n  uat:\n    org: u\n"
        f"    api: {{url: https://api.vapi.ai, token: {token}}}\n"
    )
    repo, findings = load_repo(make_repo({}, environments=envs))
    bad = only(findings, "E-ENV-TOKEN-LITERAL")
    assert (bad.path, bad.line) == ("environments.yaml", 5)
    assert token not in repr(findings)
    assert token in redact.registered()
    assert "uat" not in repo.environments


def test_environment_mistakes_are_findings(make_repo: MakeRepo) -> None:
    envs = """\
apiVersion: ci-deployer/v1
environments:
  dev:
    org: d
    api: {url: embedded}
    drfit: warn
    promotesFrom: stage
    protection:
      changeWindows: [{days: [mon, funday], start: "9am", end: "10:00", timezone: Mars/Base}]
      ticket: {pattern: "(unclosed"}
  uat:
    org: u
    api: {url: https://api.vapi.ai}
"""
    _repo, findings = load_repo(make_repo({}, environments=envs))
    unknown = only(findings, "E-ENV-UNKNOWN-KEY")
    assert "did you mean 'drift'" in unknown.message
    assert unknown.line == 6
    assert only(findings, "E-ENV-PROMOTES").line == 7
    values = [f for f in findings if f.code == "E-ENV-VALUE"]
    assert {f.json_path.rsplit(".", 1)[-1] for f in values} >= {"days", "start", "timezone", "pattern"}
    assert "token is required" in only(findings, "E-ENV-API").message
    assert all(f.hint for f in findings)


def test_broken_environments_yaml_is_a_finding(make_repo: MakeRepo) -> None:
    repo, findings = load_repo(make_repo({}, environments="environments:\n  dev: {org: [\n"))
    assert codes(findings) == ["E-YAML-SYNTAX"]
    assert findings[0].path == "environments.yaml"
    assert repo.environments == {}


def test_documents_are_found_and_other_files_skipped(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "tools/jira.yaml": TOOL,
            "schemas/params.json": '{"type": "object"}',
            "notes/list.yml": "- a\n- b\n",
            ".ci-deployer/state/x.yaml": "kind: Tool\n",
            ".hidden.yaml": "kind: Tool\n",
            "prompts/a.md": "not yaml: [",
        }
    )
    repo, findings = load_repo(root)
    assert findings == []
    assert [d.key for d in repo.documents] == ["Tool/jira"]
    doc = repo.documents[0]
    assert doc.file == "tools/jira.yaml"
    assert doc.position(("spec", "function", "name")).line == 4
    assert repo.documents[0].metadata.environments is None


@pytest.mark.parametrize(
    ("name", "content", "line", "column"),
    [
        ("tools/all.yaml", "# two tools\n" + LISTED_TOOL + LISTED_TOOL, 2, 3),
        ("tools/one.yaml", LISTED_TOOL, 1, 3),
        ("tools/all.json", '[\n  {"apiVersion": "ci-deployer/v1", "kind": "Tool"}\n]\n', 2, 3),
        ("tools/mixed.yaml", "- just a note\n- kind: Tool\n", 2, 3),
    ],
)
def test_a_list_of_documents_is_a_located_error(
    make_repo: MakeRepo, name: str, content: str, line: int, column: int
) -> None:
    # Such a file used to be skipped silently, like an include target: its resources vanished.
    repo, findings = load_repo(make_repo({name: content}))
    assert repo.documents == []
    found = only(findings, "E-DOC-LIST")
    assert (found.path, found.line, found.column) == (name, line, column)
    assert found.hint is not None and "one document per file" in found.hint


def test_a_list_that_holds_no_documents_is_an_include_target(make_repo: MakeRepo) -> None:
    files = {"data/messages.yaml": "- role: user\n  content: hi\n", "data/ids.json": "[1, 2]"}
    repo, findings = load_repo(make_repo({"tools/jira.yaml": TOOL, **files}))
    assert findings == []
    assert [d.key for d in repo.documents] == ["Tool/jira"]


def test_yaml_1_1_boolean_words_in_environments_yaml_stay_strings(make_repo: MakeRepo) -> None:
    # `no` is Norway's country code and `on`/`yes` are ordinary words: YAML 1.1 made them booleans,
    # and a boolean map key crashed sorting; 1.2 core keeps them strings.
    environments = """\
apiVersion: ci-deployer/v1
defaults:
  params: {on: off, yes: no, flag: true}
environments:
  no:
    org: acme-norway
    api: {url: embedded}
    params: {n: y}
  on:
    org: acme-on
    api: {url: embedded}
"""
    repo, findings = load_repo(make_repo({"tools/jira.yaml": TOOL}, environments=environments))
    assert findings == []
    assert list(repo.environments) == ["no", "on"]
    assert repo.environments["no"].params == {"on": "off", "yes": "no", "flag": True, "n": "y"}
    assert repo.environments["on"].org == "acme-on"


def test_non_string_key_in_environments_yaml_is_a_located_finding(make_repo: MakeRepo) -> None:
    environments = (
        "apiVersion: ci-deployer/v1\nenvironments:\n  dev:\n    org: a\n    api: {url: embedded}\n    params: {1: x}\n"
    )
    _, findings = load_repo(make_repo({}, environments=environments))
    found = only(findings, "E-YAML-KEY")
    assert (found.path, found.line, found.column) == ("environments.yaml", 6, 14)


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        ("", "E-FILE-EMPTY", 1),
        ("apiVersion: ci-deployer/v1\nkind: Assistant\nspec:\n  temperature: .nan\n", "E-YAML-NONFINITE", 4),
        ("apiVersion: ci-deployer/v1\nkind: Assistant\nspec:\n  true: 1\n", "E-YAML-KEY", 4),
        ("kind: Tool\n---\nkind: Tool\n", "E-YAML-MULTIDOC", 2),
        ("apiVersion: ci-deployer/v1\nkind: Tool\nkind: Squad\n", "E-YAML-DUPKEY", 3),
        (b"kind: Tool\n\xff\xfe\x00", "E-FILE-BINARY", 2),
        (b"kind: Tool\nname: caf\xe9\n", "E-ENCODING", 2),
        ("kind: [\n", "E-YAML-SYNTAX", 2),
    ],
)
def test_bad_files_give_findings_with_path_and_line(
    make_repo: MakeRepo, content: str | bytes, code: str, line: int
) -> None:
    repo, findings = load_repo(make_repo({"tools/bad.yaml": content}))
    assert repo.documents == []
    found = only(findings, code)
    assert (found.path, found.line) == ("tools/bad.yaml", line)
    assert found.hint


def test_envelope_checks(make_repo: MakeRepo) -> None:
    doc = """\
apiVersion: ci-deployer/v2
kind: Assistant
metadata:
  name: Ordér-Agent
  environments: [dev, staging]
  lables: {}
polices: [safety]
spec: {name: x}
"""
    _repo, findings = load_repo(make_repo({"a.yaml": doc}))
    assert only(findings, "E-DOC-APIVERSION").line == 1
    name = only(findings, "E-DOC-NAME")
    assert "non-ASCII character 'é'" in name.message
    assert (name.line, name.column) == (4, 3)
    env = only(findings, "E-DOC-ENV-UNKNOWN")
    assert (env.line, env.column) == (5, 23)
    assert "did you mean 'labels'" in next(f for f in findings if f.line == 6).message
    assert "did you mean 'policies'" in next(f for f in findings if f.line == 7).message


def test_unknown_kind_with_suggestion_and_missing_spec(make_repo: MakeRepo) -> None:
    repo, findings = load_repo(
        make_repo(
            {
                "a.yaml": "apiVersion: ci-deployer/v1\nkind: assistant\nmetadata: {name: a}\nspec: {}\n",
                "b.yaml": "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: b}\nspec: [1]\n",
                "c.yaml": "kind: Tool\nmetadata: {name: c}\nspec: {}\n",
            }
        )
    )
    assert "did you mean 'Assistant'" in only(findings, "E-DOC-KIND").message
    assert only(findings, "E-DOC-SPEC").path == "b.yaml"
    assert only(findings, "E-DOC-APIVERSION").path == "c.yaml"
    assert [d.key for d in repo.documents] == ["Tool/c"]


def test_long_slug_and_unknown_policy(make_repo: MakeRepo) -> None:
    doc = f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {{name: {'a' * 41}}}\npolicies: [safty]\nspec: {{}}\n"
    policy = "apiVersion: ci-deployer/v1\nkind: Policy\nmetadata: {name: safety}\nspec: {}\n"
    _repo, findings = load_repo(make_repo({"t.yaml": doc, "p.yaml": policy}))
    assert "41 characters" in only(findings, "E-DOC-NAME").message
    unknown = only(findings, "E-POLICY-UNKNOWN")
    assert (unknown.path, unknown.line, unknown.column) == ("t.yaml", 4, 12)
    assert "did you mean 'safety'" in unknown.message


def test_symlinked_document_outside_root_is_refused(tmp_path: Path, make_repo: MakeRepo) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(TOOL)
    root = make_repo({})
    (root / "linked.yaml").symlink_to(outside)
    repo, findings = load_repo(root)
    assert repo.documents == []
    assert only(findings, "E-FILE-OUTSIDE").path == "linked.yaml"


def test_fifo_is_not_read(make_repo: MakeRepo) -> None:
    root = make_repo({})
    os.mkfifo(root / "pipe.yaml")
    _, findings = load_repo(root)  # must not block
    assert only(findings, "E-FILE-READ").path == "pipe.yaml"


def test_huge_document_is_a_finding_without_reading_it(make_repo: MakeRepo) -> None:
    root = make_repo({})
    with (root / "huge.yaml").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    _, findings = load_repo(root)
    assert (only(findings, "E-FILE-TOO-LARGE").path, len(findings)) == ("huge.yaml", 1)


def test_wrong_types_in_the_envelope(make_repo: MakeRepo) -> None:
    files = {
        "a.yaml": "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: [a]\nspec: {}\n",
        "b.yaml": "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: b}\nspec: just text\n",
        "c.yaml": (
            "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: c, labels: [x]}\npolicies: safety\nspec: {}\n"
        ),
        "d.yaml": "apiVersion: ci-deployer/v1\nkind: 42\nmetadata: {name: d}\nspec: {}\n",
    }
    repo, findings = load_repo(make_repo(files))
    assert sorted((f.path, f.code, f.line) for f in findings) == [
        ("a.yaml", "E-DOC-NAME", 3),
        ("b.yaml", "E-DOC-SPEC", 4),
        ("c.yaml", "E-DOC-TYPE", 3),
        ("c.yaml", "E-DOC-TYPE", 4),
        ("d.yaml", "E-DOC-KIND", 2),
    ]
    assert [d.key for d in repo.documents] == ["Tool/c"]


def _walked(root: Path) -> list[tuple[str, bool]]:
    """The candidate files as os.walk finds them (the loader's walk before it used os.scandir)."""
    out = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(folder)
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith((".yaml", ".yml", ".json")):
                continue
            if here == root and name == "environments.yaml":
                continue
            out.append(((here / name).relative_to(root).as_posix(), (here / name).is_symlink()))
    return out


def test_candidate_files_are_os_walks_in_the_same_order(tmp_path: Path) -> None:
    from ci_deployer.config.loader import candidate_entries

    root = tmp_path / "cfg"
    outside = tmp_path / "outside"
    for folder in ("a/b", "a/B", "a-c", "Z", ".hidden/x", "a/.git", "e.yaml.d"):
        (root / folder).mkdir(parents=True)
    (outside / "deep").mkdir(parents=True)
    for rel in (
        "environments.yaml", "a/environments.yaml", "top.yaml", "Top.YML", "x.json", "notes.md", ".dot.yaml",
        "a/b/one.yaml", "a/B/two.yml", "a-c/three.yaml", "Z/four.json", ".hidden/x/five.yaml", "a/.git/six.yaml",
        "e.yaml.d/seven.yaml", "a/b/.eight.yaml",
    ):  # fmt: skip
        (root / rel).write_text("kind: Tool\n", encoding="utf-8")
    (outside / "deep" / "far.yaml").write_text("kind: Tool\n", encoding="utf-8")
    (root / "linked-folder").symlink_to(outside / "deep", target_is_directory=True)
    (root / "a" / "linked.yaml").symlink_to(outside / "deep" / "far.yaml")
    (root / "a" / "broken.yaml").symlink_to(outside / "missing.yaml")
    (root / "folder.yaml").mkdir()  # a folder with a document's suffix is no file

    found = [(rel, entry.is_symlink()) for rel, entry in candidate_entries(str(root))]
    assert found == _walked(root)
    assert ("a/linked.yaml", True) in found
    assert not any(rel.startswith(("linked-folder/", ".hidden/", "a/.git/")) for rel, _ in found)
