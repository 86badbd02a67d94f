"""The scripted responder behind ``/chat`` and ``/eval/run``: deterministic replies from an assistant's config.

No model is called.  For one user turn the reply is, in this order:

1. **A tool call** when the user's text mentions (case-insensitively) the function name of one of the
   assistant's tools (saved tools in ``model.toolIds``/``model.toolRefs`` and inline ``model.tools``):
   ``{"role": "assistant", "content": "", "tool_calls": [{"id", "type": "function",
   "function": {"name", "arguments": "{}"}}]}``.  The first tool in config order wins.
2. **The first message** on the first assistant turn, when the assistant has ``firstMessage``.
3. **The first sentence of the system prompt** (the first ``model.messages`` entry with role
   ``system``, up to and including the first ``.``, ``!`` or ``?``), or ``"How can I help you today?"``
   when there is no system prompt.

A squad answers with its first member (``members[0].assistantId`` or inline ``assistant``), saved or
inline (``squad`` in a chat or eval-run target).

In an eval run (``POST /eval/run``) the mock conversation is played in order: a ``user`` message sets
the text the next reply answers (rules 1-3); a mocked ``tool`` message (the tool's answer) is
**relayed**: the next reply's content is that text, verbatim, as a model reading out a tool result
would; a mocked ``assistant`` message counts as a turn spoken.  Each assistant checkpoint
(``judgePlan``) gets the reply above, judged, and marked in the run's ``results[0].messages`` with
``judge: {status: pass|fail, failureReason?}``; ``results[0].status`` is ``fail`` when any checkpoint
failed.  ``continuePlan.exitOnFailureEnabled`` stops the conversation at a failed checkpoint.

Eval judging (``judgePlan`` on an assistant checkpoint): ``exact`` compares the reply's content with
``content`` (surrounding whitespace ignored, case-insensitive as Vapi documents) and, when given, the
called tools' names with ``toolCalls[].name``; ``regex`` searches ``content`` in the reply as a Python
regular expression — a JavaScript-style literal ``/pattern/flags`` (Vapi's own examples: ``/sunny/i``)
has its delimiters removed and its ``i``, ``m`` and ``s`` flags applied; ``ai`` always passes (there
is no model here).

Runs end at once unless the emulator is told otherwise (``Emulator.eval_run_polls``, ``emulator
serve --eval-run-polls N``): then the POST answers ``queued`` and ``GET /eval/run/{id}`` answers
``running`` N times before the ended run, so clients must poll — and a huge N is a run that never ends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DEFAULT_LINE = "How can I help you today?"
_SENTENCE = re.compile(r"^\s*(.+?[.!?])(?:\s|$)", re.DOTALL)


def tool_names(assistant: Mapping[str, Any], saved_tool: Callable[[str], Mapping[str, Any] | None]) -> list[str]:
    """Function names of the assistant's tools, in config order (saved tools first, then inline)."""
    model = assistant.get("model") or {}
    ids: list[Any] = list(model.get("toolIds") or [])
    ids += [r.get("toolId") for r in model.get("toolRefs") or [] if isinstance(r, Mapping)]
    tools = [saved_tool(i) for i in ids if isinstance(i, str)]
    tools += [t for t in model.get("tools") or [] if isinstance(t, Mapping)]
    names: list[str] = []
    for tool in tools:
        name = ((tool or {}).get("function") or {}).get("name") if tool else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def first_sentence(assistant: Mapping[str, Any]) -> str:
    for message in (assistant.get("model") or {}).get("messages") or []:
        if isinstance(message, Mapping) and message.get("role") == "system":
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                match = _SENTENCE.match(content)
                return (match.group(1) if match else content.strip().splitlines()[0]).strip()
    return DEFAULT_LINE


def reply(assistant: Mapping[str, Any], names: Sequence[str], user_text: str, assistant_turn: int) -> dict[str, Any]:
    """The assistant's reply to ``user_text``; ``assistant_turn`` counts earlier assistant turns (0 = first)."""
    lowered = user_text.lower()
    for name in names:
        if name.lower() in lowered:
            call_id = "call_" + hashlib.sha256(f"{name}:{assistant_turn}".encode()).hexdigest()[:16]
            return {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}],
            }
    first = assistant.get("firstMessage")
    if assistant_turn == 0 and isinstance(first, str) and first:
        return {"role": "assistant", "content": first}
    return {"role": "assistant", "content": first_sentence(assistant)}


def relay(tool_result: str) -> dict[str, Any]:
    """The reply after a mocked tool answer: its text, verbatim."""
    return {"role": "assistant", "content": tool_result}


_JS_LITERAL = re.compile(r"^/(.*)/([a-z]*)$", re.DOTALL)
_JS_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def compile_judge_regex(text: str) -> re.Pattern[str]:
    """A judge's regex: Python syntax, or a JavaScript literal ``/pattern/flags`` (Vapi's examples)."""
    match = _JS_LITERAL.match(text)
    if match is None:
        return re.compile(text)
    flags = 0
    for flag in match.group(2):
        flags |= _JS_FLAGS.get(flag, 0)
    return re.compile(match.group(1), flags)


def called_tools(message: Mapping[str, Any]) -> list[str]:
    return [c["function"]["name"] for c in message.get("tool_calls") or []]


def judge(plan: Mapping[str, Any], message: Mapping[str, Any]) -> str | None:
    """None when the reply passes ``plan``, else why it failed."""
    kind = plan.get("type")
    content = str(message.get("content") or "")
    expected_tools = [t.get("name") for t in plan.get("toolCalls") or [] if isinstance(t, Mapping)]
    if expected_tools and called_tools(message) != expected_tools:
        return f"expected tool calls {expected_tools}, got {called_tools(message)}"
    if kind == "exact":
        want = plan.get("content")
        same = isinstance(want, str) and want.strip().casefold() == content.strip().casefold()
        if isinstance(want, str) and not same and not (expected_tools and not want):
            return f"expected exactly {want!r}, got {content!r}"
        return None
    if kind == "regex":
        pattern = str(plan.get("content") or "")
        try:
            found = compile_judge_regex(pattern).search(content)
        except re.error as exc:
            return f"judgePlan.content is not a valid regular expression: {exc}"
        return None if found else f"{content!r} does not match {pattern if pattern.startswith('/') else f'/{pattern}/'}"
    return None  # "ai": no model here; documented as always passing
