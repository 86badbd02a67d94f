"""Evaluating every gate of an environment into one :class:`GateReport`, and enforcing it.

Pure: :class:`GateInputs` holds the evidence, gathered at the edges (``gates.collect`` for the CLI
and apply).  Missing evidence (``None``) is ``pending`` (⏳), contrary evidence ``fail`` (❌).  An
item *refuses* when it is blocking and failed or pending; the report is allowed when none refuses.

Items, in checklist order (B = blocking):

- ``config`` (B) — the config validated without errors.
- ``secrets`` (B) — every ``secrets://`` placeholder of the env resolves here (names only, never values).
- ``plan`` — the plan hash equals the reviewed one; a mismatch blocks.  When either hash is not known
  here it is pending but not blocking: apply re-plans live and refuses a changed plan itself.
- ``promotion`` (B) — ``promotesFrom``: see :mod:`ci_deployer.gates.promotion`.
- ``tests`` (B) — with ``promotesFrom`` only: upstream's behavioural tests passed for this logical
  hash; ➖ (not blocking) when no test runs upstream (:func:`ci_deployer.gates.promotion.check_tests`).
- ``approvals`` (B) — see :mod:`ci_deployer.gates.approvals`.  Break-glass never passes it.
- ``ticket`` (B) — see :mod:`ci_deployer.gates.ticket`.
- ``window`` (B) — change windows and freezes (:mod:`ci_deployer.gates.windows`).  A break-glass
  reason turns a closed window or a freeze into a pass with evidence ``break-glass: <reason>``.
- ``backup`` — the before-snapshot exists.  ``False`` fails and blocks; ``None`` (the ``gate``
  command, before apply took it) is pending, not blocking: apply takes it before its first write
  and passes ``True``.
- ``monitoring.N`` (B) — one per ``protection.monitoring`` rule (:mod:`ci_deployer.gates.monitoring`).

An environment without ``protection`` gets every item skipped (➖) and is allowed, except that
``promotesFrom`` is still checked when set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ci_deployer.config.model import Environment
from ci_deployer.errors import GateRefused
from ci_deployer.gates import windows as window_rules
from ci_deployer.gates.approvals import PullRequestEvidence, evaluate_approvals
from ci_deployer.gates.model import CheckItem, GateReport
from ci_deployer.gates.monitoring import DesiredResource, check_monitoring
from ci_deployer.gates.promotion import check_promotion, check_tests
from ci_deployer.gates.ticket import find_ticket

NO_GITHUB = "no GitHub context: approvals are checked in CI"


@dataclass
class GateInputs:
    """The evidence the gates are evaluated on; ``None`` means "not known here" (pending)."""

    now: datetime  # aware
    prs: list[PullRequestEvidence] | None = None  # merged since the last applied sha; None: not gathered
    dispatcher: str | None = None  # who dispatched this deployment (never counts as an approver)
    ticket_input: str | None = None
    break_glass_reason: str | None = None
    plan_hash: str | None = None
    reviewed_plan_hash: str | None = None
    validated: bool | None = None
    validation_evidence: str = ""
    secrets_resolvable: dict[str, bool] | None = None  # REF → resolvable here
    backup_exists: bool | None = None
    backup_evidence: str = ""
    upstream_snapshot: dict[str, Any] | None = None  # promotesFrom env's latest snapshot (docs/formats.md)
    logical_hash: str | None = None
    upstream_tests: dict[str, Any] | None = None  # promotesFrom env's latest test results (docs/formats.md)
    upstream_tests_error: str | None = None  # they exist but cannot be read
    tests_defined: bool = False  # a test of the config runs in the promotesFrom env
    rollback_of_known_snapshot: bool = False
    desired: Sequence[DesiredResource] | None = None  # rendered resources, for monitoring rules
    attestations: set[str] = field(default_factory=set)
    team_members: dict[str, set[str]] | None = None  # "@org/team" → logins
    team_lookup_error: str | None = None
    no_github_reason: str = NO_GITHUB


def _config_item(inputs: GateInputs) -> CheckItem:
    title = "Config validated"
    if inputs.validated is None:
        return CheckItem("config", title, "pending", "not validated here", hint="run `ci-deployer validate`")
    if inputs.validated:
        return CheckItem("config", title, "pass", inputs.validation_evidence or "no validation errors")
    return CheckItem(
        "config",
        title,
        "fail",
        inputs.validation_evidence or "validation errors",
        hint="run `ci-deployer validate` and fix the findings",
    )


def _secrets_item(env: str, resolvable: dict[str, bool] | None) -> CheckItem:
    title = f"Secrets present in {env}"
    if resolvable is None:
        return CheckItem("secrets", title, "pending", "secrets not checked here")
    if not resolvable:
        return CheckItem("secrets", title, "pass", "no secrets referenced")
    missing = sorted(ref for ref, ok in resolvable.items() if not ok)
    if missing:
        return CheckItem(
            "secrets",
            title,
            "fail",
            f"{len(missing)} of {len(resolvable)} not resolvable: " + ", ".join(f"secrets://{r}" for r in missing),
            hint=f"provide them to the {env} job (environment secrets or variables); empty values count as unset",
        )
    return CheckItem("secrets", title, "pass", f"all {len(resolvable)} placeholders resolve (values not shown)")


def _plan_item(plan_hash: str | None, reviewed: str | None) -> CheckItem:
    title = "Plan matches the reviewed plan"
    if plan_hash is None:
        return CheckItem(
            "plan", title, "pending", "no plan computed here: apply re-plans live and compares hashes", blocking=False
        )
    if reviewed is None:
        return CheckItem(
            "plan", title, "pending", f"plan {plan_hash[:19]}; no reviewed plan hash found", blocking=False
        )
    if plan_hash == reviewed:
        return CheckItem("plan", title, "pass", f"plan {plan_hash[:19]} = reviewed plan")
    return CheckItem(
        "plan",
        title,
        "fail",
        f"plan {plan_hash[:19]} ≠ reviewed {reviewed[:19]}",
        hint="the org or the config changed since review: re-run the plan on the PR and review it again",
    )


def _window_item(env: Environment, inputs: GateInputs) -> tuple[CheckItem, str | None]:
    protection = env.protection
    assert protection is not None
    title = "Change window"
    if not protection.change_windows and not protection.freezes:
        return CheckItem("window", title, "pass", "no change windows or freezes configured"), None
    result = window_rules.check_windows(protection.change_windows, protection.freezes, inputs.now)
    reason = (inputs.break_glass_reason or "").strip()
    if result.open:
        extra = "; break-glass reason given but not needed" if reason else ""
        return CheckItem("window", title, "pass", result.reason + extra), None
    if reason:
        return CheckItem("window", title, "pass", f"break-glass: {reason} ({result.reason})"), reason
    hint = "wait for the next window, or give a break-glass reason (--break-glass-reason / `break_glass_reason`)"
    return CheckItem("window", title, "fail", result.reason, hint=hint), None


def _backup_item(env: str, inputs: GateInputs) -> CheckItem:
    title = f"Backup of {env} saved"
    if inputs.backup_exists is None:
        return CheckItem("backup", title, "pending", "taken by apply before its first write", blocking=False)
    if inputs.backup_exists:
        return CheckItem("backup", title, "pass", inputs.backup_evidence or "before-snapshot saved")
    return CheckItem(
        "backup",
        title,
        "fail",
        inputs.backup_evidence or "no before-snapshot",
        hint="apply refuses to write without a backup: check the state folder / artifact upload",
    )


def _ticket_texts(inputs: GateInputs) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    if inputs.ticket_input:
        texts.append(("dispatch input", inputs.ticket_input))
    for pr in sorted(inputs.prs or [], key=lambda p: p.number):
        texts += [(f"PR #{pr.number} title", pr.title), (f"PR #{pr.number} body", pr.body)]
        texts.append((f"PR #{pr.number} branch", pr.branch))
    return texts


def _tests_items(env: Environment, inputs: GateInputs) -> list[CheckItem]:
    item = check_tests(
        inputs.logical_hash,
        env.promotes_from,
        inputs.upstream_tests,
        inputs.tests_defined,
        inputs.rollback_of_known_snapshot,
        read_error=inputs.upstream_tests_error,
    )
    return [item] if item is not None else []


def _unprotected(env: Environment, inputs: GateInputs) -> GateReport:
    promotion = check_promotion(
        inputs.logical_hash,
        env.promotes_from,
        inputs.upstream_snapshot,
        inputs.rollback_of_known_snapshot,
    )
    why = f"{env.name} has no protection"
    ids = [
        ("config", "Config validated"),
        ("approvals", "Approvals"),
        ("ticket", "Change ticket"),
        ("window", "Change window"),
        ("backup", f"Backup of {env.name} saved"),
    ]
    items = [CheckItem(i, t, "skip", why, blocking=False) for i, t in ids]
    items[1:1] = [promotion, *_tests_items(env, inputs)]
    report = GateReport(env.name, items)
    report.allowed = not report.refusing()
    return report


def evaluate(env: Environment, inputs: GateInputs) -> GateReport:
    """Every gate of ``env`` on ``inputs``: the checklist and whether it allows the operation."""
    protection = env.protection
    if protection is None:
        return _unprotected(env, inputs)
    window, break_glass = _window_item(env, inputs)
    items = [
        _config_item(inputs),
        _secrets_item(env.name, inputs.secrets_resolvable),
        _plan_item(inputs.plan_hash, inputs.reviewed_plan_hash),
        check_promotion(
            inputs.logical_hash,
            env.promotes_from,
            inputs.upstream_snapshot,
            inputs.rollback_of_known_snapshot,
        ),
        *_tests_items(env, inputs),
        evaluate_approvals(
            inputs.prs,
            protection.required_approvals,
            protection.reviewers,
            inputs.team_members,
            inputs.dispatcher,
            team_lookup_error=inputs.team_lookup_error,
            no_github_reason=inputs.no_github_reason,
        ),
        find_ticket(protection.ticket, _ticket_texts(inputs)),
        window,
        _backup_item(env.name, inputs),
        *check_monitoring(protection.monitoring, inputs.desired, inputs.attestations),
    ]
    report = GateReport(env.name, items, break_glass=break_glass)
    report.allowed = not report.refusing()
    return report


class ChecklistRefused(GateRefused):
    """Gates refused; carries the report, and its items as ``findings`` so that the CLI's JSON
    error output (``{"ok": false, "failure_reason": "gate-refused", …, "findings": [items]}``)
    still holds the whole checklist."""

    def __init__(self, report: GateReport, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report
        self.findings: list[CheckItem] = list(report.items)


def enforce(report: GateReport) -> None:
    """Raise :class:`ChecklistRefused` (a :class:`GateRefused`) naming every refusing item and
    what to do about it; return quietly when the report allows the operation."""
    refusing = report.refusing()
    if report.allowed and not refusing:
        return
    parts = [
        f"{item.title} ({item.status}: {item.evidence.splitlines()[0] if item.evidence else ''})" for item in refusing
    ]
    hints = [item.hint for item in refusing if item.hint]
    raise ChecklistRefused(
        report,
        f"gates refused the operation on {report.env}: " + "; ".join(parts),
        hint="; ".join(hints) or "see the checklist",
    )
