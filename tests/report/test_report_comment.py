"""The PR comment as GitHub renders it, for plans the real engine made from the example config.

Each scenario is planned by :func:`ci_deployer.engine.plan.build_plan` (see report_plans.py), rendered
by the one markdown renderer, checked against a golden file (tests/report/data/*.comment.md, and the
terminal text in *.txt: what ``plan`` prints locally), then rendered to HTML as GitHub would
(gfm.py) and checked for structure: every ``<details>`` closed, prompts as text blocks, diffs with
their signs in column 0, references as ``slug (kind)``, no HTML from config values.

To accept a deliberate change of the output: ``CI_DEPLOYER_UPDATE_GOLDENS=1 pytest tests/report``,
then review the diff of the golden files.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from gfm import COMMENT_TAGS, Page, page, tokens
from report_plans import (
    EXAMPLES,
    SECRETS,
    applied,
    edited,
    example,
    fleet,
    live_object,
    no_live,
    plan_dict,
    resource_id,
)

from ci_deployer.engine.plan import Plan
from ci_deployer.logsafe import neutralize
from ci_deployer.report import markdown
from ci_deployer.report.plan import render_text

DATA = Path(__file__).parent / "data"
RUN = markdown.RunInfo("https://github.com/acme/config/actions/runs/42", "a" * 40, "ci-deployer-dev-plan-42-1-plan")
MARKER = '<!-- ci-deployer:v1 {"env":"dev","planHash":"sha256:…","baseSha":"bbbb","headSha":"aaaa"} -->'
CHECKLIST = [
    {"id": "approvals", "title": "Approvals", "status": "pass", "evidence": "alice, bob"},
    {"id": "window", "title": "Change window", "status": "pending", "evidence": "opens Mon 09:00 America/New_York"},
]
XSS = "<img src=x onerror=alert(1)>"
PROMPT = (EXAMPLES / "prompts" / "order-agent.md").read_text(encoding="utf-8")
GREET = "- Greet the caller briefly and ask for their order number.\n"
GREET_NEW = (
    "- Greet the caller by name if {{ customer.name }} is known, then ask for their order number.\n"
    "- Read the order number back digit by digit before you look it up.\n"
)


def golden(name: str, text: str) -> None:
    path = DATA / name
    if os.environ.get("CI_DEPLOYER_UPDATE_GOLDENS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file: if the change is meant, rerun with CI_DEPLOYER_UPDATE_GOLDENS=1 "
        "and review the diff"
    )


def comment(plan: dict[str, Any], **kw: Any) -> str:
    return markdown.render_plan(plan, run=RUN, marker=MARKER, **kw)


def text_of(plan: dict[str, Any]) -> str:
    return render_text(Plan.from_dict(plan))


def assert_well_formed(shown: Page) -> None:
    assert shown.problems == []
    assert shown.tags["details"] == shown.tags["summary"] > 0
    assert set(shown.tags) <= COMMENT_TAGS, set(shown.tags) - COMMENT_TAGS
    assert "\\n" not in shown.text  # no JSON-escaped strings anywhere
    assert "ref:" not in shown.text  # references read as slugs
    assert SECRETS["ORDERS_API_TOKEN"] not in shown.html


def assert_diff_fences(shown: Page) -> None:
    """Every line of a diff fence starts with its sign in column 0 (or is a hunk header)."""
    for block in shown.code("diff"):
        for line in block.lines:
            assert line[:1] in ("+", "-", " ") or line.startswith("@@") or line.startswith("…"), line


@pytest.fixture
def config(tmp_path: Path) -> Path:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    return root


# -- a create ------------------------------------------------------------------------------------------


def test_first_plan_reads_as_the_documents() -> None:
    env, desired = example()
    plan = plan_dict(env, desired)
    text = comment(plan)
    golden("example-create.comment.md", text)
    golden("example-create.txt", text_of(plan))
    shown = page(text)
    assert_well_formed(shown)
    assert shown.tags["details"] == 8
    # every prompt is a text block holding the prompt file's own lines (Liquid kept verbatim)
    texts = [b.lines for b in shown.code("text")]
    for prompt in ("order-agent.md", "returns-agent.md"):
        lines = (EXAMPLES / "prompts" / prompt).read_text(encoding="utf-8").splitlines()
        assert lines in texts
    assert any("{{ customer.number }}" in line for lines in texts for line in lines)
    # the document in the config's own key order: its keys, then the ones its policy adds
    agent = next(b for b in shown.code("yaml") if "name: Order Agent (dev)" in b.lines)
    keys = [line.split(":")[0] for line in agent.lines if re.match(r"^\w", line)]
    assert keys == [
        "name",
        "firstMessage",
        "model",
        "voice",
        "artifactPlan",
        "maxDurationSeconds",
        "endCallMessage",
        "endCallPhrases",
    ]
    assert "      content: ⤵ text below (9 lines)" in agent.lines
    assert "    - lookup-order (tool)" in agent.lines and "    - handoff-to-returns (tool)" in agent.lines
    assert "    - call-summary (structured output)" in agent.lines
    tool = next(b for b in shown.code("yaml") if "type: function" in b.lines)
    assert "    Authorization: Bearer secrets://ORDERS_API_TOKEN" in tool.lines
    assert not shown.code("diff")  # a create is a document, not + on every line


# -- an update of a prompt -----------------------------------------------------------------------------


def test_prompt_edit_shows_the_changed_lines_and_nothing_else(config: Path) -> None:
    env, desired = example()
    live, state = applied(env, desired)
    edited(config, "prompts/order-agent.md", lambda t: t.replace(GREET, GREET_NEW))
    edited(config, "assistants/order-agent.yaml", lambda t: t.replace("temperature: 0.3", "temperature: 0.4"))
    plan = plan_dict(*example(config), live, state)
    assert plan["summary"]["update"] == 1 and plan["summary"]["noop"] == 7
    text = comment(plan, checklist=CHECKLIST)
    golden("example-prompt-edit.comment.md", text)
    golden("example-prompt-edit.txt", text_of(plan))
    shown = page(text)
    assert_well_formed(shown)
    assert_diff_fences(shown)
    [diff] = shown.code("diff")
    assert "-- Greet the caller briefly and ask for their order number." in diff.lines
    assert "+- Greet the caller by name if {{ customer.name }} is known, then ask for their order number." in diff.lines
    assert "+- Read the order number back digit by digit before you look it up." in diff.lines
    assert not shown.code("yaml") and not shown.code("text")  # no subtree re-serialised for a one-field change
    assert "model.temperature: 0.3 → 0.4" in shown.text
    assert shown.text.count("model.messages[0].content") == 1  # each changed field once
    assert "Checklist" in shown.text and "Change window — opens Mon 09:00" in shown.text
    assert "secrets://ORDERS_API_TOKEN: unchanged" in shown.text


def test_text_and_comment_show_the_same_diff(config: Path) -> None:
    env, desired = example()
    live, state = applied(env, desired)
    edited(config, "prompts/order-agent.md", lambda t: t.replace(GREET, GREET_NEW))
    plan = plan_dict(*example(config), live, state)
    [diff] = page(comment(plan)).code("diff")
    text = text_of(plan).splitlines()
    start = text.index("     model.messages[0].content:") + 1
    body = text[start : start + len(diff.lines)]
    # the same lines: the text face only indents them after the sign column (hunk headers by one more)
    assert [line.strip() if "@@" in line else line[:1] + line[7:] for line in body] == [
        line.rstrip() for line in diff.lines
    ]


# -- a delete ------------------------------------------------------------------------------------------


def test_delete_names_what_goes_and_what_still_refers_to_it(config: Path) -> None:
    env, desired = example()
    live, state = applied(env, desired)
    handoff = resource_id("Tool", "handoff-to-returns")
    # the dashboard: returns-agent was given the tool by hand, and a scratch copy of the agent uses it
    live_object(live, "Assistant", "returns-agent")["model"]["toolIds"].append(handoff)
    live["Assistant"].append({"id": "scratch-1", "name": "Scratch copy", "model": {"toolIds": [handoff]}})
    (config / "tools" / "handoff-to-returns.yaml").unlink()
    edited(config, "assistants/order-agent.yaml", lambda t: t.replace(", handoff-to-returns]", "]"))
    plan = plan_dict(*example(config), live, state)
    text = comment(plan)
    golden("example-delete.comment.md", text)
    golden("example-delete.txt", text_of(plan))
    shown = page(text)
    assert_well_formed(shown)
    assert "⚠️ This plan deletes 1 resource: Tool handoff-to-returns" in shown.text
    assert "model.toolIds: removed handoff-to-returns (tool)" in shown.text
    assert "order-agent (assistant) refers to it; this plan's change to it removes the reference" in shown.text
    assert "⚠️ returns-agent (assistant) refers to it and keeps the reference" in shown.text
    assert "⚠️ unmanaged assistant Scratch copy (scratch-1) refers to it" in shown.text


# -- drift and unmanaged -------------------------------------------------------------------------------


def test_drift_and_unmanaged_have_their_own_sections() -> None:
    env, desired = example()
    live, state = applied(env, desired)
    live_object(live, "Assistant", "returns-agent")["model"]["temperature"] = 0.7
    agent = live_object(live, "Assistant", "order-agent")
    agent["model"]["messages"][0]["content"] += "- Offer a 10% voucher when a delivery is late.\n"
    live["Eval"] = []  # deleted in the dashboard
    live["Assistant"].append({"id": "scratch-2", "name": f"Scratch {XSS}"})
    plan = plan_dict(env, desired, live, state)
    assert plan["summary"]["drift"] == 3 and plan["summary"]["unmanaged"] == 1
    text = comment(plan)
    golden("example-drift.comment.md", text)
    golden("example-drift.txt", text_of(plan))
    shown = page(text)
    assert_well_formed(shown)
    assert_diff_fences(shown)
    assert "Drift: 3 managed resources changed outside ci-deployer" in shown.text
    assert "model.temperature: 0.2 → 0.7" in shown.text
    assert "+- Offer a 10% voucher when a delivery is late." in shown.code("diff")[0].lines
    assert "Deleted outside ci-deployer: this plan creates it again." in shown.text
    assert "Unmanaged: 1 live resource no document manages" in shown.text
    assert f"assistant Scratch {XSS} (scratch-2)" in shown.text and "<img" not in shown.html


def test_drift_without_changes_never_says_the_org_matches_the_config() -> None:
    env, desired = example()
    live, state = applied(env, desired)
    live_object(live, "Assistant", "returns-agent")["model"]["temperature"] = 0.7
    plan = plan_dict(env, desired, live, state)
    assert plan["hasChanges"] is False and plan["summary"]["drift"] == 1
    for text in (page(comment(plan)).text, text_of(plan)):
        assert "matches the config" not in text
        assert "the org has drifted from the last apply" in text
    plan = plan_dict(env, desired, *applied(env, desired))
    assert "The org matches the config" in page(comment(plan)).text and "matches the config" in text_of(plan)


# -- a big org: cut at a resource boundary -------------------------------------------------------------


def test_two_thousand_creates_are_cut_below_the_comment_limit() -> None:
    env, _ = example()
    plan = plan_dict(env, fleet(2000))
    text = comment(plan, checklist=CHECKLIST)
    assert markdown.comment_length(text) <= markdown.COMMENT_LIMIT
    golden("fleet-2000-truncated.comment.md", text)
    shown = page(text)
    assert_well_formed(shown)
    kept = shown.tags["details"]
    assert 50 < kept < 2000
    assert (
        f"… {2000 - kept} more resources: see the job summary and the `ci-deployer-dev-plan-42-1-plan` artifact" in text
    )
    assert text.startswith(MARKER) and "**2000 to create, 0 to update, 0 to delete**" in text
    assert "Checklist" in shown.text and text.rstrip().endswith("ci-deployer 0.1.0</sub>")
    summary = markdown.render_plan(plan, run=RUN, budget=1024 * 1024, measure=markdown.utf8_length)
    assert markdown.utf8_length(summary) <= 1024 * 1024 and summary.count("<details>") > kept


# -- untrusted text ------------------------------------------------------------------------------------


def test_config_values_never_become_html_nor_workflow_commands() -> None:
    from ci_deployer.engine.model import DesiredResource

    env, _ = example()
    evil = DesiredResource(
        "Tool",
        "evil",
        {
            "type": "function",
            "function": {"name": XSS, "description": f"**bold** [link](javascript:alert(1)) {XSS}"},
            "messages": [{"type": "request-start", "content": f"line one\n::add-mask::x\n  ::error::boom\n{XSS}"}],
        },
    )
    plan = plan_dict(env, [evil], no_live())
    plan["warnings"] = [f"odd {XSS} *warning*"]
    shown = page(comment(plan, checklist=[{"title": XSS, "status": "fail", "evidence": XSS}]))
    assert_well_formed(shown)
    assert "<img" not in shown.html
    assert shown.tags["a"] == 1  # the run link: no link made of config text
    assert shown.text.count(XSS) >= 4  # shown as text: in the summary, the YAML, the prompt, the checklist
    assert f"{XSS} — {XSS}" in shown.text and f"odd {XSS} *warning*" in shown.text
    # the terminal face, printed in Actions logs: no line of a plan can start a workflow command,
    # not even a diff's context line (a sign column holding a space)
    live, state = applied(env, [evil])
    evil.spec["messages"][0]["content"] += "\none more line"
    update = plan_dict(env, [evil], live, state)
    for text in (text_of(plan), text_of(update)):
        assert not re.search(r"(?m)^\s*(::|##\[)", text), text
    assert neutralize("::add-mask::x") in text_of(update)  # the diff's context line, defused


def test_details_blocks_are_html_blocks_around_markdown() -> None:
    env, desired = example()
    parsed = tokens(comment(plan_dict(env, desired)))
    opening = [c for t, c in parsed if t == "html_block" and c.startswith("<details>")]
    closing = [c for t, c in parsed if t == "html_block" and c.strip() == "</details>"]
    assert len(opening) == len(closing) == 8
    # the markdown inside each block is parsed as markdown: fences and lists, not raw HTML text
    assert ("fence", "") not in parsed
    assert sum(1 for t, _ in parsed if t == "fence") == 8 + 3  # a document each, and three long strings
