"""Drift reports (``ci-deployer drift``): text, JSON (docs/formats.md "Drift") and GitHub annotations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ci_deployer import redact

if TYPE_CHECKING:
    from ci_deployer.commands.drift import DriftReport


def to_dict(result: DriftReport) -> dict[str, Any]:
    """The stable JSON of a drift check."""
    plan = result.plan
    data: dict[str, Any] = {
        "formatVersion": 1,
        "kind": "drift",
        "env": plan.env,
        "org": plan.org,
        "policy": result.policy,
        "baseline": result.baseline,
        "drift": [d.to_dict() for d in plan.drift],
        "unmanaged": plan.unmanaged,
        "ok": not result.failing,
    }
    if result.failing:
        data["failure_reason"] = "drift"
    return data


def render(result: DriftReport, fmt: str) -> str:
    """The report in ``fmt`` (text, json or github)."""
    if fmt == "json":
        return redact.redact(json.dumps(to_dict(result), indent=2, ensure_ascii=False)) + "\n"
    from ci_deployer.logsafe import escape_data, escape_property, neutralize
    from ci_deployer.report.plan import field_lines

    plan = result.plan
    commands: list[str] = []
    lines: list[str] = []
    if not result.baseline:
        lines.append(
            f"No baseline: nothing was recorded for {plan.env} in this state folder, so drift cannot be told "
            "apart from anything else; every live resource is listed as unmanaged."
        )
    for item in plan.drift:
        key = f"{item.kind}/{item.slug}"
        what = "was deleted outside ci-deployer" if item.missing else "changed outside ci-deployer"
        level = "error" if result.failing else "warning"  # drift: fail makes drift an error, as its exit 3 says
        commands.append(f"::{level} title={escape_property('drift ' + key)}::{escape_data(f'{key} {what}')}")
        lines.append(f"! {key} {what}")
        lines += field_lines(item.fields)  # signs in column 0, as in `plan` (each field: applied → live)
    for obj in plan.unmanaged:
        lines.append(f"? unmanaged {obj['kind']} {obj.get('name') or '(no name)'} ({obj['id']})")
    lines.append(
        f"Drift: {len(plan.drift)} drifted, {len(plan.unmanaged)} unmanaged in {plan.env} (policy: {result.policy})"
        + ("" if result.baseline else ", no baseline")
        + "."
    )
    text = neutralize("\n".join(lines))  # live values are untrusted: no line may start a workflow command
    if fmt == "github":
        text = "\n".join([*commands, text])
    return redact.redact(text) + "\n"
