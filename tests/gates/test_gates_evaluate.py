"""The whole checklist: allowed/refused, break-glass, unprotected envs, enforce."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ci_deployer.config.model import ChangeWindow, Environment, Freeze, Protection, TicketRule
from ci_deployer.errors import GateRefused
from ci_deployer.gates.approvals import PullRequestEvidence, Review
from ci_deployer.gates.evaluate import ChecklistRefused, GateInputs, enforce, evaluate

HEAD = "f" * 40
INSIDE = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
OUTSIDE = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Saturday
LOGICAL = "sha256:" + "3" * 64


def prod(**protection: Any) -> Environment:
    settings: dict[str, Any] = {
        "required_approvals": 2,
        "reviewers": ["alice", "bob"],
        "change_windows": [ChangeWindow(["mon", "tue", "wed", "thu"], "09:00", "16:00", "America/New_York")],
        "freezes": [Freeze("2026-12-20", "2027-01-04", "holiday freeze")],
        "ticket": TicketRule("CHG-[0-9]+", "https://jira.example/{ticket}"),
    }
    settings.update(protection)
    return Environment(
        "prod", "acme-prod", "https://api.vapi.ai", None, promotes_from="uat", protection=Protection(**settings)
    )


def approved_pr() -> PullRequestEvidence:
    t = datetime(2026, 11, 27, tzinfo=UTC)
    return PullRequestEvidence(
        12,
        "CHG-1 add tool",
        "",
        "feat",
        "carol",
        HEAD,
        ["carol"],
        [Review("alice", "APPROVED", HEAD, t), Review("bob", "APPROVED", HEAD, t + timedelta(minutes=1))],
    )


def inputs(now: datetime = INSIDE, **kw: Any) -> GateInputs:
    base = GateInputs(
        now=now,
        prs=[approved_pr()],
        validated=True,
        secrets_resolvable={"VAPI_TOKEN_PROD": True},
        plan_hash="sha256:p",
        reviewed_plan_hash="sha256:p",
        backup_exists=True,
        upstream_snapshot={"sha": "abc", "appliedAt": "2026-11-27T10:00:00Z", "complete": True, "logicalHash": LOGICAL},
        logical_hash=LOGICAL,
        desired=[],
    )
    return replace(base, **kw)


def statuses(report: Any) -> dict[str, str]:
    return {item.id: item.status for item in report.items}


def test_everything_in_order_is_allowed() -> None:
    report = evaluate(prod(), inputs())
    assert report.allowed
    assert statuses(report) == {
        "config": "pass",
        "secrets": "pass",
        "plan": "pass",
        "promotion": "pass",
        "tests": "skip",  # no tests defined for uat
        "approvals": "pass",
        "ticket": "pass",
        "window": "pass",
        "backup": "pass",
        "monitoring": "skip",
    }
    enforce(report)  # no exception


def test_outside_window_is_refused_with_next_window() -> None:
    report = evaluate(prod(), inputs(now=OUTSIDE))
    assert not report.allowed
    window = report.item("window")
    assert window is not None and window.status == "fail"
    assert "next window opens Mon 2026-11-30 09:00 America/New_York (14:00 UTC)" in window.evidence
    with pytest.raises(GateRefused) as caught:
        enforce(report)
    assert caught.value.failure_reason == "gate-refused"
    assert "Change window (fail: outside change windows" in str(caught.value)
    assert caught.value.hint is not None and "break-glass" in caught.value.hint


def test_break_glass_opens_a_closed_window_and_is_recorded() -> None:
    report = evaluate(prod(), inputs(now=OUTSIDE, break_glass_reason="INC-9 outage fix"))
    assert report.allowed
    assert report.break_glass == "INC-9 outage fix"
    window = report.item("window")
    assert window is not None and window.status == "pass"
    assert window.evidence.startswith("break-glass: INC-9 outage fix (outside change windows;")
    assert report.to_dict()["breakGlass"] == "INC-9 outage fix"


def test_break_glass_passes_a_freeze_too() -> None:
    report = evaluate(prod(), inputs(now=datetime(2026, 12, 21, 15, 0, tzinfo=UTC), break_glass_reason="sev1"))
    window = report.item("window")
    assert report.allowed and window is not None
    assert "in freeze 'holiday freeze'" in window.evidence


def test_break_glass_never_bypasses_approvals() -> None:
    pr = approved_pr()
    pr.reviews = pr.reviews[:1]
    report = evaluate(prod(), inputs(now=OUTSIDE, prs=[pr], break_glass_reason="sev1"))
    assert not report.allowed
    assert [i.id for i in report.refusing()] == ["approvals"]


def test_blank_break_glass_reason_does_not_count() -> None:
    assert not evaluate(prod(), inputs(now=OUTSIDE, break_glass_reason="  ")).allowed


def test_missing_evidence_is_pending_and_blocks_where_documented() -> None:
    report = evaluate(
        prod(),
        inputs(
            prs=None, validated=None, secrets_resolvable=None, plan_hash=None, backup_exists=None, ticket_input=None
        ),
    )
    assert statuses(report)["approvals"] == "pending"
    assert [i.id for i in report.refusing()] == ["config", "secrets", "approvals", "ticket"]
    plan, backup = report.item("plan"), report.item("backup")
    assert plan is not None and (plan.status, plan.blocking) == ("pending", False)
    assert backup is not None and (backup.status, backup.blocking) == ("pending", False)


def test_missing_backup_and_changed_plan_refuse() -> None:
    report = evaluate(prod(), inputs(backup_exists=False, reviewed_plan_hash="sha256:other"))
    assert [i.id for i in report.refusing()] == ["plan", "backup"]


def test_missing_secrets_are_named_never_valued() -> None:
    report = evaluate(prod(), inputs(secrets_resolvable={"A": True, "B": False}))
    item = report.item("secrets")
    assert item is not None and item.evidence == "1 of 2 not resolvable: secrets://B"


def test_promotion_hash_mismatch_refuses_but_rollback_skips_it() -> None:
    assert [i.id for i in evaluate(prod(), inputs(logical_hash="sha256:x")).refusing()] == ["promotion"]
    report = evaluate(prod(), inputs(logical_hash="sha256:x", rollback_of_known_snapshot=True))
    assert report.allowed and statuses(report)["promotion"] == "skip"


def test_upstream_tests_are_a_blocking_line_once_tests_are_defined() -> None:
    record = {
        "kind": "test-results",
        "env": "uat",
        "logicalHash": LOGICAL,
        "ok": False,
        "run": "7",
        "counts": {"passed": 0, "failed": 1, "errors": 0, "total": 1},
    }
    report = evaluate(prod(), inputs(tests_defined=True, upstream_tests=record))
    assert [i.id for i in report.refusing()] == ["tests"]
    report = evaluate(prod(), inputs(tests_defined=True, upstream_tests={**record, "ok": True}))
    assert report.allowed and statuses(report)["tests"] == "pass"


def test_monitoring_rules_are_items() -> None:
    env = prod(monitoring=[{"attest": "Dashboards reviewed"}])
    assert [i.id for i in evaluate(env, inputs()).refusing()] == ["monitoring.1"]
    assert evaluate(env, inputs(attestations={"Dashboards reviewed"})).allowed


def test_unprotected_env_skips_everything_and_is_allowed() -> None:
    dev = Environment("dev", "acme-dev", "embedded", None)
    report = evaluate(dev, GateInputs(now=OUTSIDE))
    assert report.allowed
    assert set(statuses(report).values()) == {"skip"}


def test_refusal_carries_the_checklist_for_json_output() -> None:
    report = evaluate(prod(), inputs(now=OUTSIDE))
    with pytest.raises(ChecklistRefused) as caught:
        enforce(report)
    assert [f.to_dict()["id"] for f in caught.value.findings] == [i.id for i in report.items]
