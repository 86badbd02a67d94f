"""The behavioural test results: one record per run (``test-results.json``; docs/formats.md).

A record is keyed by the environment and the *logical* spec hash it tested (the same hash the
promotion gate compares, :func:`ci_deployer.config.render.logical_specs`), so prod's ``promotesFrom``
gate can ask "did uat's tests pass for exactly this config?".  Records of the ``managed`` and
``canary`` modes are the env's state (``<state>/<env>/tests.json``); ``transient`` records (a PR's
config run inline, nothing applied) never are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1
KIND = "test-results"
RESULTS_FILE = "test-results.json"

Status = Literal["passed", "failed", "error"]
Mode = Literal["managed", "transient", "canary"]
MODES = ("managed", "transient", "canary")


@dataclass
class Checkpoint:
    """One assistant checkpoint (a ``judgePlan``) of an eval and what the run said about it."""

    index: int  # 1-based among the eval's checkpoints
    message_index: int  # position in the eval's spec.messages
    judge: dict[str, Any]  # the judgePlan as written (type, content, toolCalls)
    status: str  # pass | fail | not-reached | unknown
    reply: dict[str, Any] | None = None  # {"content": str, "toolCalls": [names]} the assistant gave
    reason: str | None = None  # the judge's failure reason
    excerpt: list[dict[str, str]] = field(default_factory=list)  # the turns leading to the reply

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "messageIndex": self.message_index,
            "status": self.status,
            "judge": self.judge,
            "reply": self.reply,
            "reason": self.reason,
            "excerpt": self.excerpt,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            index=int(data.get("index") or 0),
            message_index=int(data.get("messageIndex") or 0),
            judge=dict(data.get("judge") or {}),
            status=str(data.get("status") or "unknown"),
            reply=data.get("reply"),
            reason=data.get("reason"),
            excerpt=list(data.get("excerpt") or []),
        )


@dataclass
class EvalResult:
    """One eval run against one target."""

    eval: str  # the Eval's slug
    target: str  # assistant/SLUG or squad/SLUG
    status: Status
    file: str | None = None
    line: int | None = None
    eval_source: str = "managed"  # managed: the eval applied in the org (evalId); inline: sent in the run
    target_source: str = "managed"  # managed: the target applied in the org (by id); inline: sent in the run
    run_id: str | None = None
    ended_reason: str | None = None
    duration_ms: float = 0.0
    message: str | None = None  # why it failed or could not run
    checkpoints: list[Checkpoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"eval/{self.eval} → {self.target}"

    def failing(self) -> list[Checkpoint]:
        return [c for c in self.checkpoints if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "eval": self.eval,
            "target": self.target,
            "status": self.status,
            "file": self.file,
            "line": self.line,
            "evalSource": self.eval_source,
            "targetSource": self.target_source,
            "runId": self.run_id,
            "endedReason": self.ended_reason,
            "durationMs": round(self.duration_ms, 1),
            "message": self.message,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        return cls(
            eval=str(data.get("eval") or ""),
            target=str(data.get("target") or ""),
            status=_status(data.get("status")),
            file=data.get("file"),
            line=data.get("line"),
            eval_source=str(data.get("evalSource") or "managed"),
            target_source=str(data.get("targetSource") or "managed"),
            run_id=data.get("runId"),
            ended_reason=data.get("endedReason"),
            duration_ms=float(data.get("durationMs") or 0),
            message=data.get("message"),
            checkpoints=[Checkpoint.from_dict(c) for c in data.get("checkpoints") or []],
            notes=list(data.get("notes") or []),
        )


@dataclass
class SmokeResult:
    """One smoke call of a tool."""

    tool: str  # the Tool's slug
    case: str
    status: Status
    file: str | None = None
    line: int | None = None
    method: str = "POST"
    url: str = ""  # as configured: secrets stay placeholders
    http_status: int | None = None
    latency_ms: float | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # the mismatch, or why no answer came
    answer: str | None = None  # an excerpt of what the tool answered (secrets redacted)

    @property
    def name(self) -> str:
        return f"smoke tool/{self.tool} · {self.case}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "case": self.case,
            "status": self.status,
            "file": self.file,
            "line": self.line,
            "method": self.method,
            "url": self.url,
            "httpStatus": self.http_status,
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 1),
            "expected": self.expected,
            "message": self.message,
            "answer": self.answer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SmokeResult:
        return cls(
            tool=str(data.get("tool") or ""),
            case=str(data.get("case") or ""),
            status=_status(data.get("status")),
            file=data.get("file"),
            line=data.get("line"),
            method=str(data.get("method") or "POST"),
            url=str(data.get("url") or ""),
            http_status=data.get("httpStatus"),
            latency_ms=data.get("latencyMs"),
            expected=dict(data.get("expected") or {}),
            message=data.get("message"),
            answer=data.get("answer"),
        )


def _status(value: Any) -> Status:
    return value if value in ("passed", "failed", "error") else "error"


@dataclass
class TestReport:
    """Every result of one ``ci-deployer test`` run (or one canary run) for one environment."""

    __test__ = False  # not a pytest test class, whatever its name

    env: str
    org: str
    logical_hash: str | None
    mode: str = "managed"
    org_id: str | None = None
    sha: str | None = None
    ran_at: str = ""
    run: str | None = None
    run_url: str | None = None
    evals: list[EvalResult] = field(default_factory=list)
    smoke: list[SmokeResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def results(self) -> list[EvalResult | SmokeResult]:
        """Every result: the evals, then the smoke tests."""
        return [*self.evals, *self.smoke]

    def failing(self) -> list[EvalResult | SmokeResult]:
        """The results that did not pass (failed, or could not be evaluated)."""
        return [r for r in self.results() if r.status != "passed"]

    @property
    def ok(self) -> bool:
        """Every test passed (a run with no tests is ok: nothing failed)."""
        return not self.failing()

    @property
    def total(self) -> int:
        return len(self.evals) + len(self.smoke)

    def counts(self) -> dict[str, int]:
        results = self.results()
        return {
            "passed": sum(1 for r in results if r.status == "passed"),
            "failed": sum(1 for r in results if r.status == "failed"),
            "errors": sum(1 for r in results if r.status == "error"),
            "total": len(results),
        }

    def summary_line(self) -> str:
        """``uat: 3 passed, 1 failed, 0 errors (4 tests)`` — or that no test runs there."""
        if not self.total:
            return f"{self.env}: no tests defined"
        c = self.counts()
        return f"{self.env}: {c['passed']} passed, {c['failed']} failed, {c['errors']} errors ({c['total']} tests)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "kind": KIND,
            "env": self.env,
            "org": self.org,
            "orgId": self.org_id,
            "logicalHash": self.logical_hash,
            "mode": self.mode,
            "sha": self.sha,
            "ranAt": self.ran_at,
            "run": self.run,
            "runUrl": self.run_url,
            "ok": self.ok,
            "counts": self.counts(),
            "evals": [r.to_dict() for r in self.evals],
            "smoke": [r.to_dict() for r in self.smoke],
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestReport:
        """A record read back (state, artifacts); raises ValueError when it is not one."""
        if data.get("kind") != KIND or not isinstance(data.get("env"), str):
            raise ValueError("not a ci-deployer test-results record")
        return cls(
            env=data["env"],
            org=str(data.get("org") or ""),
            logical_hash=data.get("logicalHash"),
            mode=str(data.get("mode") or "managed"),
            org_id=data.get("orgId"),
            sha=data.get("sha"),
            ran_at=str(data.get("ranAt") or ""),
            run=data.get("run"),
            run_url=data.get("runUrl"),
            evals=[EvalResult.from_dict(r) for r in data.get("evals") or []],
            smoke=[SmokeResult.from_dict(r) for r in data.get("smoke") or []],
            warnings=list(data.get("warnings") or []),
        )
