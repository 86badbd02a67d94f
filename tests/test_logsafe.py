"""logsafe: no printed line can become a GitHub Actions workflow command.

``runner_commands`` models what the runner executes (actions/runner ``OutputManager.OnDataReceived``
→ ``ActionCommand.TryParseV2`` / ``TryParse``): lines split at LF, CRLF and a bare CR
(``StreamReader.ReadLine``); ``::name …::data`` after ``TrimStart()``; the legacy ``##[name …]data``
anywhere in a line; registered command names, case-insensitively.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from ci_deployer import logsafe

REGISTERED = {
    "add-mask", "add-path", "set-env", "set-output", "save-state", "error", "warning", "notice", "debug",
    "group", "endgroup", "echo", "add-matcher", "remove-matcher", "stop-commands", "internal-set-repo-path",
}  # fmt: skip
# .NET Char.IsWhiteSpace: U+0009–U+000D, U+0020, U+0085, U+00A0 and the Zs/Zl/Zp characters.
DOTNET_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501


def runner_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def runner_commands(text: str) -> list[str]:
    """The command names the runner would execute if ``text`` were printed by a step."""
    found = []
    for line in runner_lines(text):
        trimmed = line.lstrip(DOTNET_WHITESPACE)
        if trimmed.startswith("::"):
            end = trimmed.find("::", 2)
            if end >= 0:
                name = trimmed[2:end].split(" ", 1)[0]
                if name.lower() in REGISTERED:
                    found.append(name.lower())
                    continue
        start = line.find("##[")
        if start >= 0:
            close = line.find("]", start)
            if close >= 0:
                name = line[start + 3 : close].split(" ", 1)[0]
                if name.lower() in REGISTERED:
                    found.append(name.lower())
    return found


HOSTILE = [
    "::error file=a.yaml,line=1::INJECTED",
    "   ::add-mask::leak",
    "\t::stop-commands::token",
    "\u3000\u00a0::warning::wide spaces",
    "\u2028::notice::line separator",
    "message\n::set-output name=x::y",
    "message\r\n::group::crlf",
    "message\r::error::bare carriage return",
    "prefix ##[error]legacy anywhere in the line",
    "##[add-mask]legacy at the start",
    "  ##[set-output name=x]y",
    "::ERROR::upper case",
    "::Add-Mask::mixed case",
    "prompt line\n    ::endgroup::\nmore",
    "\x0b\x0c::error::vertical tab and form feed",
    "\x85::warning::NEL",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_runs_a_command_raw_but_not_neutralized(text: str) -> None:
    assert runner_commands(text), f"the model should see a command in {text!r}"
    safe = logsafe.neutralize(text)
    assert runner_commands(safe) == []
    assert logsafe.neutralize(safe) == safe  # idempotent


def test_neutralized_text_reads_the_same() -> None:
    text = "Vapi said:\n  ::error file=x::boom\nand ##[warning]done"
    safe = logsafe.neutralize(text)
    assert safe.replace(logsafe.BREAK, "") == text
    assert safe.count("\n") == 2


def test_plain_text_is_returned_unchanged() -> None:
    text = "Plan: 2 to create, 1 to update, 0 to delete.\n  ~ model.temperature: 0.2 → 0.3\na::b"
    assert logsafe.neutralize(text) == text


def test_control_characters_are_shown_not_obeyed() -> None:
    text = "name\x1b[2J\x00\x07\x08\x7f\x9b31m\u202eevil\r"
    out = logsafe.printable(text)
    assert out == "name\\x1b[2J\\x00\\x07\\x08\\x7f\\x9b31m\\u202eevil\\r"
    assert not logsafe.has_controls(out)
    assert logsafe.printable("tabs\tand\nnewlines stay") == "tabs\tand\nnewlines stay"


def test_random_text_never_yields_a_command() -> None:
    rng = random.Random(7)
    alphabet = [":", ":", "#", "#", "[", "]", " ", "\t", "\n", "\r", "\u3000", "\x1b", "e", "error", "add-mask", "x"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        assert runner_commands(logsafe.neutralize(text)) == [], repr(text)


def test_json_output_keeps_its_value_and_runs_nothing() -> None:
    payload = {"error": "##[add-mask]x and ::error::y", "lines": ["a\n::warning::b"]}
    text = json.dumps(payload, indent=2)
    assert runner_commands(text) == ["add-mask"]  # the legacy form hides inside a JSON string
    safe = logsafe.neutralize_json(text)
    assert runner_commands(safe) == []
    assert json.loads(safe) == payload


def test_command_data_escaping_keeps_a_command_on_one_line() -> None:
    data = logsafe.escape_data("100%\r\nnext ::error::x")
    assert data == "100%25%0D%0Anext ::error::x"
    assert logsafe.escape_property("a:b,c") == "a%3Ab%2Cc"
    assert runner_commands(f"::warning::{data}") == ["warning"]  # one command, the one we meant
