"""A knowledge base's documents as reviewers read them: by path and content hash, a changed text file
with its diff, uploads and deletes of files as their own lines; the same view in every face."""

from __future__ import annotations

from ci_deployer.engine.diff import FieldChange
from ci_deployer.engine.plan import Change, Plan
from ci_deployer.report.plan import render_markdown, render_text
from ci_deployer.report.view import Block, Item, documents_parts

OLD, NEW, GONE = "a" * 64, "b" * 64, "c" * 64

ENTRIES = [
    {"path": "knowledge/faq/new.md", "op": "add", "sha256": NEW, "bytes": 2048, "upload": True},
    {
        "path": "knowledge/faq/policy.md",
        "op": "change",
        "sha256": NEW,
        "oldSha256": OLD,
        "bytes": 40,
        "diff": ["@@ -1,2 +1,2 @@", " # Returns", "-Within 30 days.", "+Within 45 days."],
    },
    {"path": "knowledge/shipping.pdf", "op": "remove", "sha256": GONE},
    {"path": "faq-old.docx", "op": "remove", "id": "f-9", "note": "attached outside ci-deployer"},
]


def test_documents_parts() -> None:
    assert documents_parts(ENTRIES) == [
        Item("+", "documents: knowledge/faq/new.md", new="sha256:bbbbbbbbbbbb · 2.0 KiB (new upload)"),
        Item("~", "documents: knowledge/faq/policy.md", old="sha256:aaaaaaaaaaaa", new="sha256:bbbbbbbbbbbb · 40 B"),
        Block(
            "diff", "knowledge/faq/policy.md", ("@@ -1,2 +1,2 @@", " # Returns", "-Within 30 days.", "+Within 45 days.")
        ),
        Item("-", "documents: knowledge/shipping.pdf", old="sha256:cccccccccccc"),
        Item("-", "documents: faq-old.docx", old="file f-9 (attached outside ci-deployer)"),
    ]


def sample() -> Plan:
    upload = Change(
        "create",
        "File",
        "knowledge/faq/new.md",
        name="sha256:bbbbbbbbbbbb",
        fields=[FieldChange(("sha256",), "add", None, NEW), FieldChange(("bytes",), "add", None, 2048)],
    )
    base = Change("update", "KnowledgeBase", "faq", "kb-1", "FAQ", file="knowledge/faq.yaml", line=4, documents=ENTRIES)
    delete = Change("delete", "File", "knowledge/shipping.pdf", "f-1", "sha256:cccccccccccc", referenced_by=[])
    return Plan("dev", "acme-dev", None, "live", None, None, "sha256:x", None, changes=[upload, base, delete])


def test_text_face() -> None:
    text = render_text(sample())
    assert "+ create File/knowledge/faq/new.md (sha256:bbbbbbbbbbbb)" in text
    assert "~ update KnowledgeBase/faq (FAQ)  knowledge/faq.yaml:4" in text
    assert "~    documents: knowledge/faq/policy.md: sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb · 40 B" in text
    assert "-      Within 30 days.\n+      Within 45 days." in text
    assert "- delete File/knowledge/shipping.pdf (sha256:cccccccccccc)" in text
    assert "Plan: 1 to create, 1 to update, 1 to delete." in text


def test_markdown_face_shows_the_same() -> None:
    md = render_markdown(sample())
    assert "knowledge/faq/policy.md" in md and "-Within 30 days." in md and "+Within 45 days." in md
    assert "new upload" in md and "attached outside ci-deployer" in md
    assert md.count("```") % 2 == 0  # never left broken


def test_a_plan_file_read_back_keeps_the_documents() -> None:
    again = Plan.from_dict(sample().to_dict())
    assert again.changes[1].documents == ENTRIES
    assert render_text(again) == render_text(sample())
