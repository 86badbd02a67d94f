"""Knowledge-base documents in the config: the `documents:` block, `{document: PATH}`, and the guards
every file passes (inside --config, symlinks resolved, types Vapi indexes, size caps, located findings)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ci_deployer.config import loader, render
from ci_deployer.config.documents import MAX_FILE_BYTES, DocumentProblem, DocumentReader, file_token
from ci_deployer.findings import Finding

ENV = "apiVersion: ci-deployer/v1\nenvironments:\n  dev:\n    org: acme-dev\n    api: {url: embedded}\n"


def kb(documents: str) -> str:
    return (
        "apiVersion: ci-deployer/v1\nkind: KnowledgeBase\nmetadata: {name: faq}\n"
        f"spec: {{name: FAQ}}\ndocuments:\n{documents}"
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "cfg"
    (base / "knowledge" / "faq" / "deep").mkdir(parents=True)
    (base / "environments.yaml").write_text(ENV, encoding="utf-8")
    (base / "knowledge" / "faq" / "a.md").write_text("# A\n", encoding="utf-8")
    (base / "knowledge" / "faq" / "b.txt").write_text("B\n", encoding="utf-8")
    (base / "knowledge" / "faq" / "deep" / "c.md").write_text("# C\n", encoding="utf-8")
    (base / "knowledge" / "faq" / "logo.png").write_bytes(b"\x89PNG")
    (base / "knowledge" / "faq" / ".draft.md").write_text("hidden\n", encoding="utf-8")
    return base


def rendered(root: Path) -> tuple[list[render.RenderedResource], list[Finding]]:
    repo, findings = loader.load_repo(root)
    assert not [f for f in findings if f.level == "error"], findings
    return render.render_env(repo, "dev")


def test_globs_and_exact_files_expand_in_order_each_once(root: Path) -> None:
    (root / "knowledge" / "faq.yaml").write_text(
        kb("  - knowledge/faq/*.md\n  - knowledge/faq/**/*.md\n  - {file: knowledge/faq/b.txt}\n"), encoding="utf-8"
    )
    [res], findings = rendered(root)
    assert findings == []
    assert res.documents is not None
    assert [d.path for d in res.documents] == ["knowledge/faq/a.md", "knowledge/faq/deep/c.md", "knowledge/faq/b.txt"]
    first = res.documents[0]
    assert first.sha256 == hashlib.sha256(b"# A\n").hexdigest() and first.size == 4
    assert (first.mimetype, first.text) == ("text/markdown", True)
    assert {f.sha256 for f in res.files} == {d.sha256 for d in res.documents}


def test_a_glob_skips_hidden_files_other_types_and_config_documents(root: Path) -> None:
    (root / "knowledge" / "faq" / "notes.yaml").write_text("# not a document\nkey: value\n", encoding="utf-8")
    (root / "knowledge" / "faq" / "faq.yaml").write_text(kb("  - knowledge/faq/*\n"), encoding="utf-8")
    [res], findings = rendered(root)
    assert findings == []
    assert res.documents is not None
    # the base's own document (faq/faq.yaml) is config, never a document; .png is not indexed; .draft hidden
    assert [d.path for d in res.documents] == ["knowledge/faq/a.md", "knowledge/faq/b.txt", "knowledge/faq/notes.yaml"]


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ("  - ../outside.md\n", "E-DOCUMENT-OUTSIDE"),
        ("  - /etc/passwd\n", "E-DOCUMENT-OUTSIDE"),
        ("  - knowledge/*/../../../x*.md\n", "E-DOCUMENT-OUTSIDE"),
        ("  - {file: knowledge/faq/logo.png}\n", "E-DOCUMENT-TYPE"),
        ("  - knowledge/faq/none.md\n", "E-DOCUMENT-MISSING"),
        ("  - knowledge/faq/*.pdf\n", "E-DOCUMENT-GLOB-EMPTY"),
        ("  - knowledge/faq/*.png\n", "E-DOCUMENT-GLOB-EMPTY"),
        ("  - knowledge/faq\n", "E-DOCUMENT-NOT-A-FILE"),
        ("  - environments.yaml\n", "E-DOCUMENT-IS-CONFIG"),
    ],
)
def test_each_bad_entry_is_a_located_error(root: Path, entry: str, code: str) -> None:
    (root / "knowledge" / "faq.yaml").write_text(kb("  - knowledge/faq/a.md\n" + entry), encoding="utf-8")
    resources, findings = rendered(root)
    assert resources == []  # a document with a bad file is left out (nothing is planned for it)
    [finding] = findings
    assert (finding.code, finding.path, finding.line, finding.json_path) == (
        code,
        "knowledge/faq.yaml",
        7,
        "documents[1]",
    )


def test_a_symlink_out_of_the_config_folder_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# not yours\n", encoding="utf-8")
    (root / "knowledge" / "faq" / "link.md").symlink_to(secret)
    (root / "knowledge" / "faq.yaml").write_text(kb("  - knowledge/faq/link.md\n"), encoding="utf-8")
    _, findings = rendered(root)
    assert [f.code for f in findings] == ["E-DOCUMENT-OUTSIDE"]


def test_size_caps(root: Path) -> None:
    (root / "knowledge" / "faq" / "big.txt").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    (root / "knowledge" / "faq" / "empty.txt").write_bytes(b"")
    reader = DocumentReader(root)
    with pytest.raises(DocumentProblem) as big:
        reader.file("knowledge/faq/big.txt")
    assert big.value.code == "E-DOCUMENT-TOO-LARGE" and "10,485,760" in big.value.message
    with pytest.raises(DocumentProblem) as empty:
        reader.file("knowledge/faq/empty.txt")
    assert empty.value.code == "E-DOCUMENT-EMPTY"


def test_the_documents_block_is_checked_by_the_loader(root: Path) -> None:
    (root / "knowledge" / "faq.yaml").write_text(kb("  - 42\n  - {file: x, extra: y}\n"), encoding="utf-8")
    (root / "tool.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: t}\nspec: {type: endCall}\ndocuments: [a.md]\n",
        encoding="utf-8",
    )
    _, findings = loader.load_repo(root)
    located = sorted((f.path, f.line, f.code) for f in findings)
    assert located == [
        ("knowledge/faq.yaml", 6, "E-DOC-TYPE"),
        ("knowledge/faq.yaml", 7, "E-DOC-TYPE"),
        ("tool.yaml", 5, "E-DOC-DOCUMENTS-KIND"),
    ]


def test_a_document_reference_in_file_ids_is_the_upload_token(root: Path) -> None:
    (root / "tool.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: faq}\nspec:\n  type: query\n"
        "  knowledgeBases:\n    - provider: google\n      name: faq\n      description: FAQ\n"
        "      fileIds: [{document: knowledge/faq/a.md}]\n",
        encoding="utf-8",
    )
    [res], findings = rendered(root)
    assert findings == []
    sha = hashlib.sha256(b"# A\n").hexdigest()
    assert res.spec["knowledgeBases"][0]["fileIds"] == [file_token(sha)]
    assert [f.path for f in res.files] == ["knowledge/faq/a.md"] and res.documents is None


def test_the_logical_hash_covers_document_contents(root: Path) -> None:
    (root / "knowledge" / "faq.yaml").write_text(kb("  - knowledge/faq/a.md\n"), encoding="utf-8")
    repo, _ = loader.load_repo(root)
    first = render.logical_specs(repo, "dev")
    assert first["KnowledgeBase/faq#documents"] == {"knowledge/faq/a.md": hashlib.sha256(b"# A\n").hexdigest()}
    (root / "knowledge" / "faq" / "a.md").write_text("# A, edited\n", encoding="utf-8")
    # A command reads each file once, so the edit is seen by the next load, as by the next command.
    edited, _ = loader.load_repo(root)
    assert render.logical_specs(edited, "dev") != first  # promotion compares contents, not just the list
