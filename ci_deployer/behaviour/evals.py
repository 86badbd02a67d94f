"""One eval run through Vapi's API: ``POST /eval/run``, then ``GET /eval/run/{id}`` until it ends.

Facts (Vapi's OpenAPI spec: ``CreateEvalRunDTO``, ``EvalRun``, ``EvalRunResult``):

- the body is ``{type: "eval", evalId | eval, target}``; ``target`` is ``{type: "assistant",
  assistantId | assistant}`` or ``{type: "squad", squadId | squad}`` — ids for what the org holds,
  inline create payloads (``CreateEvalDTO``, ``CreateAssistantDTO``, ``CreateSquadDTO``) for what it
  does not (a PR's config, an eval not deployed to this env);
- a run's ``status`` is ``queued`` | ``running`` | ``ended``; ``endedReason`` is
  ``mockConversation.done`` when the conversation was played to its end, else ``error``, ``timeout``,
  ``cancelled`` or ``aborted`` (with ``endedMessage``); ``results[0].status`` is ``pass`` only when
  every assistant checkpoint passed;
- the POST answer's shape is not specified (``201: object``): its ``id`` (or ``evalRunId``) is polled,
  and an answer that already says ``ended`` is used as is.

Polling backs off (×1.5 from ``interval`` up to ``max_interval``) until ``timeout``.  A run that has
not ended by then is an *error* result, not a hang.  Creating a run is retried like a read: a
duplicate run costs a little and changes nothing.

Per-checkpoint verdicts come from the run's ``results[0].messages``: each assistant reply that was
judged carries ``judge: {status, failureReason}``; they are matched to the eval's checkpoints in
order.  When a run gives no per-checkpoint verdicts, the checkpoints are ``unknown`` and the result
follows ``results[0].status``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ci_deployer import redact
from ci_deployer.behaviour.model import Checkpoint, EvalResult
from ci_deployer.errors import ApiError

DONE = "mockConversation.done"
EXCERPT_CHARS = 300
EXCERPT_TURNS = 4


class EvalClient(Protocol):
    """What an eval run needs of :class:`ci_deployer.platform.client.VapiClient`."""

    def run_eval(self, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]: ...

    def get_eval_run(self, id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Polling:
    """How long and how often to ask whether a run has ended (clock and sleep injectable for tests)."""

    timeout: float = 300.0
    interval: float = 1.0
    max_interval: float = 10.0
    factor: float = 1.5
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class EvalJob:
    """One eval against one target, ready to send (or the reason it cannot be)."""

    eval: str
    target: str  # assistant/SLUG or squad/SLUG
    messages: list[Any]  # the eval's spec.messages (to find the checkpoints)
    body: dict[str, Any] = field(default_factory=dict)  # POST /eval/run, ids and secrets resolved
    file: str | None = None
    line: int | None = None
    eval_source: str = "managed"
    target_source: str = "managed"
    notes: list[str] = field(default_factory=list)
    problem: str | None = None  # set: the job cannot run (reported as an error result)

    def result(self, status: Any, **fields: Any) -> EvalResult:
        return EvalResult(
            eval=self.eval,
            target=self.target,
            status=status,
            file=self.file,
            line=self.line,
            eval_source=self.eval_source,
            target_source=self.target_source,
            notes=list(self.notes),
            **fields,
        )


def run_job(client: EvalClient, job: EvalJob, polling: Polling) -> EvalResult:
    """Run ``job`` to its end (or its timeout) and judge it; API failures become error results."""
    if job.problem is not None:
        return job.result("error", message=job.problem)
    started = polling.clock()
    run: dict[str, Any] = {}
    run_id: str | None = None
    try:
        run = client.run_eval(job.body, retry_unsafe=True)
        run_id = _run_id(run)
        delay = polling.interval
        while run.get("status") != "ended":
            if run_id is None:
                return job.result("error", message="POST /eval/run answered without a run id to poll")
            left = started + polling.timeout - polling.clock()
            if left <= 0:
                return job.result(
                    "error",
                    run_id=run_id,
                    duration_ms=(polling.clock() - started) * 1000,
                    message=f"the eval run {run_id} did not end within {polling.timeout:g} s "
                    f"(last status: {run.get('status') or 'unknown'})",
                )
            polling.sleep(min(delay, left))
            delay = min(delay * polling.factor, polling.max_interval)
            run = client.get_eval_run(run_id)
    except ApiError as error:
        return job.result(
            "error", run_id=run_id, duration_ms=(polling.clock() - started) * 1000, message=redact.redact(str(error))
        )
    duration = (polling.clock() - started) * 1000
    ended = run.get("endedReason")
    if ended != DONE:
        detail = run.get("endedMessage") or "no message"
        return job.result(
            "error",
            run_id=run_id,
            ended_reason=ended,
            duration_ms=duration,
            message=redact.redact(f"the eval run ended with {ended or 'no endedReason'}: {detail}"),
        )
    status, checkpoints, message = judge_run(job.messages, run)
    return job.result(
        status, run_id=run_id, ended_reason=ended, duration_ms=duration, checkpoints=checkpoints, message=message
    )


def _run_id(run: Mapping[str, Any]) -> str | None:
    value = run.get("id") or run.get("evalRunId")
    return str(value) if value else None


def checkpoints_of(messages: Sequence[Any]) -> list[tuple[int, dict[str, Any]]]:
    """``(index in messages, judgePlan)`` of every assistant checkpoint, in order."""
    return [
        (i, dict(m["judgePlan"]))
        for i, m in enumerate(messages)
        if isinstance(m, Mapping) and m.get("role") == "assistant" and isinstance(m.get("judgePlan"), Mapping)
    ]


def judge_run(messages: Sequence[Any], run: Mapping[str, Any]) -> tuple[Any, list[Checkpoint], str | None]:
    """The verdict of an ended run: ``(passed|failed|error, checkpoints, message)``."""
    results = run.get("results")
    result = results[0] if isinstance(results, list) and results and isinstance(results[0], Mapping) else None
    if result is None:
        return "error", [], "the eval run ended without results"
    transcript = [m for m in result.get("messages") or [] if isinstance(m, Mapping)]
    judged = [
        i for i, m in enumerate(transcript) if m.get("role") == "assistant" and isinstance(m.get("judge"), Mapping)
    ]
    checkpoints: list[Checkpoint] = []
    for n, (message_index, plan) in enumerate(checkpoints_of(messages)):
        cp = Checkpoint(index=n + 1, message_index=message_index, judge=_judge_view(plan), status="unknown")
        if n < len(judged):
            at = judged[n]
            reply = transcript[at]
            verdict = reply["judge"]
            cp.status = verdict.get("status") if verdict.get("status") in ("pass", "fail") else "unknown"
            cp.reason = _text(verdict.get("failureReason")) or None
            cp.reply = {"content": _text(reply.get("content")), "toolCalls": tool_call_names(reply)}
            cp.excerpt = _excerpt(transcript, at)
        elif judged:
            cp.status = "not-reached"  # the conversation stopped before it (exitOnFailureEnabled)
        checkpoints.append(cp)
    passed = result.get("status") == "pass"
    if passed:
        return "passed", checkpoints, None
    failing = [c for c in checkpoints if c.status == "fail"]
    if failing:
        first = failing[0]
        why = first.reason or "no reason given"
        return "failed", checkpoints, f"checkpoint {first.index} of {len(checkpoints)} failed: {why}"
    if result.get("status") == "fail":
        return "failed", checkpoints, "the run failed (it gave no per-checkpoint verdicts)"
    return "error", checkpoints, f"the run's result status is {result.get('status')!r}"


def tool_call_names(message: Mapping[str, Any]) -> list[str]:
    """Names of the tools an assistant message called (OpenAI ``tool_calls`` or Vapi ``toolCalls``)."""
    names = []
    for call in message.get("tool_calls") or message.get("toolCalls") or []:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        name = function.get("name") if isinstance(function, Mapping) else call.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


def _judge_view(plan: Mapping[str, Any]) -> dict[str, Any]:
    """What a report shows of a judge: its type, expected content and tool calls (an AI judge's model
    is summarised by provider/model, not its whole prompt)."""
    view: dict[str, Any] = {"type": plan.get("type")}
    if "content" in plan:
        view["content"] = plan.get("content")
    if plan.get("toolCalls"):
        view["toolCalls"] = [c.get("name") for c in plan["toolCalls"] if isinstance(c, Mapping)]
    model = plan.get("model")
    if isinstance(model, Mapping):
        view["model"] = f"{model.get('provider')}/{model.get('model')}"
    return view


def _text(value: Any) -> str:
    if value is None:
        return ""
    return redact.redact(value if isinstance(value, str) else str(value))


def _short(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _excerpt(transcript: Sequence[Mapping[str, Any]], at: int) -> list[dict[str, str]]:
    """The turns that led to the reply at ``at``: back to the last user message (at most a few)."""
    start = at
    while start > 0 and at - start < EXCERPT_TURNS - 1:
        start -= 1
        if transcript[start].get("role") == "user":
            break
    out = []
    for message in transcript[start : at + 1]:
        content = _text(message.get("content"))
        names = tool_call_names(message)
        if names:
            content = (content + " " if content else "") + f"[calls {', '.join(names)}]"
        out.append({"role": str(message.get("role") or "?"), "content": _short(content)})
    return out
