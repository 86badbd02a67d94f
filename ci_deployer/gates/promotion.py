"""The promotion gates (``promotesFrom``): the target receives only what upstream applied and tested.

``promotion`` — the *logical hash* is sha256 over the canonical JSON (sorted keys) of the env's
logical specs — policies merged, includes resolved, templates *not* rendered, so per-env ``params``,
credentials and secrets do not enter it (:func:`logical_hash`).  It must equal the ``logicalHash`` of
upstream's latest snapshot, and that snapshot must be ``complete``.

``tests`` — upstream's latest behavioural test results (``ci-deployer test``; docs/formats.md "Test
results") must be for that same logical hash, not transient, and passed; the evidence names the run.
A config with no test that runs upstream shows "no tests defined" (➖, not blocking).

A rollback to a snapshot the target already ran skips both (approvals still apply).
"""

from __future__ import annotations

from typing import Any

from ci_deployer.gates.model import CheckItem


def logical_hash(specs: dict[str, dict[str, Any]]) -> str:
    """``"sha256:<hex>"`` over ``render.logical_specs(repo, env)``: the same hash the engine records."""
    from ci_deployer.engine.canonical import content_hash

    return content_hash(specs)


def _short(value: Any) -> str:
    text = str(value or "?")
    return text[:19] if text.startswith("sha256:") else text[:12]


def check_promotion(
    logical_hash: str | None,
    upstream_env: str | None,
    upstream_snapshot: dict[str, Any] | None,
    rollback_of_known_snapshot: bool,
) -> CheckItem:
    """The UAT sign-off line, from upstream's latest snapshot (docs/formats.md)."""
    if upstream_env is None:
        return CheckItem("promotion", "Promotion", "skip", "no promotesFrom: not promoted", blocking=False)
    title = f"{upstream_env.upper()} sign-off recorded"
    if rollback_of_known_snapshot:
        return CheckItem(
            "promotion",
            title,
            "skip",
            f"rollback to a snapshot this env already ran: {upstream_env} not consulted",
            blocking=False,
        )
    hint = f"apply this commit to {upstream_env} first (and let its tests pass), then promote"
    if logical_hash is None:
        return CheckItem("promotion", title, "pending", "logical hash of this config not computed", hint=hint)
    if upstream_snapshot is None:
        return CheckItem("promotion", title, "fail", f"{upstream_env} has no recorded apply", hint=hint)
    where = (
        f"{upstream_env} applied {_short(upstream_snapshot.get('sha'))} at {upstream_snapshot.get('appliedAt') or '?'}"
    )
    if not upstream_snapshot.get("complete"):
        return CheckItem("promotion", title, "fail", f"{where}, but that apply was partial", hint=hint)
    theirs = upstream_snapshot.get("logicalHash")
    if not theirs:
        return CheckItem("promotion", title, "fail", f"{where}; its snapshot records no logical hash", hint=hint)
    if theirs != logical_hash:
        return CheckItem(
            "promotion",
            title,
            "fail",
            f"logical hash {_short(logical_hash)} ≠ {upstream_env}'s {_short(theirs)} ({where})",
            hint=hint,
        )
    evidence = f"logical hash {_short(logical_hash)} = {upstream_env}'s last complete apply ({where})"
    return CheckItem("promotion", title, "pass", evidence)


def _run_of(record: dict[str, Any]) -> str:
    """Which run produced a test record: ``run 4242 (<url>)``, else the commit and time."""
    run = record.get("run")
    when = record.get("ranAt") or "?"
    if run:
        url = record.get("runUrl")
        return f"run {run}{f' ({url})' if url else ''}, {when}"
    return f"commit {_short(record.get('sha'))}, {when}"


def check_tests(
    logical_hash: str | None,
    upstream_env: str | None,
    upstream_tests: dict[str, Any] | None,
    tests_defined: bool,
    rollback_of_known_snapshot: bool,
    *,
    read_error: str | None = None,
) -> CheckItem | None:
    """The "upstream tested" line (None without ``promotesFrom``: there is nothing to have tested)."""
    if upstream_env is None:
        return None
    title = f"{upstream_env.upper()} behavioural tests passed"
    if rollback_of_known_snapshot:
        return CheckItem(
            "tests",
            title,
            "skip",
            f"rollback to a snapshot this env already ran: {upstream_env} not consulted",
            blocking=False,
        )
    if not tests_defined:
        return CheckItem("tests", title, "skip", f"no tests defined for {upstream_env}", blocking=False)
    hint = f"run `ci-deployer test --env {upstream_env}` after applying this config to {upstream_env}"
    if read_error:
        return CheckItem(
            "tests", title, "fail", f"{upstream_env}'s test results cannot be read: {read_error}", hint=hint
        )
    if logical_hash is None:
        return CheckItem("tests", title, "pending", "logical hash of this config not computed", hint=hint)
    if upstream_tests is None:
        return CheckItem(
            "tests", title, "fail", f"{upstream_env} has no recorded test results (tests never ran there)", hint=hint
        )
    run = _run_of(upstream_tests)
    theirs = upstream_tests.get("logicalHash")
    if theirs != logical_hash:
        return CheckItem(
            "tests",
            title,
            "fail",
            f"{upstream_env}'s latest tests ran on logical hash {_short(theirs)}, not {_short(logical_hash)} ({run})",
            hint=hint,
        )
    counts = upstream_tests.get("counts") if isinstance(upstream_tests.get("counts"), dict) else {}
    assert isinstance(counts, dict)
    tally = f"{counts.get('passed', 0)} of {counts.get('total', 0)} passed"
    if not upstream_tests.get("ok"):
        failed = [
            f"eval/{r.get('eval')} → {r.get('target')}"
            for r in upstream_tests.get("evals") or []
            if r.get("status") != "passed"
        ]
        failed += [
            f"tool/{r.get('tool')} · {r.get('case')}"
            for r in upstream_tests.get("smoke") or []
            if r.get("status") != "passed"
        ]
        names = f": {', '.join(failed[:5])}{' …' if len(failed) > 5 else ''}" if failed else ""
        return CheckItem(
            "tests",
            title,
            "fail",
            f"{upstream_env}'s tests for {_short(logical_hash)} failed, {tally}{names} ({run})",
            hint=f"fix the failing tests, apply to {upstream_env}, run `ci-deployer test --env {upstream_env}` again",
        )
    evidence = f"{upstream_env}'s tests for {_short(logical_hash)} passed, {tally} ({run})"
    return CheckItem("tests", title, "pass", evidence)
