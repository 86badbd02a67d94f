"""GitHub Actions expressions as the interpreter evaluates them (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from support.expressions import Evaluator, ExpressionError, Status, split_template

CONTEXTS: dict[str, Any] = {
    "github": {
        "event_name": "pull_request",
        "event": {"pull_request": {"number": 7, "head": {"ref": "feature"}}, "inputs": {"ticket": "CHG-1"}},
        "repository": "acme/config",
        "token": "ghs_token",
    },
    "matrix": {"environment": "uat"},
    "secrets": {"VAPI_TOKEN_UAT": "uat-key"},
    "steps": {"plan": {"outputs": {"failure_reason": "drift", "has_changes": "true"}, "outcome": "failure"}},
    "needs": {"plan": {"result": "success", "outputs": {"hash": "sha256:1"}}},
    "inputs": {"ticket": "CHG-1", "dry_run": False},
    "vars": {"REGION": "eu"},
    "env": {"NAME": "x"},
    "list": ["a", "B"],
    "objs": [{"name": "one"}, {"name": "two"}],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event.pull_request.number", 7),
        ("github.event.pull_request.head.ref", "feature"),
        ("github.repository", "acme/config"),
        ("github['repository']", "acme/config"),
        ("GITHUB.Repository", "acme/config"),  # names are case-insensitive
        ("github.token", "ghs_token"),
        ("github.event.inputs.ticket", "CHG-1"),
        ("inputs.ticket", "CHG-1"),
        ("inputs.missing", None),
        ("secrets.VAPI_TOKEN_UAT", "uat-key"),
        ("secrets.ABSENT", None),
        ("vars.REGION", "eu"),
        ("steps.plan.outputs.failure_reason", "drift"),
        ("needs.plan.outputs.hash", "sha256:1"),
        ("needs.plan.result == 'success'", True),
        # a && b || c: GitHub's ternary, returning operands
        ("matrix.environment == 'uat' && secrets.VAPI_TOKEN_UAT || ''", "uat-key"),
        ("matrix.environment == 'prod' && secrets.VAPI_TOKEN_UAT || ''", ""),
        ("matrix.environment == 'uat' && secrets.ABSENT || 'fallback'", "fallback"),
        ("'a' && 'b'", "b"),
        ("'' || 'b'", "b"),
        ("null || 0", 0.0),
        ("!steps.plan.outputs.has_changes", False),
        ("!inputs.dry_run", True),
        ("'UAT' == matrix.environment", True),  # strings compare case-insensitively
        ("'uat' != 'prod'", True),
        ("1 == '1'", True),  # differing types are coerced to numbers
        ("true == 1", True),
        ("null == 0", True),
        ("'abc' == 0", False),  # NaN equals nothing
        ("2 > 1 && 1 >= 1 && 0 < 1 && 1 <= 1", True),
        ("'it''s'", "it's"),
        ("contains(list, 'b')", True),
        ("contains('Hello', 'ELL')", True),
        ("startsWith(github.repository, 'ACME/')", True),
        ("endsWith('plan.json', '.json')", True),
        ("format('{0}-{1} {{x}}', 'a', 1)", "a-1 {x}"),
        ("join(list, '+')", "a+B"),
        ("fromJSON('[1, 2]')", [1, 2]),
        ("toJSON(matrix)", '{\n  "environment": "uat"\n}'),
        ("objs.*.name", ["one", "two"]),
        ("(1 == 1) && (2 == 3)", False),
    ],
)
def test_expression_values(expression: str, expected: Any) -> None:
    assert Evaluator(CONTEXTS).evaluate(expression) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("ci-deployer-pr-${{ github.event.pull_request.number }}", "ci-deployer-pr-7"),
        ("Plan ${{ matrix.environment }}", "Plan uat"),
        ("${{ inputs.missing }}", ""),  # null renders as an empty string
        ("${{ needs.plan.result == 'success' }}", "true"),
        ("${{ github.server_url }}x", "x"),
        ("no expression", "no expression"),
        ("${{ '}}' }}", "}}"),  # a closing brace pair inside a string literal
    ],
)
def test_templates_render_to_strings(template: str, expected: str) -> None:
    assert Evaluator(CONTEXTS).render_string(template) == expected


@pytest.mark.parametrize(
    ("condition", "status", "expected"),
    [
        (None, Status(), True),  # default: success()
        (None, Status(success=False, failure=True), False),
        ("always()", Status(success=False, failure=True), True),
        ("failure()", Status(success=False, failure=True), True),
        ("failure()", Status(), False),
        ("cancelled()", Status(), False),
        ("success()", Status(), True),
        ("${{ always() && steps.plan.outputs.failure_reason == 'drift' }}", Status(success=False, failure=True), True),
        ("steps.plan.outputs.failure_reason == 'drift'", Status(), True),
        # without a status function the condition is success() && (…)
        ("steps.plan.outputs.failure_reason == 'drift'", Status(success=False, failure=True), False),
        ("steps.plan.outcome == 'failure' || failure()", Status(success=False, failure=True), True),
        ("${{ matrix.environment != 'uat' }}", Status(), False),
        ("github.event_name == 'pull_request' && !inputs.dry_run", Status(), True),
    ],
)
def test_if_conditions(condition: str | None, status: Status, expected: bool) -> None:
    assert Evaluator(CONTEXTS, status).condition(condition) is expected


def test_a_whole_expression_keeps_its_type_and_splitting_finds_every_part() -> None:
    evaluator = Evaluator(CONTEXTS)
    assert evaluator.value("${{ fromJSON('[1]') }}") == [1]
    assert evaluator.value("a ${{ 1 }}") == "a 1"
    assert split_template("a ${{ x }} b ${{ y }}") == [("a ", "x"), (" b ", "y"), ("", None)]


@pytest.mark.parametrize("bad", ["github.", "a ==", "hashFiles('x')", "(a", "'open"])
def test_bad_or_unsupported_expressions_raise(bad: str) -> None:
    with pytest.raises(ExpressionError):
        Evaluator(CONTEXTS).evaluate(bad)
