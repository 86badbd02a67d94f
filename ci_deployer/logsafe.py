"""Printing untrusted text (API messages, config values, prompts) safely, in a terminal and in Actions.

Two helpers, both pure functions:

* :func:`neutralize` — for any text that reaches stdout/stderr: nothing in it can become a GitHub
  Actions workflow command, and control characters are shown, not obeyed.  Use it on every
  untrusted line a reporter prints (plan diffs, API errors, names), whatever ``--format``: a plain
  ``run: ci-deployer plan`` step is parsed by the runner exactly like the action's own output.
* :func:`printable` — control characters shown as escapes (``\\x1b``, ``\\u202e``); for terminal
  output where Actions do not matter, and for building messages.
* :func:`neutralize_json` — for JSON printed to a log: the same guarantee, the JSON unchanged as data.
* :func:`escape_data` / :func:`escape_property` — for text placed *inside* a workflow command
  (``::error file=…::message``), as actions/toolkit escapes it.

What the runner treats as a command (actions/runner ``OutputManager.OnDataReceived`` and
``ActionCommand.TryParseV2``/``TryParse``): it reads a step's output line by line, splitting at
``\\n``, ``\\r\\n`` *and a bare* ``\\r`` (.NET ``StreamReader.ReadLine``), then

1. ``::name props::data`` when the line *starts* with ``::`` after ``TrimStart()`` (any leading
   Unicode whitespace), and
2. the legacy ``##[name props]data`` **anywhere** in the line (``IndexOf("##[")``),

for any registered command name (``error``, ``add-mask``, ``stop-commands``, ``group``, …, matched
case-insensitively).  So, line by line: control characters (a bare ``\\r`` included) are escaped, a
line whose first non-blank characters are ``::`` gets a zero-width space between the two colons, and
every ``##[`` gets one between ``##`` and ``[``.  The text reads the same; the runner sees no command.

Never ``::stop-commands::`` instead: while it is active the runner also ignores ``::add-mask::``, so a
secret resolved in that window would be printed in clear.
"""

from __future__ import annotations

import re

# U+200B ZERO WIDTH SPACE: not whitespace for .NET's TrimStart (category Cf), invisible in the log.
BREAK = "\u200b"

# C0 controls except TAB and LF, DEL, C1 controls, and the bidirectional overrides/isolates that can
# make a line display differently from what it holds ("Trojan Source", CVE-2021-42574).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\x1b": "\\x1b", "\x00": "\\x00", "\x7f": "\\x7f"}
_LEGACY = "##["


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def has_controls(text: str) -> bool:
    """True when ``text`` holds a character :func:`printable` would escape (for name checks)."""
    return _CONTROL.search(text) is not None


def printable(text: str) -> str:
    """``text`` with control characters (C0 but TAB/LF, DEL, C1, bidi overrides) as visible escapes.

    ANSI escape sequences (``\\x1b[31m``), NUL, a bare ``\\r`` that would overwrite the line, and
    backspaces all come out as text.  Line feeds and tabs are kept."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


def neutralize_line(line: str) -> str:
    """One line (no ``\\n``) made safe: see :func:`neutralize`."""
    line = printable(line)
    stripped = line.lstrip()  # Python's whitespace is a superset of .NET's Char.IsWhiteSpace
    if stripped.startswith("::"):
        cut = len(line) - len(stripped) + 1
        line = line[:cut] + BREAK + line[cut:]
    if _LEGACY in line:
        line = line.replace(_LEGACY, "##" + BREAK + "[")
    return line


def neutralize(text: str) -> str:
    """Untrusted ``text`` made safe to print in a GitHub Actions log, line by line.

    No line of the result can start a workflow command (``::error::…``, ``::add-mask::…``,
    ``::stop-commands::…``, the legacy ``##[…]`` anywhere in a line), and control characters are
    shown as escapes (see :func:`printable`).  Idempotent; line breaks (``\\n``, ``\\r\\n``) are kept.
    """
    if not text:
        return text
    if "::" not in text and _LEGACY not in text and not _CONTROL.search(text):
        return text  # the common case: nothing to do, no copy
    crlf = text.replace("\r\n", "\n")
    return "\n".join(neutralize_line(line) for line in crlf.split("\n"))


def neutralize_json(text: str) -> str:
    """JSON text made safe to print in an Actions log, still the same JSON value.

    JSON strings cannot hold raw line breaks or control characters, and an indented or compact JSON
    line never starts with ``::``; what remains is the legacy ``##[`` anywhere in a line, which only
    a string can hold: it becomes ``##\\u005b`` (the same string once parsed)."""
    return text.replace(_LEGACY, "##\\u005b") if _LEGACY in text else text


def escape_data(text: str) -> str:
    """Escape a workflow command's data (actions/toolkit ``escapeData``): the command stays one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (actions/toolkit ``escapeProperty``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
