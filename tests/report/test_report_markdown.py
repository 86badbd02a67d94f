from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ci_deployer import redact
from ci_deployer.report import markdown

DATA = Path(__file__).parent / "data"
RUN = markdown.RunInfo("https://github.com/acme/config/actions/runs/42", "a" * 40, "ci-deployer-uat-plan-42-1-plan")
MARKER = '<!-- ci-deployer:v1 {"env":"uat","planHash":"sha256:feed","baseSha":"bbbb","headSha":"aaaa"} -->'
CHECKLIST = [
    {"id": "approvals", "title": "Approvals", "status": "pass", "evidence": "alice, bob"},
    {"id": "window", "title": "Change window", "status": "fail", "evidence": "closed until Mon 09:00"},
    {"id": "tests", "title": "uat tests", "status": "pending", "evidence": ""},
]


@pytest.fixture
def plan() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "plan-small.json").read_text(encoding="utf-8"))
    return data


def assert_balanced(text: str) -> None:
    """Every <details> is closed and every code fence is closed by a fence of the same length."""
    assert text.count("<details>") == text.count("</details>")
    open_fence: str | None = None
    for line in text.splitlines():
        match = re.match(r"^(`{3,})(\S*)\s*$", line)
        if not match:
            continue
        if open_fence is None:
            open_fence = match.group(1)
        elif match.group(1) == open_fence and not match.group(2):
            open_fence = None
    assert open_fence is None, "a code fence was left open"


def test_plan_comment_matches_the_snapshot_file(plan: dict[str, Any]) -> None:
    text = markdown.render_plan(plan, run=RUN, marker=MARKER, checklist=CHECKLIST)
    assert text == (DATA / "plan-small.comment.md").read_text(encoding="utf-8")
    assert_balanced(text)


def test_plan_comment_content(plan: dict[str, Any]) -> None:
    text = markdown.render_plan(plan, run=RUN, marker=MARKER, checklist=CHECKLIST)
    assert text.startswith(MARKER + "\n")
    assert "**2 to create, 1 to update, 1 to delete** · 7 unchanged" in text
    assert "⚠️ **This plan deletes 1 resource: Tool `legacy`**" in text
    assert (
        "- ✅ **Approvals** — alice, bob" in text and "- ❌ **Change window**" in text and "- ⏳ **uat tests**" in text
    )
    assert "Planned against uat as applied at `0123456789ab`, 2026-11-28T10:00:00Z" in text
    # the prompt change is a unified diff; the secret says only "changed"
    assert "-line2\n+line2 changed\n" in text
    assert "! server.headers.Authorization: secret changed" in text
    # an included ``` inside a prompt gets a longer fence
    assert "````diff\n+You are\n+a helpful ```agent```\n````" in text
    assert "Scratch &lt;bot&gt;" in text  # names are escaped, not rendered as HTML
    assert "[workflow run](https://github.com/acme/config/actions/runs/42)" in text and "sha256:feed" in text
    assert "noop" not in text and "`same`" not in text


def test_no_changes_says_so(plan: dict[str, Any]) -> None:
    plan = {**plan, "hasChanges": False, "changes": [], "drift": [], "unmanaged": [], "against": "live"}
    plan["summary"] = {"create": 0, "update": 0, "delete": 0, "noop": 9}
    text = markdown.render_plan(plan, run=RUN, marker=MARKER)
    assert "**No changes.** The org matches the config (9 resources unchanged)." in text
    assert "<details>" not in text and "Planned against" not in text


def test_registered_secret_values_never_reach_the_report(plan: dict[str, Any]) -> None:
    redact.register("sk-live-123456")
    plan["changes"][1]["fields"][2]["new"] = "Bearer sk-live-123456"
    text = markdown.render_plan(plan, run=RUN)
    assert "sk-live-123456" not in text and "Bearer ***" in text


def huge_plan(plan: dict[str, Any], n: int) -> dict[str, Any]:
    big = copy.deepcopy(plan)
    template = big["changes"][1]
    big["changes"] = []
    for i in range(n):
        change = copy.deepcopy(template)
        change["slug"] = f"tool-{i:04d}"
        change["fields"][0]["new"] = "\n".join(f"prompt line {j} of resource {i} ```" for j in range(60))
        big["changes"].append(change)
    big["summary"] = {**big["summary"], "update": n}
    return big


def test_huge_plan_is_cut_at_a_resource_boundary_below_the_comment_limit(plan: dict[str, Any]) -> None:
    big = huge_plan(plan, 400)
    text = markdown.render_plan(big, run=RUN, marker=MARKER, checklist=CHECKLIST)
    assert markdown.comment_length(text) <= markdown.COMMENT_LIMIT
    assert_balanced(text)
    shown = text.count("<b>update</b> Tool")
    assert 0 < shown < 400
    assert (
        f"… {400 - shown + 1} more resources: see the job summary and the `ci-deployer-uat-plan-42-1-plan` artifact"
        in text
    )
    # header, counts, checklist and footer survive the cut
    assert text.startswith(MARKER) and "400 to update" in text and "- ❌ **Change window**" in text
    assert text.rstrip().endswith("ci-deployer 0.1.0</sub>")


def test_summary_budget_is_counted_in_bytes(plan: dict[str, Any]) -> None:
    big = huge_plan(plan, 400)
    text = markdown.render_plan(
        big, run=RUN, budget=200_000, measure=markdown.utf8_length, overflow_hint="see the artifact"
    )
    assert markdown.utf8_length(text) <= 200_000
    assert_balanced(text)
    assert "more resources: see the artifact" in text


def test_one_giant_prompt_is_cut_inside_its_block_without_breaking_the_fence(plan: dict[str, Any]) -> None:
    giant = huge_plan(plan, 1)
    giant["changes"][0]["fields"][0]["new"] = "\n".join(f"line {j}" for j in range(20_000))
    text = markdown.render_plan(giant, run=RUN)
    assert markdown.comment_length(text) <= markdown.COMMENT_LIMIT
    assert_balanced(text)
    assert "more lines (see the plan artifact)" in text


def test_validation_report_lists_every_finding_and_marks_unannotated() -> None:
    report = {
        "ok": False,
        "errors": 2,
        "warnings": 0,
        "documents": 3,
        "findings": [
            {"path": "platform/a.yaml", "line": 3, "column": 5, "code": "E-REF", "level": "error", "message": "a|b"},
            {"path": "platform/b.yaml", "line": 1, "column": None, "code": "E-X", "level": "error", "message": "<x>"},
        ],
    }
    text = markdown.render_validation(report, annotated=[True, False])
    assert "**2 errors, 0 warnings** in 3 documents." in text
    assert "| ❌ | `platform/a.yaml:3:5` | `E-REF` | a\\|b |" in text
    assert "| ❌ ⤵ | `platform/b.yaml:1` | `E-X` | &lt;x&gt; |" in text


def test_failure_report_closes_its_fence_around_any_message() -> None:
    text = markdown.render_failure(
        command="plan", env="prod", failure_reason="api-error", message="boom ```\n````", hint="retry", run=RUN
    )
    assert_balanced(text)
    assert "### ❌ ci-deployer plan for `prod` failed" in text and "💡 retry" in text
