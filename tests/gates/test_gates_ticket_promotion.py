"""Ticket matching with links, and the promotion (promotesFrom) hash check."""

from __future__ import annotations

from typing import Any

import pytest

from ci_deployer.config.model import TicketRule
from ci_deployer.gates.promotion import check_promotion, check_tests, logical_hash
from ci_deployer.gates.ticket import find_ticket

RULE = TicketRule("(CHG|INC)-[0-9]+", "https://jira.acme.example/browse/{ticket}")


def test_ticket_from_dispatch_input_with_link() -> None:
    item = find_ticket(RULE, [("dispatch input", "CHG-42"), ("PR #12 title", "INC-7 fix")])
    assert item.status == "pass"
    assert item.evidence == "CHG-42 (dispatch input) https://jira.acme.example/browse/CHG-42"


def test_ticket_from_title_body_or_branch() -> None:
    for source, text in [
        ("PR #12 title", "Fix INC-9 prompt"),
        ("PR #12 body", "Refs CHG-1"),
        ("PR #12 branch", "chg/CHG-77-x"),
    ]:
        item = find_ticket(RULE, [("PR #12 title", "no ticket"), (source, text)])
        assert item.status == "pass", source
        assert f"({source})" in item.evidence


def test_ticket_without_url_template_has_no_link() -> None:
    item = find_ticket(TicketRule("CHG-[0-9]+"), [("PR #3 body", "see CHG-5")])
    assert item.evidence == "CHG-5 (PR #3 body)"


def test_ticket_missing_or_nothing_to_search() -> None:
    missing = find_ticket(RULE, [("PR #12 title", "Add tool"), ("PR #12 body", ""), ("PR #12 branch", "feat")])
    assert missing.status == "fail"
    assert missing.evidence == "no match for (CHG|INC)-[0-9]+ in: PR #12 title, PR #12 branch"
    assert find_ticket(RULE, []).status == "pending"
    assert find_ticket(None, []).status == "skip"


@pytest.mark.parametrize(
    "text",
    [
        "xCHG-12x",  # reproduced: passed as CHG-12
        "xCHG-12",
        "CHG-12x",
        "ACHG-12",
        "CHG-12_fix",
        "refs NOTCHG-5 and INC-4a",
        "CHG-",
    ],
)
def test_a_ticket_inside_a_longer_token_does_not_count(text: str) -> None:
    item = find_ticket(RULE, [("PR #12 title", text)])
    assert item.status == "fail", item.evidence


@pytest.mark.parametrize(
    ("text", "ticket"),
    [
        ("CHG-12", "CHG-12"),
        ("Fix (CHG-12): retry", "CHG-12"),
        ("[INC-7] hotfix", "INC-7"),
        ("feature/CHG-12-retry-on-429", "CHG-12"),  # branch names put a hyphen after the ticket
        ("chg/INC-3.1", "INC-3"),
        ("xCHG-1x then CHG-2", "CHG-2"),  # a later whole token still counts
    ],
)
def test_a_whole_ticket_token_counts(text: str, ticket: str) -> None:
    item = find_ticket(RULE, [("PR #12 title", text)])
    assert item.status == "pass"
    assert item.evidence.startswith(f"{ticket} (PR #12 title)")


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        ("CHG-12", "CHG-12 done", "CHG-123"),  # a literal pattern is not a prefix
        ("#[0-9]+", "closes #42", "a#42"),  # no word character at the pattern's edges: \b would fail here
        ("(?i)chg-[0-9]+", "Chg-5", "xchg-5"),  # inline flags stay first
        ("CHG-[0-9]+|INC-[0-9]+", "INC-9", "INC-9z"),  # a top-level alternation is bounded as a whole
    ],
)
def test_token_bounds_work_for_any_pattern(pattern: str, good: str, bad: str) -> None:
    rule = TicketRule(pattern)
    assert find_ticket(rule, [("ticket input", good)]).status == "pass"
    assert find_ticket(rule, [("ticket input", bad)]).status == "fail"


def snap(**kw: Any) -> dict[str, Any]:
    base = {
        "env": "uat",
        "sha": "abc1234def",
        "appliedAt": "2026-11-28T10:00:00Z",
        "complete": True,
        "logicalHash": "sha256:" + "1" * 64,
    }
    base.update(kw)
    return base


H = "sha256:" + "1" * 64


def test_promotion_equal_hash_passes() -> None:
    item = check_promotion(H, "uat", snap(), False)
    assert item.status == "pass"
    assert item.title == "UAT sign-off recorded"
    assert item.evidence == (
        "logical hash sha256:111111111111 = uat's last complete apply (uat applied abc1234def at 2026-11-28T10:00:00Z)"
    )


