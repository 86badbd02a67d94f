"""The ticket gate: a change ticket matching ``protection.ticket.pattern`` must be named somewhere.

Searched in order: the dispatch input (``--ticket`` / the ``ticket`` input), then each merged PR's
title, body and branch.  The first match wins; with ``protection.ticket.url`` (``{ticket}`` is
replaced by the match) the evidence carries the link.

The pattern must match a whole token: ``CHG-12`` in "fix CHG-12", "[CHG-12]" or the branch
``feature/CHG-12-retry``, but not inside ``xCHG-12x`` or ``CHG-123`` (for a pattern ``CHG-12``).
Token edges are "no letter, digit or ``_`` on that side" rather than ``\b``, which needs a word
character in the pattern itself and would not work for patterns such as ``#[0-9]+``.
"""

from __future__ import annotations

import functools
import re

from ci_deployer.config.model import TicketRule
from ci_deployer.gates.model import CheckItem

# Inline global flags such as `(?i)` must stay at the very start of the expression in Python ≥ 3.11.
_GLOBAL_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


@functools.lru_cache(maxsize=32)
def ticket_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` anchored to whole tokens: no word character may touch a match on either side."""
    flags = _GLOBAL_FLAGS.match(pattern)
    prefix = flags.group(0) if flags else ""
    body = pattern[len(prefix) :]
    return re.compile(rf"{prefix}(?<!\w)(?:{body})(?!\w)")


def ticket_link(rule: TicketRule, ticket: str) -> str | None:
    """The ticket's URL from the rule's template, if it has one."""
    # str.replace, not str.format: other braces in a URL must not break it.
    return rule.url.replace("{ticket}", ticket) if rule.url else None


def find_ticket(rule: TicketRule | None, texts: list[tuple[str, str]]) -> CheckItem:
    """The ticket line: ``texts`` are ``(source, text)`` pairs such as ``("PR #12 title", "…")``.

    No rule: skipped.  Nothing to search: pending.  Nothing matching: failed.
    """
    if rule is None:
        return CheckItem("ticket", "Change ticket", "skip", "no ticket required", blocking=False)
    title = "Change ticket"
    hint = f"name a ticket matching {rule.pattern} in the `ticket` input (--ticket) or the PR title"
    pattern = ticket_regex(rule.pattern)
    searched = [(source, text) for source, text in texts if text]
    for source, text in searched:
        match = pattern.search(text)
        if match:
            ticket = match.group(0)
            link = ticket_link(rule, ticket)
            return CheckItem("ticket", title, "pass", f"{ticket} ({source})" + (f" {link}" if link else ""))
    if not searched:
        return CheckItem("ticket", title, "pending", "no dispatch input and no pull request to search", hint=hint)
    sources = ", ".join(source for source, _ in searched)
    return CheckItem("ticket", title, "fail", f"no match for {rule.pattern} in: {sources}", hint=hint)
