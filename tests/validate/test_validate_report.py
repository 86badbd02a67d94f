from __future__ import annotations

import json
from pathlib import Path

from ci_deployer import redact
from ci_deployer.findings import Finding
from ci_deployer.validate import report

FINDINGS = [
    Finding("tools/b.yaml", 7, 3, "W-NAME-DUPLICATE", "same name", "warning", None, "spec.name"),
    Finding(
        "assistants/a.yaml",
        12,
        5,
        "E-REF-DANGLING",
        "model.toolIds[0] names Tool 'jra', which is not defined",
        "error",
        "fix the slug",
        "spec.model.toolIds[0]",
    ),
    Finding("assistants/a.yaml", 3, 1, "E-SCHEMA", "spec.name: too long", "error", None, "spec.name"),
]


def test_text_report_is_sorted_with_hints_and_summary() -> None:
    assert report.format_text(FINDINGS) == (
        "assistants/a.yaml:3:1: error E-SCHEMA spec.name: too long\n"
        "assistants/a.yaml:12:5: error E-REF-DANGLING model.toolIds[0] names Tool 'jra', which is not defined\n"
        "    hint: fix the slug\n"
        "tools/b.yaml:7:3: warning W-NAME-DUPLICATE same name\n"
        "2 errors, 1 warning in 2 files\n"
    )


def test_text_report_when_clean() -> None:
    assert report.format_text([], documents=10, environments=3) == "config OK: 10 documents, 3 environments\n"
    assert report.format_text([], documents=1, environments=1) == "config OK: 1 document, 1 environment\n"


def test_text_report_without_line() -> None:
    out = report.format_text([Finding("environments.yaml", None, None, "E-ENV-UNKNOWN", "no env 'qa'")])
    assert out == "environments.yaml: error E-ENV-UNKNOWN no env 'qa'\n1 error, 0 warnings in 1 file\n"


def test_json_report_shape() -> None:
    data = json.loads(report.format_json(FINDINGS, documents=4, environments=2))
    assert data["formatVersion"] == 1
    assert data["kind"] == "validation"
    assert data["ok"] is False and data["failure_reason"] == "invalid-config"
    assert (data["errors"], data["warnings"], data["documents"], data["environments"]) == (2, 1, 4, 2)
    warnings_only = json.loads(report.format_json([f for f in FINDINGS if f.level == "warning"]))
    assert warnings_only["ok"] is True and "failure_reason" not in warnings_only
    assert data["findings"][1] == {
        "path": "assistants/a.yaml",
        "line": 12,
        "column": 5,
        "code": "E-REF-DANGLING",
        "level": "error",
        "message": "model.toolIds[0] names Tool 'jra', which is not defined",
        "hint": "fix the slug",
        "json_path": "spec.model.toolIds[0]",
    }
    assert json.loads(report.format_json([]))["ok"] is True


def test_github_report_exact_and_escaped() -> None:
    findings = [
        Finding("a,b:c.yaml", 2, 4, "E-X", "100% wrong\nsecond line", "error", "do: this"),
        Finding("w.yaml", None, None, "W-Y", "meh", "warning"),
    ]
    assert report.format_github(findings) == (
        "::error file=a%2Cb%3Ac.yaml,line=2,col=4,title=E-X::100%25 wrong%0Asecond line%0Ahint: do: this\n"
        "::warning file=w.yaml,title=W-Y::meh\n"
        "1 error, 1 warning in 2 files\n"
    )


def test_reporters_mask_registered_secret_values() -> None:
    redact.register("hunter2-very-secret")
    finding = Finding("a.yaml", 1, 1, "E-X", "value hunter2-very-secret leaked")
    for name in ("text", "json", "github"):
        out = report.reporter(name)([finding])
        assert "hunter2-very-secret" not in out
        assert "***" in out


def test_relocate_prefixes_paths_when_root_is_under_cwd(tmp_path: Path) -> None:
    root = tmp_path / "repo" / "platform"
    root.mkdir(parents=True)
    finding = Finding("assistants/a.yaml", 1, 1, "E-X", "m")
    moved = report.relocate([finding], root, tmp_path / "repo")
    assert moved[0].path == "platform/assistants/a.yaml"
    assert report.relocate([finding], root, root)[0].path == "assistants/a.yaml"
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    assert report.relocate([finding], root, elsewhere)[0].path == "assistants/a.yaml"
