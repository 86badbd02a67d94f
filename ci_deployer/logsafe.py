"""Untrusted text made safe to print in GitHub Actions logs, line by line.

The runner executes a workflow command found at the start of any log line (``::name …::`` after
leading whitespace, and the legacy ``##[name]`` form).  API messages, config values and prompts are
untrusted: a line of them must never become ``::add-mask::``, ``::error`` or ``::stop-commands::``.
:func:`neutralize` puts an invisible zero-width space before such a line (the runner does not treat
it as whitespace, so the line no longer starts a command).  ``::stop-commands::`` is not used: while
it is active the runner also ignores ``::add-mask::``.
"""

from __future__ import annotations

import re

_COMMAND_START = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)
GUARD = "\u200b"


def neutralize(text: str) -> str:
    """``text`` with every line that would start a workflow command defused."""
    return _COMMAND_START.sub(lambda m: f"{m.group(1)}{GUARD}{m.group(2)}", text)
