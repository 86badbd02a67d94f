"""The test results reporters: exact text, annotations on the failing lines, markdown that stays whole
within its budget, and secrets that never get through."""

from __future__ import annotations

from ci_deployer import redact
from ci_deployer.behaviour.model import Checkpoint, EvalResult, SmokeResult, TestReport
from ci_deployer.report.tests import render_github, render_markdown, render_text

SECRET = "sk-live-0123456789abcdef"


def report(**kw: object) -> TestReport:
    failing = EvalResult(
        eval="billing-greeting",
        target="assistant/billing-agent",
        status="failed",
        file="evals/billing.yaml",
        line=12,
        duration_ms=41.6,
        checkpoints=[
            Checkpoint(
                index=1,
                message_index=1,
                judge={"type": "exact", "content": "Billing desk."},
                status="fail",
                reply={"content": "Hello ```there``` | friend", "toolCalls": []},
                reason="expected exactly 'Billing desk.', got 'Hello'",
                excerpt=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello ```there```"}],
            ),
            Checkpoint(index=2, message_index=3, judge={"type": "regex", "content": "x"}, status="not-reached"),
        ],
    )
    passing = EvalResult(
        eval="billing-greeting", target="squad/front-door", status="passed", duration_ms=12.0, target_source="inline"
    )
    slow = SmokeResult(
        tool="lookup-order",
        case="known-order",
        status="error",
        file="tools/lookup-order.yaml",
        line=18,
        url="https://orders.example/lookup",
        message="no answer within 5 s (timed out)",
        latency_ms=5003.2,
    )
    base = TestReport(
        env="uat",
        org="acme-uat",
        logical_hash="sha256:" + "ab" * 32,
        sha="c" * 40,
        evals=[failing, passing],
        smoke=[slow],
        run_url="https://github.com/acme/config/actions/runs/7",
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def test_text_shows_the_failing_checkpoint_its_judge_and_the_transcript() -> None:
    assert render_text(report()) == (
        "ci-deployer test uat: against what uat has applied; logical hash sha256:" + "ab" * 32 + "\n"
        "✗ eval/billing-greeting → assistant/billing-agent (eval managed, target managed, 42 ms): failed\n"
        "    checkpoint 1 of 2 (spec.messages[1]) expected exact 'Billing desk.'\n"
        "      reply:  'Hello ```there``` | friend'\n"
        "      reason: expected exactly 'Billing desk.', got 'Hello'\n"
        "      transcript:\n"
        "        user: Hi\n"
        "        assistant: Hello ```there```\n"
        "    checkpoint 2: not reached (the conversation stopped at a failure)\n"
        "✓ eval/billing-greeting → squad/front-door (eval managed, target inline, 12 ms)\n"
        "! smoke tool/lookup-order · known-order: no answer, 5003 ms: error\n"
        "    POST https://orders.example/lookup\n"
        "    no answer within 5 s (timed out)\n"
        "uat: 1 passed, 1 failed, 1 errors (3 tests)\n"
    )


def test_github_format_annotates_each_failure_on_its_line() -> None:
    out = render_github(report(), prefix="platform")
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    assert errors[0].startswith(
        "::error file=platform/evals/billing.yaml,line=12,title=test failed%3A eval/billing-greeting → "
        "assistant/billing-agent::"
    )
    assert errors[1].startswith("::error file=platform/tools/lookup-order.yaml,line=18,title=test error%3A smoke")


def test_markdown_has_tables_details_and_never_breaks_a_fence() -> None:
    text = render_markdown(report(), marker="<!-- m -->")
    assert text.startswith("<!-- m -->\n### ❌ ci-deployer test for `uat`: 1 passed, 1 failed, 1 errors (3 tests)\n")
    assert "| ❌ | `eval/billing-greeting` | `assistant/billing-agent` | eval managed, target managed |" in text
    assert "got 'Hello ```there``` \\| friend' |" in text  # pipes escaped inside cells
    assert "| ⚠️ | `tool/lookup-order` | known-order | `POST https://orders.example/lookup` | — | 5003 ms |" in text
    assert text.count("<details>") == text.count("</details>") == 2
    assert "````text\n" in text  # the fence is longer than the backticks in the transcript
    assert "[workflow run](https://github.com/acme/config/actions/runs/7)" in text


def test_markdown_over_budget_drops_whole_parts_with_a_pointer() -> None:
    many = report()
    many.evals = many.evals * 40
    full = render_markdown(many)
    small = render_markdown(many, budget=len(full) // 3, artifact_name="ci-deployer-uat-test-7-1-test")
    assert len(small) <= len(full) // 3
    assert small.count("<details>") == small.count("</details>")
    assert "more failing test(s) are not shown here: see `test-results.json` in the " in small
    tiny = render_markdown(many, budget=900, artifact_name="ci-deployer-uat-test-7-1-test")
    assert "The per-test table did not fit here" in tiny and "<details>" not in tiny


def test_no_tests_and_secrets() -> None:
    empty = TestReport(env="prod", org="acme-prod", logical_hash=None)
    assert render_text(empty).endswith("prod: no tests defined\n")
    assert render_markdown(empty).startswith("### ➖ ci-deployer test for `prod`: no tests defined")
    redact.register(SECRET)
    leaky = report()
    leaky.smoke[0].answer = f"token={SECRET}"
    leaky.smoke[0].status = "failed"
    for text in (render_text(leaky), render_markdown(leaky), render_github(leaky)):
        assert SECRET not in text
