"""The gates as apply's ``pre_write_check(environment, plan)`` (``engine.operations.ApplyOptions``).

The composition root supplies ``gather``, which collects the evidence once apply has its fresh plan
and its backup; here the evidence is evaluated, the report handed to ``record`` (``gate-report.json``
next to the apply log) and enforced: :class:`~ci_deployer.errors.GateRefused` before any API write
when a blocking item is not passing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer.gates.evaluate import GateInputs, enforce, evaluate
from ci_deployer.gates.model import GateReport

if TYPE_CHECKING:
    from ci_deployer.config.model import Environment
    from ci_deployer.engine.plan import Plan

REPORT_FILE = "gate-report.json"


def report_writer(out_dir: Path) -> Callable[[GateReport], None]:
    """A ``record`` callback writing ``gate-report.json`` (the report's stable JSON) into ``out_dir``,
    next to the apply log, so the checklist and any break-glass reason travel with the artifacts."""

    def write(report: GateReport) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
        (out_dir / REPORT_FILE).write_text(text, encoding="utf-8")

    return write


def enforcing(
    gather: Callable[[Environment, Plan], GateInputs],
    record: Callable[[GateReport], None] | None = None,
) -> Callable[[Environment, Plan], dict[str, Any]]:
    """A ``pre_write_check`` for apply: evaluate the gates on the fresh ``plan`` and enforce them."""

    def check(environment: Environment, plan: Plan) -> dict[str, Any]:
        report = evaluate(environment, gather(environment, plan))
        if record is not None:
            record(report)
        enforce(report)
        return report.to_dict()

    return check
