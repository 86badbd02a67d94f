from __future__ import annotations

import os
from pathlib import Path

import pytest
from validate_helpers import make_doc, make_repo

from ci_deployer.validate import secrets_scan

# Assembled at run time so that the repository itself holds no token-shaped strings.
OPENAI = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-" + "1234567890-abcdefghij"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = "eyJ" + "hbGciOiJIUzI1NiJ9.eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("value", "label", "preview"),
    [
        (OPENAI, "OpenAI API key", f"sk-…({len(OPENAI)} chars)"),
        (GITHUB, "GitHub token", "gh?_…"),
        ("github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop", "GitHub token", "github_pat_…"),
        (SLACK, "Slack token", "xox?-…"),
        (AWS, "AWS access key id", "AKIA…(20 chars)"),
        (GOOGLE, "Google API key", "AIza…"),
        (STRIPE, "Stripe secret key", "sk_live_…"),
        (JWT, "JWT", "eyJ…"),
        (PEM, "PEM private key", "PEM private key block"),
    ],
)
def test_token_shapes_are_found_and_never_printed(value: str, label: str, preview: str) -> None:
    doc = make_doc("Tool", "t", {"type": "function", "messages": [{"type": "request-start", "content": f"x {value}"}]})
    findings = secrets_scan.scan_document(doc)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.code == "E-SECRET-TOKEN"
    assert label in finding.message
    assert preview in finding.message
    assert value not in finding.message
    assert value[6:] not in repr(finding)
    assert finding.json_path == "spec.messages[0].content"
    assert (finding.line, finding.path) == (doc.position(("spec", "messages", 0, "content")).line, "tools/t.yaml")


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("apiKey", "a-plain-literal-key", "E-SECRET-VALUE"),
        ("Authorization", "Bearer abc123abc123", "E-SECRET-VALUE"),
        ("x-api-key", "12345678", "E-SECRET-VALUE"),
        ("clientSecret", "shh", "E-SECRET-VALUE"),
        ("password", "hunter2", "E-SECRET-VALUE"),
        ("token", "${{ params.token }}", "W-SECRET-TEMPLATE"),
        ("Authorization", "Bearer secrets://ORDERS_API_TOKEN", None),
        ("token", "secrets://vault/kv/app#token", None),
        ("apiKey", "", None),
        ("maxTokens", "250", None),
        ("publicKey", "not-a-secret-by-key", None),
        ("Authorization", "Bearer {{ customer.token }}", None),
    ],
)
def test_secret_ish_keys(key: str, value: str, code: str | None) -> None:
    doc = make_doc("Tool", "t", {"type": "function", "server": {"url": "https://x.example", "headers": {key: value}}})
    findings = secrets_scan.scan_document(doc)
    assert [f.code for f in findings] == ([code] if code else [])
    if code == "E-SECRET-VALUE":
        assert f"({len(value)} chars)" in findings[0].message
        assert value not in findings[0].message
        assert "secrets://NAME" in (findings[0].hint or "")
        assert findings[0].json_path == f"spec.server.headers.{key}"


def test_environments_yaml_and_prompt_files_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n  uat:\n    org: acme\n"
        "    api: {url: 'https://api.vapi.ai', token: 0b7c1e2a-literal}\n"
        "    params: {ordersApiKey: 9d8c7b6a-literal}\n",
        encoding="utf-8",
    )
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.md").write_text(f"hello\n  use key {OPENAI} please\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.md").write_text(OPENAI, encoding="utf-8")
    findings = secrets_scan.scan_repo(make_repo([], root=tmp_path))
    got = {(f.path, f.line, f.column, f.code) for f in findings}
    # api.token is the environments loader's (E-ENV-TOKEN-LITERAL): reported once, not here
    assert got == {("environments.yaml", 6, 28, "E-SECRET-VALUE"), ("prompts/p.md", 2, 11, "E-SECRET-TOKEN")}
    assert all(OPENAI not in f.message and "9d8c7b6a-literal" not in f.message for f in findings)


def test_documents_are_not_scanned_twice_and_binaries_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "t.yaml").write_text(f"spec: {{apiKey: {OPENAI}}}\n", encoding="utf-8")
    (tmp_path / "blob.json").write_bytes(b"\0\1" + OPENAI.encode())
    doc = make_doc("Tool", "t", {"apiKey": OPENAI}, file="tools/t.yaml")
    findings = secrets_scan.scan_repo(make_repo([doc], root=tmp_path))
    assert [(f.path, f.code) for f in findings] == [("tools/t.yaml", "E-SECRET-TOKEN")]


def _walked(root: Path) -> list[str]:
    """The text files the scan reads, as os.walk and pathlib find them (the scan before os.scandir)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not Path(folder, d).is_symlink())
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix.lower() in secrets_scan.TEXT_SUFFIXES and not path.is_symlink():
                out.append(path.relative_to(root).as_posix())
    return out


def test_the_scan_reads_the_files_os_walk_finds_in_its_order(tmp_path: Path) -> None:
    root = tmp_path / "cfg"
    outside = tmp_path / "outside"
    for folder in ("a/b", "a/B", "a-c", ".git/objects", "prompts", "x.md.d"):
        (root / folder).mkdir(parents=True)
    outside.mkdir()
    for rel in (
        "environments.yaml", ".env", "x.env", ".hidden.md", "..yaml", "trailing.", "NOTES.MD", "a/b/p.prompt",
        "a/B/q.txt", "a-c/r.j2", ".git/objects/s.yaml", "prompts/t.liquid", "x.md.d/u.jinja", "v.png", "w.md.bak",
    ):  # fmt: skip
        (root / rel).write_text("text\n", encoding="utf-8")
    (outside / "secret.md").write_text("text\n", encoding="utf-8")
    (root / "linked-folder").symlink_to(outside, target_is_directory=True)
    (root / "a" / "linked.md").symlink_to(outside / "secret.md")
    (root / "a" / "broken.md").symlink_to(outside / "missing.md")

    found = [rel for rel, _ in secrets_scan._text_files(root)]
    assert found == _walked(root)
    assert "..yaml" in found and ".env" not in found and "x.env" in found and ".hidden.md" in found
    assert not any(rel.startswith(("linked-folder/", ".git/")) or rel.startswith("a/linked") for rel in found)
