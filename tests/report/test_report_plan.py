"""Plan renderings against exact expected output."""

from __future__ import annotations

from ci_deployer import redact
from ci_deployer.engine.diff import FieldChange
from ci_deployer.engine.plan import Change, DriftItem, Plan
from ci_deployer.report.plan import counts_line, render_markdown, render_text


def sample() -> Plan:
    return Plan(
        env="uat",
        org="acme-uat",
        org_id=None,
        against="live",
        snapshot=None,
        sha=None,
        hash="sha256:abc",
        logical_hash=None,
        changes=[
            Change(
                "create",
                "Tool",
                "jira",
                name="jira",
                file="tools/jira.yaml",
                line=4,
                fields=[FieldChange(("type",), "add", None, "function")],
            ),
            Change(
                "update",
                "Assistant",
                "order-agent",
                id="a1",
                name="Order Agent",
                file="assistants/o.yaml",
                line=5,
                fields=[
                    FieldChange(("model", "temperature"), "change", 0.2, 0.5),
                    FieldChange(
                        ("model", "messages", 0, "content"), "change", "line one\nline two\n", "line one\nline 2\n"
                    ),
                    FieldChange(("server", "headers", "Authorization"), "change", secret="changed"),
                ],
            ),
            Change("noop", "Tool", "other"),
            Change("delete", "Squad", "old", id="s1", blocked="deletes are not allowed in uat"),
        ],
        drift=[DriftItem("Tool", "zendesk", "t9", [FieldChange(("description",), "change", "a", "b")])],
        unmanaged=[{"kind": "Assistant", "id": "x1", "name": "Scratch | bot"}],
        secrets=[{"ref": "ORDERS_API_TOKEN", "status": "changed"}],
    )


EXPECTED_TEXT = """\
ci-deployer plan for uat (org acme-uat)

+ create Tool/jira (jira)  tools/jira.yaml:4
    + type: "function"
~ update Assistant/order-agent (Order Agent)  assistants/o.yaml:5
    ~ model.temperature: 0.2 → 0.5
    ~ model.messages[0].content:
      @@ -1,2 +1,2 @@
       line one
      -line two
      +line 2
    ! server.headers.Authorization: secret changed
- delete Squad/old
    ! blocked: deletes are not allowed in uat

Drift (changed outside ci-deployer):
  ! Tool/zendesk
    ~ description: "a" → "b"

Unmanaged (in the org, in no document):
  ? Assistant Scratch | bot (x1)

Secrets:
  secrets://ORDERS_API_TOKEN: changed

Plan: 1 to create, 1 to update, 0 to delete (1 drifted, 1 unmanaged, 1 delete(s) blocked).
Plan hash: sha256:abc
"""


def test_text_rendering_is_exact() -> None:
    assert render_text(sample()) == EXPECTED_TEXT


def test_counts_line() -> None:
    assert counts_line({"create": 2, "update": 1, "delete": 0}) == "Plan: 2 to create, 1 to update, 0 to delete."
    assert counts_line({"create": 0, "adopt": 1}) == "Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt."


def test_markdown_is_the_pr_comment_renderer() -> None:
    from ci_deployer.report import markdown

    plan = sample()
    md = render_markdown(plan)
    # `plan --markdown` writes exactly what the PR comment shows (without the comment's marker)
    assert md == markdown.render_plan(plan.to_dict(), run=markdown.RunInfo(sha=plan.sha or ""))
    assert md.startswith("### 📝 ci-deployer plan for `uat` · acme-uat\n\n**1 to create, 1 to update, 0 to delete**")
    assert "🚫 1 delete blocked by policy" in md
    assert md.count("<details>") == md.count("</details>")
    assert "Scratch | bot" in md
    assert "! server.headers.Authorization: secret changed" in md
    assert "-line two\n+line 2" in md
    assert "- `secrets://ORDERS_API_TOKEN`: changed" in md


def test_registered_secret_values_never_rendered() -> None:
    plan = sample()
    plan.changes[0].fields = [FieldChange(("description",), "add", None, "uses token tok-live-998877")]
    redact.register("tok-live-998877")
    assert "tok-live-998877" not in render_text(plan)
    assert "tok-live-998877" not in render_markdown(plan)
    assert "tok-live-998877" not in plan.to_json()
