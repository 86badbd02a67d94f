"""How field values read in every rendering of a plan (terminal text, PR comment, job summary): as
the config a reviewer wrote, not as the API's JSON.

- a scalar is one YAML-style token: strings bare unless YAML would read them otherwise (then
  double-quoted), references as ``slug (kind)``, secret markers as ``🔒 secret``;
- a map or list is YAML in the order it comes in (the plan keeps the document's own order);
- a long or multi-line string (a prompt) is pulled out of the YAML into a text block of its own,
  its long lines wrapped at word boundaries and Vapi's Liquid ``{{ … }}`` / ``{% … %}`` kept whole.

Pure functions over plan JSON values; nothing here knows about markdown or terminals.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ci_deployer.engine.canonical import REDACTED, SECRET_MARK, parse_ref_token

# A string longer than this, or spanning lines, is shown as a text block (prompts, long messages).
LONG = 80
# Text blocks wrap longer lines here: GitHub shows about 110 columns of a code block in a PR
# comment before it scrolls sideways, and a diff fence takes one more for the +/- column.
WRAP = 100
# A list of short scalars up to this long stays on one line, as `[a, b]`.
FLOW = 72

KIND_WORDS = {
    "Assistant": "assistant",
    "Squad": "squad",
    "Tool": "tool",
    "StructuredOutput": "structured output",
    "KnowledgeBase": "knowledge base",
    "Eval": "eval",
    "PhoneNumber": "phone number",
    "Credential": "credential",
    "Policy": "policy",
}

_BOOLISH = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})
_NUMBERISH = re.compile(r"^[-+]?(\.?\d[\d_]*\.?\d*([eE][-+]?\d+)?|\.inf|\.nan|0x[0-9a-fA-F_]+|0o[0-7_]+)$", re.I)
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_.$/-]*$")
_LIQUID = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_BULLET = re.compile(r"^(\s*)([-*+]|\d+[.)])?(\s*)")
_GLUE = "\x00"  # stands for a space inside a Liquid tag while wrapping: never a break point


@dataclass(frozen=True)
class Secret:
    """A field whose value is a secret: only its status is known (changed / unknown / rotated)."""

    status: str


def kind_word(kind: str) -> str:
    """``"StructuredOutput"`` → ``"structured output"``."""
    return KIND_WORDS.get(kind, kind.lower())


def ref_label(value: Any) -> str | None:
    """``"ref:Tool/lookup-invoice"`` → ``"lookup-invoice (tool)"``; anything else → ``None``."""
    parsed = parse_ref_token(value)
    if parsed is None:
        return None
    if parsed[0] == "File":  # an uploaded knowledge-base document: named by its content hash
        return f"sha256:{parsed[1][:12]} (document)"
    return f"{parsed[1]} ({kind_word(parsed[0])})"


def is_secret_marker(value: Any) -> bool:
    """A canonical stand-in for a secret value (never the value itself)."""
    return isinstance(value, str) and (value.startswith(SECRET_MARK) or value == REDACTED)


def is_long(value: Any, limit: int = LONG) -> bool:
    """Multi-line strings and strings longer than ``limit`` are shown as text blocks."""
    return isinstance(value, str) and ("\n" in value or len(value) > limit) and ref_label(value) is None


def is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _plain_ok(text: str) -> bool:
    """Whether YAML would read ``text`` back as this very string when written bare."""
    if not text or text != text.strip() or any(ch < " " or ch == "\x7f" for ch in text):
        return False
    if text[0] in "-?:,[]{}#&*!|>'\"%@`" or text.endswith(":"):
        return False
    if ": " in text or " #" in text:
        return False
    return text.lower() not in _BOOLISH and not _NUMBERISH.match(text)


def scalar(value: Any) -> str:
    """One value on one line, as YAML would show it (references and secret markers readable)."""
    if isinstance(value, Secret):
        return f"🔒 secret ({value.status})"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        label = ref_label(value)
        if label is not None:
            return label
        if is_secret_marker(value):
            return "🔒 secret"
        return value if _plain_ok(value) else quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key_text(k)}: {scalar(v)}" for k, v in value.items()) + "}"
    return quote(str(value))


def key_text(key: Any) -> str:
    text = str(key)
    return text if _PLAIN_KEY.match(text) and text.lower() not in _BOOLISH else quote(text)


def _flow(items: list[Any]) -> str | None:
    """``[a, b]`` for a short list of short scalars (not references: those read better one a line)."""
    if not items or not all(is_scalar(v) and not isinstance(v, Secret) for v in items):
        return None
    if any(is_long(v) or ref_label(v) is not None for v in items):
        return None
    parts = [scalar(v) for v in items]
    if any(any(ch in p for ch in ",[]{}") and not p.startswith('"') for p in parts):
        return None
    text = "[" + ", ".join(parts) + "]"
    return text if len(text) <= FLOW else None


# -- text ------------------------------------------------------------------------------------------


def text_lines(value: str) -> list[str]:
    """A string's lines (a trailing newline adds no empty line)."""
    return value.splitlines() or [""]


