"""Checklist renderers against exact expected output."""

from __future__ import annotations

import json

from ci_deployer.gates import render
from ci_deployer.gates.model import CheckItem, GateReport


def report() -> GateReport:
    return GateReport(
        "prod",
        [
            CheckItem("config", "Config validated", "pass", "validate: no errors"),
            CheckItem(
                "approvals",
                "2 approvals on every merged PR",
                "fail",
                "#12 Add | <b>tool</b>: 1/2 approvals (alice)\n#13 Fix: 2/2 approvals (alice, bob)",
                hint="get 1 more on #12",
            ),
            CheckItem("plan", "Plan matches the reviewed plan", "pending", "no plan computed here", blocking=False),
            CheckItem("monitoring", "Monitoring", "skip", "no monitoring checks configured", blocking=False),
        ],
        allowed=False,
    )


def test_text() -> None:
    assert render.format_text(report()) == (
        "Gates for prod: refused (1 blocking item)\n"
        "✅ Config validated\n"
        "    validate: no errors\n"
        "❌ 2 approvals on every merged PR\n"
        "    #12 Add | <b>tool</b>: 1/2 approvals (alice)\n"
        "    #13 Fix: 2/2 approvals (alice, bob)\n"
        "    → get 1 more on #12\n"
        "⏳ Plan matches the reviewed plan (informational)\n"
        "    no plan computed here\n"
        "➖ Monitoring\n"
        "    no monitoring checks configured\n"
    )


def test_markdown() -> None:
    assert render.format_markdown(report()) == (
        "### Promotion checklist: prod\n"
        "\n"
        "**Refused (1 blocking item)**\n"
        "\n"
        "| | Check | Evidence |\n"
        "|---|---|---|\n"
        "| ✅ | Config validated | validate: no errors |\n"
        "| ❌ | 2 approvals on every merged PR | #12 Add \\| &lt;b&gt;tool&lt;/b&gt;: 1/2 approvals (alice)"
        "<br>#13 Fix: 2/2 approvals (alice, bob)<br>→ get 1 more on #12 |\n"
        "| ⏳ | Plan matches the reviewed plan (informational) | no plan computed here |\n"
        "| ➖ | Monitoring | no monitoring checks configured |\n"
    )


def test_github_annotations_then_text() -> None:
    out = render.format_github(report())
    first, rest = out.split("\n", 1)
    assert first == (
        "::error title=gate%3A 2 approvals on every merged PR::#12 Add | <b>tool</b>: 1/2 approvals (alice)"
        "%0A#13 Fix: 2/2 approvals (alice, bob)%0Ahint: get 1 more on #12"
    )
    assert rest == render.format_text(report())


def test_json_shape() -> None:
    data = json.loads(render.format_json(report()))
    assert data["ok"] is False
    assert (data["formatVersion"], data["kind"], data["env"], data["allowed"]) == (1, "gate", "prod", False)
    assert data["blocking"] == ["approvals"]
    assert data["breakGlass"] is None
    assert data["items"][1] == {
        "id": "approvals",
        "title": "2 approvals on every merged PR",
        "status": "fail",
        "evidence": "#12 Add | <b>tool</b>: 1/2 approvals (alice)\n#13 Fix: 2/2 approvals (alice, bob)",
        "blocking": True,
        "hint": "get 1 more on #12",
    }


def test_checklist_for_the_github_edge() -> None:
    assert report().checklist()[0] == {
        "id": "config",
        "title": "Config validated",
        "status": "pass",
        "evidence": "validate: no errors",
    }


def test_allowed_with_break_glass_verdict() -> None:
    allowed = GateReport("prod", [CheckItem("window", "Change window", "pass", "break-glass: sev1")], True, "sev1")
    assert render.format_text(allowed).splitlines()[0] == "Gates for prod: allowed (break-glass: sev1)"
