"""The partial loader's text search (config/partial.py ``mentioning``) finds exactly the files a
whole-word regular expression finds in each file on its own, however often a word is asked for."""

from __future__ import annotations

import re
from pathlib import Path

from ci_deployer.config.partial import PartialLoader

WORD = r"A-Za-z0-9_.\-"
FILES = {
    "tools/agent-7.yaml": "agent-7",  # the whole file
    "tools/agent-70.yaml": "name: agent-70\nrefs: [agent-700, xagent-7, agent-7x]\n",
    "assistants/a.yaml": "toolIds: [agent-7, tool-1]\n",
    "assistants/b.yaml": "content: {file: ../prompts/agent-7.md}\n",  # a file name, not the slug
    "assistants/c.yaml": "members: [{assistantId: agent-7}]\nx: tool-1",
    "squads/s.yaml": "tool-10 tool-1_ tool-1. tool-11\n",
    "squads/t.yaml": "(tool-1)",
    "policies/p.yml": "",
}


def naive(loader: PartialLoader, words: set[str]) -> list[str]:
    found = []
    for rel, text in loader.texts.items():
        if any(re.search(rf"(?<![{WORD}]){re.escape(w)}(?![{WORD}])", text) for w in words if w):
            found.append(rel)
    return found


def test_mentioning_is_a_whole_word_search_of_each_file(tmp_path: Path) -> None:
    (tmp_path / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n  dev: {org: acme-dev, api: {url: embedded}}\n", encoding="utf-8"
    )
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    loader = PartialLoader(tmp_path)
    assert set(loader.texts) == set(FILES)
    asked = [{"agent-7"}, {"tool-1"}, {"agent-7", "tool-1"}, {"agent-7.md"}, {"agent-70", ""}, {"nothing"}, {"agent-7"}]
    for words in asked:
        assert loader.mentioning(words) == naive(loader, words), words
    assert loader.mentioning({"agent-7"}) == ["assistants/a.yaml", "assistants/c.yaml", "tools/agent-7.yaml"]