def wrap_line(line: str, width: int = WRAP) -> list[str]:
    """One line cut at spaces into lines of at most ``width`` columns where it can be; continuation
    lines keep the line's indentation (and a list item's, past its bullet).  A Liquid tag is never
    cut, nor is a word longer than ``width``."""
    if len(line) <= width:
        return [line]
    head = _BULLET.match(line)
    indent = head.group(1) if head else ""
    hanging = " " * len(head.group(0)) if head and head.group(2) else indent
    glued = _LIQUID.sub(lambda m: m.group(0).replace(" ", _GLUE), line)
    wrapper = textwrap.TextWrapper(
        width=width,
        initial_indent="",
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
        replace_whitespace=False,
        drop_whitespace=True,
        expand_tabs=False,
    )
    body = glued[len(indent) :]
    wrapper.initial_indent = indent
    pieces = wrapper.wrap(body) or [line]
    return [piece.replace(_GLUE, " ") for piece in pieces]


def wrapped(value: str, width: int = WRAP) -> tuple[list[str], bool]:
    """The string's lines with long ones wrapped, and whether any was."""
    out: list[str] = []
    for line in text_lines(value):
        out.extend(wrap_line(line, width))
    return out, len(out) != len(text_lines(value))


# -- documents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    """A long string pulled out of a YAML rendering: the path under the rendered value, the text."""

    path: tuple[str | int, ...]
    text: str


def yaml_lines(
    value: Any, path: tuple[str | int, ...] = (), *, extract: Callable[[Any], bool] = is_long
) -> tuple[list[str], list[Extracted]]:
    """``value`` as YAML lines in its own key order; strings ``extract`` picks (long ones) stand as
    ``⤵ text below`` and are returned to be shown as text blocks, in document order."""
    lines: list[str] = []
    pulled: list[Extracted] = []

    def leaf(node: Any, at: tuple[str | int, ...]) -> str:
        if isinstance(node, str) and extract(node):
            pulled.append(Extracted(at, node))
            count = len(text_lines(node))
            return "⤵ text below" + (f" ({count} lines)" if count > 1 else "")
        return scalar(node)

    def mapping(node: dict[Any, Any], at: tuple[str | int, ...], pad: str) -> None:
        if not node:
            lines.append(pad + "{}")
            return
        for key, item in node.items():
            here = (*at, key)
            label = f"{pad}{key_text(key)}:"
            if isinstance(item, dict) and item:
                lines.append(label)
                mapping(item, here, pad + "  ")
            elif isinstance(item, list) and item and _flow(item) is None:
                lines.append(label)
                sequence(item, here, pad + "  ")
            elif isinstance(item, list):
                lines.append(f"{label} {_flow(item) or '[]'}")
            else:
                lines.append(f"{label} {leaf(item, here)}")

    def sequence(node: list[Any], at: tuple[str | int, ...], pad: str) -> None:
        for index, item in enumerate(node):
            here = (*at, index)
            if isinstance(item, dict) and item:
                start = len(lines)
                mapping(item, here, pad + "  ")
                lines[start] = pad + "- " + lines[start][len(pad) + 2 :]
            elif isinstance(item, list) and item and _flow(item) is None:
                lines.append(pad + "-")
                sequence(item, here, pad + "  ")
            elif isinstance(item, list):
                lines.append(f"{pad}- {_flow(item) or '[]'}")
            else:
                lines.append(f"{pad}- {leaf(item, here)}")

    if isinstance(value, dict):
        mapping(value, path, "")
    elif isinstance(value, list):
        flow = _flow(value)
        if flow is not None:
            lines.append(flow)
        else:
            sequence(value, path, "")
    else:
        lines.append(leaf(value, path))
    return lines, pulled
