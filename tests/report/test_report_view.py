"""The view-model: how each value and each changed field is shown, whatever the face."""

from __future__ import annotations

from typing import Any

import pytest

from ci_deployer.report import values, view
from ci_deployer.report.view import Block, Item


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Order Agent (dev)", "Order Agent (dev)"),
        ("Hi {{ customer.number }}?", "Hi {{ customer.number }}?"),
        ("{{ customer.name }}", '"{{ customer.name }}"'),  # a flow map to YAML: quoted
        ("true", '"true"'),
        ("1.50", '"1.50"'),
        ("a: b", '"a: b"'),
        ("", '""'),
        (" padded", '" padded"'),
        ("ref:Tool/lookup-invoice", "lookup-invoice (tool)"),
        ("ref:StructuredOutput/call-summary", "call-summary (structured output)"),
        ("ref:KnowledgeBase/faq", "faq (knowledge base)"),
        ("hmac:0123456789abcdef", "🔒 secret"),
        ("Bearer secrets://ORDERS_API_TOKEN", "Bearer secrets://ORDERS_API_TOKEN"),
        (0.3, "0.3"),
        (False, "false"),
        (None, "null"),
        (values.Secret("unknown"), "🔒 secret (unknown)"),
    ],
)
def test_scalars_read_as_yaml(value: Any, shown: str) -> None:
    assert values.scalar(value) == shown


def test_wrapping_keeps_liquid_tags_and_list_indentation() -> None:
    line = "- " + "word " * 17 + "{{ customer.number | default: 'unknown caller' }} and then some more words here"
    lines = values.wrap_line(line, 60)
    assert all(len(piece) <= 60 or "{{" in piece for piece in lines)
    assert any("{{ customer.number | default: 'unknown caller' }}" in piece for piece in lines)
    assert all(piece.startswith("  ") for piece in lines[1:])  # hanging under the bullet's text
    assert " ".join(piece.strip() for piece in lines).replace("- ", "", 1) == line[2:].strip()
    assert values.wrap_line("short line", 60) == ["short line"]
    assert values.wrap_line("x" * 80, 60) == ["x" * 80]  # a word is never cut


def test_yaml_keeps_order_and_pulls_out_long_strings() -> None:
    prompt = "You are\nhelpful."
    lines, pulled = values.yaml_lines(
        {
            "name": "A",
            "model": {"messages": [{"role": "system", "content": prompt}], "toolIds": ["ref:Tool/t"]},
            "phrases": ["bye", "ciao"],
            "empty": {},
        }
    )
    assert lines == [
        "name: A",
        "model:",
        "  messages:",
        "    - role: system",
        "      content: ⤵ text below (2 lines)",
        "  toolIds:",
        "    - t (tool)",
        "phrases: [bye, ciao]",
        "empty: {}",
    ]
    assert pulled == [values.Extracted(("model", "messages", 0, "content"), prompt)]


def test_a_create_is_one_document_and_its_texts() -> None:
    parts = view.document_parts(
        [
            {"path": "name", "op": "add", "new": "A"},
            {"path": "model.messages[0].content", "op": "add", "new": "line\nline"},
            {"path": "server.headers.Authorization", "op": "add", "secret": "unknown"},
        ]
    )
    assert parts == [
        Block(
            "yaml",
            "",
            (
                "name: A",
                "model:",
                "  messages:",
                "    - content: ⤵ text below (2 lines)",
                "server:",
                "  headers:",
                "    Authorization: 🔒 secret (unknown)",
            ),
        ),
        Block("text", "model.messages[0].content", ("line", "line"), note="2 lines"),
    ]


def test_a_message_added_to_a_prompt_list_is_shown_alone() -> None:
    system = {"role": "system", "content": "You are the order agent.\nBe brief."}
    added = {"role": "assistant", "content": "Hello!"}
    parts = view.field_parts([{"path": "model.messages", "op": "change", "old": [system], "new": [system, added]}])
    assert parts == [Block("yaml", "model.messages[1]", ("role: assistant", "content: Hello!"), sign="+")]