def test_promotion_different_hash_fails() -> None:
    item = check_promotion("sha256:" + "2" * 64, "uat", snap(), False)
    assert item.status == "fail"
    assert item.evidence.startswith("logical hash sha256:222222222222 ≠ uat's sha256:111111111111")


def test_promotion_missing_or_partial_upstream_fails() -> None:
    assert check_promotion(H, "uat", None, False).evidence == "uat has no recorded apply"
    partial = check_promotion(H, "uat", snap(complete=False), False)
    assert (partial.status, partial.evidence.endswith("but that apply was partial")) == ("fail", True)
    assert check_promotion(H, "uat", snap(logicalHash=None), False).status == "fail"


def test_rollback_skips_promotion_and_no_upstream_skips() -> None:
    rollback = check_promotion("sha256:other", "uat", None, True)
    assert (rollback.status, rollback.blocking) == ("skip", False)
    assert check_promotion(H, None, None, False).status == "skip"
    assert check_promotion(None, "uat", snap(), False).status == "pending"


def uat_record(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "test-results",
        "env": "uat",
        "logicalHash": H,
        "mode": "managed",
        "ok": True,
        "run": "4242",
        "runUrl": "https://github.com/acme/config/actions/runs/4242",
        "ranAt": "2026-11-28T10:05:00+00:00",
        "sha": "abc1234def",
        "counts": {"passed": 3, "failed": 0, "errors": 0, "total": 3},
        "evals": [{"eval": "greeting", "target": "assistant/order-agent", "status": "passed"}],
        "smoke": [],
    }
    base.update(kw)
    return base


def test_tests_passed_for_the_same_hash_name_the_run() -> None:
    item = check_tests(H, "uat", uat_record(), True, False)
    assert item is not None and (item.id, item.status, item.blocking) == ("tests", "pass", True)
    assert item.title == "UAT behavioural tests passed"
    assert item.evidence == (
        "uat's tests for sha256:111111111111 passed, 3 of 3 passed "
        "(run 4242 (https://github.com/acme/config/actions/runs/4242), 2026-11-28T10:05:00+00:00)"
    )


def test_tests_that_failed_never_ran_or_ran_on_another_hash_refuse() -> None:
    failed = uat_record(
        ok=False,
        counts={"passed": 1, "failed": 1, "errors": 0, "total": 2},
        evals=[{"eval": "greeting", "target": "assistant/order-agent", "status": "failed"}],
    )
    item = check_tests(H, "uat", failed, True, False)
    assert item is not None and item.status == "fail" and item.refuses
    assert "failed, 1 of 2 passed: eval/greeting → assistant/order-agent (run 4242" in item.evidence
    never = check_tests(H, "uat", None, True, False)
    assert never is not None and never.status == "fail"
    assert never.evidence == "uat has no recorded test results (tests never ran there)"
    assert never.hint is not None and "ci-deployer test --env uat" in never.hint
    other = check_tests(H, "uat", uat_record(logicalHash="sha256:" + "9" * 64), True, False)
    assert other is not None and other.status == "fail"
    assert other.evidence.startswith(
        "uat's latest tests ran on logical hash sha256:999999999999, not sha256:111111111111"
    )
    unreadable = check_tests(H, "uat", None, True, False, read_error="not JSON")
    assert unreadable is not None and unreadable.evidence == "uat's test results cannot be read: not JSON"


def test_no_tests_defined_is_skipped_not_blocking_and_rollback_skips() -> None:
    item = check_tests(H, "uat", None, False, False)
    assert item is not None and (item.status, item.blocking, item.refuses) == ("skip", False, False)
    assert item.evidence == "no tests defined for uat"
    rollback = check_tests(H, "uat", None, True, True)
    assert rollback is not None and (rollback.status, rollback.refuses) == ("skip", False)
    assert check_tests(H, None, None, True, False) is None  # no promotesFrom: no such line


def test_logical_hash_ignores_key_order() -> None:
    a = {"Assistant/x": {"name": "x", "model": {"provider": "openai", "model": "${{ params.model }}"}}}
    b = {"Assistant/x": {"model": {"model": "${{ params.model }}", "provider": "openai"}, "name": "x"}}
    assert logical_hash(a) == logical_hash(b)
    assert logical_hash(a).startswith("sha256:")
    assert logical_hash(a) != logical_hash({"Assistant/x": {"name": "y"}})
