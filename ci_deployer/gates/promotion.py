"""The promotion gate (``promotesFrom``): the target receives only what upstream applied and tested.

The *logical hash* is sha256 over the canonical JSON (sorted keys) of the env's logical specs —
policies merged, includes resolved, templates *not* rendered, so per-env ``params``, credentials and
secrets do not enter it (:func:`logical_hash`).  It must equal the ``logicalHash`` of upstream's
latest snapshot, and that snapshot must be ``complete``.  When behavioural test results exist
upstream (``upstream_tests_passed`` is not ``None``) they must have passed.  A rollback to a
snapshot the target already ran skips this gate (approvals still apply).
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
    upstream_tests_passed: bool | None,
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
    if upstream_tests_passed is False:
        return CheckItem("promotion", title, "fail", f"{evidence}; its behavioural tests failed", hint=hint)
    tests = "its behavioural tests passed" if upstream_tests_passed else "no behavioural test results recorded"
    return CheckItem("promotion", title, "pass", f"{evidence}; {tests}")
