"""The bad-input corpus: every broken config repo must give a located, readable finding, exit 1,
no traceback and no API request.  Committed cases live in tests/corpus/<case>/ (config files +
expect.json: ``code``, ``file``, ``line`` (null: no line to point at), optional ``contains`` and
``env`` (the environment plan/apply run against, default dev)); cases git cannot hold cleanly
(50 MB, binary, non-UTF-8, symlinks, FIFOs) are generated here.

Every case runs ``validate``, ``plan`` and ``apply --auto-approve`` in-process against the embedded
emulator; a sample runs the three as real ``ci-deployer`` processes against an emulator served on
loopback.  Each must exit 1, name the file (and line) in what it prints, print no traceback, and
send the emulator nothing at all: bad input is refused before the first request.

A few cases are real-world configs that once crashed: their expect.json says ``{"valid": true}``
(exit 0, no error finding, no traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_deployer import cli
from ci_deployer.emulator import Emulator, serve
from ci_deployer.emulator.transport import embedded_emulator

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

# Token-shaped test values are assembled at run time: the repository itself holds none.
PLACEHOLDERS = {
    "@@OPENAI_KEY@@": "sk-" + "proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa98765",
    "@@JWT@@": "eyJ" + "hbGciOiJIUzI1NiJ9.eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "@@PEM@@": "-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
}

ENV = "apiVersion: ci-deployer/v1\nenvironments:\n  dev:\n    org: acme-dev\n    api: {url: embedded}\n"
DOC_HEAD = "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata:\n  name: t\nspec:\n  type: function\n"


def _committed() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / "expect.json").is_file())


def _copy_case(name: str, dest: Path) -> dict[str, Any]:
    src = CORPUS / name
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("expect.json"))
    for path in dest.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for marker, value in PLACEHOLDERS.items():
                text = text.replace(marker, value)
            path.write_text(text, encoding="utf-8")
    expect: dict[str, Any] = json.loads((src / "expect.json").read_text(encoding="utf-8"))
    return expect


def _huge(root: Path) -> dict[str, Any]:
    big = root / "tools" / "huge.yaml"
    with big.open("w", encoding="utf-8") as handle:
        handle.write(DOC_HEAD + "  description: |\n")
        line = "    " + "x" * 1019 + "\n"
        for _ in range(50 * 1024):
            handle.write(line)
    return {"code": "E-FILE-TOO-LARGE", "file": "tools/huge.yaml", "line": None, "contains": "over the limit"}


def _binary(root: Path) -> dict[str, Any]:
    (root / "tools" / "blob.yaml").write_bytes(bytes(range(256)) * 4)
    return {"code": "E-FILE-BINARY", "file": "tools/blob.yaml", "line": 1}


def _non_utf8(root: Path) -> dict[str, Any]:
    (root / "tools" / "t.yaml").write_bytes((DOC_HEAD + "  description: ").encode() + "Café\n".encode("latin-1"))
    return {"code": "E-ENCODING", "file": "tools/t.yaml", "line": 7, "contains": "UTF-8"}


def _symlink_include(root: Path) -> dict[str, Any]:
    (root / "prompts").mkdir()
    (root / "prompts" / "p.md").symlink_to("/etc/hostname")
    (root / "tools" / "t.yaml").write_text(
        DOC_HEAD + "  function:\n    name: t\n    description: {file: ../prompts/p.md}\n", encoding="utf-8"
    )
    return {"code": None, "file": "tools/t.yaml", "line": 9}


def _symlink_document(root: Path, outside: Path) -> dict[str, Any]:
    outside.write_text(DOC_HEAD, encoding="utf-8")
    (root / "tools" / "t.yaml").symlink_to(outside)
    return {"code": "E-FILE-OUTSIDE", "file": "tools/t.yaml", "line": None}


INCLUDING_TOOL = DOC_HEAD + "  function:\n    name: t\n    description: d\n    parameters: {json: ../params/p.json}\n"


def _include_oversize(root: Path) -> dict[str, Any]:
    (root / "params").mkdir()
    (root / "params" / "p.json").write_text('{"description": "' + "x" * (2 * 1024 * 1024) + '"}', encoding="utf-8")
    (root / "tools" / "t.yaml").write_text(INCLUDING_TOOL, encoding="utf-8")
    return {"code": "E-INCLUDE-TOO-LARGE", "file": "tools/t.yaml", "line": 10}


def _include_binary(root: Path) -> dict[str, Any]:
    (root / "params").mkdir()
    (root / "params" / "p.json").write_bytes(b"\x00\x01\x02" * 100)
    (root / "tools" / "t.yaml").write_text(INCLUDING_TOOL, encoding="utf-8")
    return {"code": "E-INCLUDE-BINARY", "file": "tools/t.yaml", "line": 10}


def _include_fifo(root: Path) -> dict[str, Any]:
    (root / "params").mkdir()
    os.mkfifo(root / "params" / "p.json")  # reading it would block forever: it must never be opened
    (root / "tools" / "t.yaml").write_text(INCLUDING_TOOL, encoding="utf-8")
    return {"code": "E-INCLUDE-READ", "file": "tools/t.yaml", "line": 10, "contains": "not a regular file"}


def _include_symlink_loop(root: Path) -> dict[str, Any]:
    (root / "params").mkdir()
    (root / "params" / "p.json").symlink_to("q.json")
    (root / "params" / "q.json").symlink_to("p.json")
    (root / "tools" / "t.yaml").write_text(INCLUDING_TOOL, encoding="utf-8")
    return {"code": "E-INCLUDE-OUTSIDE", "file": "tools/t.yaml", "line": 10}


GENERATED: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "generated-50mb-file": lambda root, _: _huge(root),
    "generated-binary-file": lambda root, _: _binary(root),
    "generated-non-utf8": lambda root, _: _non_utf8(root),
    "generated-symlink-include-out-of-root": lambda root, _: _symlink_include(root),
    "generated-symlink-document-out-of-root": _symlink_document,
    "generated-include-oversize": lambda root, _: _include_oversize(root),
    "generated-include-binary": lambda root, _: _include_binary(root),
    "generated-include-fifo": lambda root, _: _include_fifo(root),
    "generated-include-symlink-loop": lambda root, _: _include_symlink_loop(root),
}


def _prepare(name: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "cfg"
    if name in GENERATED:
        (root / "tools").mkdir(parents=True)
        (root / "environments.yaml").write_text(ENV, encoding="utf-8")
        return root, GENERATED[name](root, tmp_path / "outside")
    return root, _copy_case(name, root)


def _check(out: str, err: str, expect: dict[str, Any]) -> None:
    """Located finding (file, line, code) in ``out``; no traceback or secret anywhere."""
    assert "Traceback" not in out + err
    assert "internal error" not in err
    lines = [line for line in out.splitlines() if ": error " in line]
    assert lines, f"no error finding printed:\n{out}{err}"
    if expect.get("file"):
        location = expect["file"] + (f":{expect['line']}:" if expect.get("line") else "")
        matching = [line for line in lines if line.startswith(location)]
        assert matching, f"no error at {location}:\n{out}"
    else:
        matching = lines
    if expect.get("code"):
        assert any(f" error {expect['code']} " in line for line in matching), out
    if expect.get("contains"):
        assert any(expect["contains"] in line for line in matching), out
    for value in PLACEHOLDERS.values():
        assert value.splitlines()[0] not in out + err


ALL_CASES = _committed() + sorted(GENERATED)


def test_corpus_is_big_enough() -> None:
    assert len(ALL_CASES) >= 80


def _engine_args(command: str, root: Path, expect: dict[str, Any]) -> list[str]:
    args = [command, "--config", str(root), "--env", expect.get("env", "dev")]
    return [*args, "--auto-approve"] if command == "apply" else args


@pytest.mark.parametrize("name", ALL_CASES)
def test_corpus_case_in_process(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, expect = _prepare(name, tmp_path)
    monkeypatch.chdir(root)  # relative paths in the config (secrets.fileRoot) are relative to the cwd
    code = cli.main(["validate", "--config", str(root)])
    captured = capsys.readouterr()
    if expect.get("valid"):
        assert code == 0, captured.out + captured.err
        assert "Traceback" not in captured.out + captured.err
        assert [line for line in captured.out.splitlines() if ": error " in line] == []
        return
    assert code == 1, captured.out + captured.err
    _check(captured.out, captured.err, expect)
    for command in ("plan", "apply"):
        code = cli.main(_engine_args(command, root, expect))
        captured = capsys.readouterr()
        assert code == 1, f"{command}: {captured.out}{captured.err}"
        _check(captured.err, captured.out, expect)  # plan/apply print the findings on stderr
    assert embedded_emulator(root).request_log == [], "bad input reached the API"


SUBPROCESS_CASES = [
    "yaml-alias-bomb",
    "yaml-nan-temperature",
    "jinja-sandbox-escape",
    "jinja-runaway-loop",
    "secret-openai-key",
    "include-path-traversal",
    "environments-missing",
    "generated-binary-file",
    "generated-non-utf8",
    "secret-boundary-github-token",
    "secret-boundary-other-env-api-token",
    "secret-boundary-file-without-root",
    "secrets-block-unknown-key",
    "template-in-mapping-key",
    "name-ansi-escape",
    "include-cycle-json",
    "generated-include-fifo",
]
CLI = Path(sys.executable).with_name("ci-deployer")  # the console script of this environment
TOKEN = "corpus-token-0123456789"


def _point_at(root: Path, url: str) -> None:
    """Send the case's embedded env to the served emulator instead (same line, so positions hold)."""
    path = root / "environments.yaml"
    if path.is_file() and not path.is_symlink():
        text = path.read_text(encoding="utf-8")
        served = f'api: {{url: "{url}", token: secrets://CORPUS_VAPI_TOKEN}}'
        path.write_text(text.replace("api: {url: embedded}", served), encoding="utf-8")


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_corpus_case_in_a_real_process(name: str, tmp_path: Path) -> None:
    root, expect = _prepare(name, tmp_path)
    emulator = Emulator()
    emulator.add_org("acme-dev", TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "GITHUB_", "CI_DEPLOYER"))}
    env["CORPUS_VAPI_TOKEN"] = TOKEN
    with serve(emulator) as handle:
        _point_at(root, handle.url)
        for command in ("validate", "plan", "apply"):
            args = ["validate", "--config", str(root)] if command == "validate" else _engine_args(command, root, expect)
            proc = subprocess.run(
                [str(CLI), *args, "--format", "text"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
                check=False,
            )
            assert proc.returncode == 1, f"{command}: {proc.stdout}{proc.stderr}"
            if command == "validate":
                assert proc.stderr == ""
                _check(proc.stdout, proc.stderr, expect)
            else:
                _check(proc.stderr, proc.stdout, expect)
    assert emulator.request_log == [], f"bad input reached the API: {emulator.request_log}"