def test_an_edited_message_in_a_longer_list_is_diffed_in_place() -> None:
    a = {"role": "system", "content": "one\ntwo"}
    b = {"role": "user", "content": "hi"}
    parts = view.field_parts(
        [
            {
                "path": "model.messages",
                "op": "change",
                "old": [a, b],
                "new": [{**a, "content": "one\n2"}, b, {"role": "user", "content": "bye"}],
            }
        ]
    )
    assert parts[0] == Block("diff", "model.messages[0].content", ("@@ -1,2 +1,2 @@", " one", "-two", "+2"))
    assert parts[1].title == "model.messages[2]" and parts[1].sign == "+"  # type: ignore[union-attr]


def test_reference_lists_read_as_added_and_removed_slugs() -> None:
    by_index = view.field_parts(
        [
            {"path": "model.toolIds[0]", "op": "change", "old": "ref:Tool/a", "new": "ref:Tool/b"},
            {"path": "model.toolIds[1]", "op": "change", "old": "ref:Tool/c", "new": "ref:Tool/a"},
            {"path": "model.temperature", "op": "change", "old": 0.2, "new": 0.3},
        ]
    )
    assert by_index == [
        Item("~", "model.toolIds", added=("b (tool)",), removed=("c (tool)",)),
        Item("~", "model.temperature", old="0.2", new="0.3"),
    ]
    longer = view.field_parts(
        [{"path": "model.toolIds", "op": "change", "old": ["ref:Tool/a"], "new": ["ref:Tool/a", "ref:Tool/b"]}]
    )
    assert longer == [Item("~", "model.toolIds", added=("b (tool)",))]
    swapped = view.field_parts([{"path": "phrases", "op": "change", "old": ["a", "b"], "new": ["b", "a"], "note": ""}])
    assert swapped == [Item("~", "phrases", old="[a, b]", new="[b, a]", note="reordered")]


def test_fields_added_removed_retyped_and_secret() -> None:
    parts = view.field_parts(
        [
            {"path": "voice", "op": "add", "new": {"provider": "vapi", "voiceId": "Elliot"}},
            {"path": "async", "op": "remove", "old": False},
            {"path": "server", "op": "change", "old": {"url": "u"}, "new": "u"},
            {"path": "server.headers.Authorization", "op": "change", "secret": "rotated"},
        ]
    )
    assert parts == [
        Block("yaml", "voice", ("provider: vapi", "voiceId: Elliot"), sign="+"),
        Item("-", "async", old="false"),
        Block("yaml", "server", ("url: u",), sign="-"),
        Item("+", "server", new="u"),
        Item("!", "server.headers.Authorization", note="secret rotated outside git: sent again"),
    ]


def test_a_long_paragraph_is_diffed_as_wrapped_lines() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    [block] = view.field_parts([{"path": "p", "op": "change", "old": words, "new": words.replace("word30", "WORD")}])
    assert isinstance(block, Block) and block.style == "diff"
    assert all(len(line) <= values.WRAP + 1 for line in block.lines)
    assert len([line for line in block.lines if line[:1] in "+-"]) == 2  # one wrapped line changed, not all


def test_whitespace_only_changes_still_show() -> None:
    [part] = view.field_parts([{"path": "p", "op": "change", "old": "a\nb\n" * 50, "new": "a\nb\n" * 50 + "\n"}])
    assert isinstance(part, Block) and "+" in "".join(line[:1] for line in part.lines)


def test_referrers_fates() -> None:
    changes = [
        {"action": "delete", "kind": "Tool", "slug": "t", "fields": [], "referencedBy": []},
        {"action": "delete", "kind": "Tool", "slug": "u", "fields": []},
    ]
    deleted = {"kind": "Tool", "slug": "u", "id": "2", "name": None}
    res = view.resource_view({**changes[0], "referencedBy": [deleted]}, changes)
    assert res.referrers == (view.Referrer("Tool", "u", None, "2", "deleted"),)
    assert view.resource_view(changes[1], changes).referrers is None  # an older plan file: not known
    assert view.resource_view(changes[0], changes).referrers == ()
