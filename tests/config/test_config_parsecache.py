"""The cache of parsed config files: the same repository as a fresh parse, never stale, never in the
workspace, and out of the way when it cannot be used."""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_deployer.config.loader import load_repo
from ci_deployer.config.parsecache import ParseCache
from ci_deployer.settings import Settings

MakeRepo = Callable[..., Path]

CORPUS = Path(__file__).parents[1] / "corpus"
CONFIGS = [
    Path(__file__).parents[2] / "examples" / "platform",
    *sorted(p for p in CORPUS.iterdir() if (p / "environments.yaml").is_file()),
]


def _ordered(repo_and_findings: tuple[object, object]) -> str:
    """The loaded repository as text that also shows key order (dict equality ignores it)."""
    repo, findings = repo_and_findings
    return json.dumps([repr(repo), repr(findings)])


@pytest.mark.parametrize("root", CONFIGS, ids=lambda p: p.name)
def test_a_cached_load_is_the_load_without_cache(root: Path, tmp_path: Path) -> None:
    """For the examples and every corpus config (broken ones included), the repository and findings
    taken from the cache equal those of a plain load, positions and key order included; the second
    load really comes from the cache."""
    plain = load_repo(root)
    first = ParseCache.for_root(tmp_path, root)
    assert load_repo(root, first) == plain
    second = ParseCache.for_root(tmp_path, root)
    cached = load_repo(root, second)
    assert cached == plain
    assert _ordered(cached) == _ordered(plain)
    assert second.hits >= len(plain[0].documents)  # every document (and include target) came from the file


def test_what_a_hit_returns_is_a_fresh_copy(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"tool.yaml": _tool("lookup", "Looks up orders")})
    cache = ParseCache.for_root(tmp_path / "cache", root)
    repo, _ = load_repo(root, cache)
    repo.documents[0].spec["function"]["name"] = "changed"
    again, _ = load_repo(root, ParseCache.for_root(tmp_path / "cache", root))
    assert again.documents[0].spec["function"]["name"] == "lookup"


def test_an_edited_file_is_parsed_again_and_only_used_entries_are_kept(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"a.yaml": _tool("a", "first"), "b.yaml": _tool("b", "other")})
    folder = tmp_path / "cache"
    load_repo(root, ParseCache.for_root(folder, root))
    (root / "a.yaml").write_text(_tool("a", "second"), encoding="utf-8")
    (root / "b.yaml").unlink()
    cache = ParseCache.for_root(folder, root)
    repo, _ = load_repo(root, cache)
    assert repo.documents[0].spec["function"]["description"] == "second"
    assert cache.hits == 0
    _, entries = marshal.loads(cache.file.read_bytes())  # noqa: S302 (the file this test wrote)
    assert len(entries) == 1  # b's and the first a's entries are gone


def test_a_parse_error_is_never_cached(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"bad.yaml": "apiVersion: ci-deployer/v1\nkind: Tool\nkind: Tool\n"})
    for _ in range(2):
        cache = ParseCache.for_root(tmp_path, root)
        _, findings = load_repo(root, cache)
        assert [(f.path, f.line, f.code) for f in findings] == [("bad.yaml", 3, "E-YAML-DUPKEY")]
        assert cache.hits == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"not marshal at all", marshal.dumps(("another stamp", {})), marshal.dumps([1, 2, 3])],
    ids=["empty", "garbage", "other-stamp", "wrong-shape"],
)
def test_an_unusable_file_is_ignored_and_replaced(make_repo: MakeRepo, tmp_path: Path, content: bytes) -> None:
    root = make_repo({"tool.yaml": _tool("lookup", "Looks up orders")})
    cache = ParseCache.for_root(tmp_path, root)
    cache.file.parent.mkdir(parents=True)
    cache.file.write_bytes(content)
    cache = ParseCache.for_root(tmp_path, root)
    repo, findings = load_repo(root, cache)
    assert (repo, findings) == load_repo(root)
    assert cache.hits == 0
    again = ParseCache.for_root(tmp_path, root)  # the file was rewritten with this version's stamp
    load_repo(root, again)
    assert again.hits == 1


def test_a_stamp_from_another_version_of_the_parser_is_not_trusted(
    make_repo: MakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"tool.yaml": _tool("lookup", "Looks up orders")})
    load_repo(root, ParseCache.for_root(tmp_path, root))
    monkeypatch.setattr("ci_deployer.__version__", "99.0.0")
    cache = ParseCache.for_root(tmp_path, root)
    load_repo(root, cache)
    assert cache.hits == 0


def test_an_unwritable_cache_folder_is_no_error(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"tool.yaml": _tool("lookup", "Looks up orders")})
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x", encoding="utf-8")
    repo, findings = load_repo(root, ParseCache.for_root(blocker, root))
    assert (repo, findings) == load_repo(root)


def test_the_cache_folder_comes_from_the_environment() -> None:
    assert Settings.from_environ({"HOME": "/home/u"}).cache_dir == Path("/home/u/.cache/ci-deployer")
    assert Settings.from_environ({"HOME": "/h", "XDG_CACHE_HOME": "/x"}).cache_dir == Path("/x/ci-deployer")
    assert Settings.from_environ({"HOME": "/h", "CI_DEPLOYER_CACHE_DIR": "/c"}).cache_dir == Path("/c")
    assert Settings.from_environ({"HOME": "/h", "CI_DEPLOYER_CACHE_DIR": "off"}).cache_dir is None
    assert Settings.from_environ({}).cache_dir is None


def test_the_cli_keeps_its_cache_outside_the_config_and_sees_every_edit(tmp_path: Path) -> None:
    """Through ``ci-deployer validate`` as a subprocess: the cache file appears in the cache folder
    (nothing under the config), an edit that breaks a document is reported on the next run, and
    ``CI_DEPLOYER_CACHE_DIR=off`` writes nothing."""
    root = tmp_path / "platform"
    shutil.copytree(Path(__file__).parents[2] / "examples" / "platform", root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    cache = tmp_path / "cache"

    def validate(cache_dir: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CI_DEPLOYER_CACHE_DIR": cache_dir}
        return subprocess.run(
            [sys.executable, "-m", "ci_deployer", "validate", "--config", str(root), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    assert validate(str(cache)).returncode == 0
    assert [p.parent.name for p in cache.rglob("*.marshal")] == ["parse"]
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    tool = next(root.rglob("tools/*.yaml"))
    tool.write_text(tool.read_text(encoding="utf-8").replace("spec:", "spec: [not, a, map]\nx:", 1), encoding="utf-8")
    broken = validate(str(cache))
    assert broken.returncode == 1
    assert any(f["path"].endswith(tool.name) for f in json.loads(broken.stdout)["findings"])
    assert validate("off").returncode == 1
    assert not (tmp_path / "off").exists()  # "off" is no folder name
    assert len(list(cache.rglob("*.marshal"))) == 1


def _tool(slug: str, description: str) -> str:
    return (
        "apiVersion: ci-deployer/v1\nkind: Tool\n"
        f"metadata: {{name: {slug}}}\nspec:\n  type: function\n"
        f"  function: {{name: {slug}, description: {description}}}\n"
    )


def test_a_json_document_keeps_its_positions_through_the_cache(make_repo: MakeRepo, tmp_path: Path) -> None:
    """A JSON file is parsed without positions first (an include target needs none) and again with
    them once it proves a document: the two results are distinct entries."""
    document = {
        "apiVersion": "ci-deployer/v1",
        "kind": "Tool",
        "metadata": {"name": "lookup"},
        "spec": {"type": "function", "function": {"name": "lookup"}},
    }
    root = make_repo({"tool.json": json.dumps(document, indent=2), "schema.json": '{"type": "object"}'})
    plain, _ = load_repo(root)
    assert plain.documents[0].positions[("spec", "function", "name")] == (10, 7)
    for _ in range(2):
        cached, _ = load_repo(root, ParseCache.for_root(tmp_path, root))
        assert cached.documents[0].positions == plain.documents[0].positions
