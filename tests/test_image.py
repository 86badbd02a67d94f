"""The action's image is built from pinned inputs only (base by digest, packages and build backend from
hashed locks), follows the container-action rules, gets a build context without tests or state, and
the release workflow builds it once and records its digest.  The image is never built here (no Docker
daemon): these tests read the Dockerfile; tests/github/test_github_install.py installs the locks."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# The flags every install from a lock uses: exact files (hashes), nothing unlocked (no deps), no
# source build (an sdist would fetch its build backend unpinned).
LOCKED_INSTALL = ("--require-hashes", "--no-deps", "--only-binary :all:")


@pytest.fixture(scope="module")
def lock_image() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("lock_image", ROOT / "scripts" / "lock_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_image"] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["lock_image"]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


DOCKERFILE = instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def stages() -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    """(image, stage name, instructions) for each FROM of the Dockerfile."""
    found: list[tuple[str, str | None, list[tuple[str, str]]]] = []
    for keyword, arguments in DOCKERFILE:
        if keyword == "FROM":
            words = arguments.split()
            found.append((words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None, []))
        else:
            found[-1][2].append((keyword, arguments))
    return found


def test_the_base_is_an_official_python_image_pinned_by_digest() -> None:
    names: set[str] = set()
    external = []
    for image, name, _ in stages():
        if image not in names:
            external.append(image)
        if name:
            names.add(name)
    assert len(external) == 1, external  # one base: the build and the action's stage share it
    assert re.fullmatch(r"python:3\.12\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", external[0]), external[0]


def test_packages_come_only_from_the_hashed_locks() -> None:
    runs = [arguments for keyword, arguments in DOCKERFILE if keyword == "RUN"]
    copied = {arguments.split()[-1]: arguments.split()[0] for keyword, arguments in DOCKERFILE if keyword == "COPY"}
    commands = [command for run in runs for command in run.split("&&")]
    pip_commands = [command for command in commands if re.search(r"\bpip (install|wheel)\b", command)]
    assert len(pip_commands) == 4, pip_commands
    locks = set()
    for command in pip_commands:
        assert re.match(r"\s*/opt/(venv|build)/bin/pip ", command), command  # a venv's pip, never the system's
        assert "--no-deps" in command and " -e " not in command and "--editable" not in command, command
        if " -r " in command:
            assert all(flag in command for flag in LOCKED_INSTALL), command
            locks.add(copied[command.split(" -r ")[1].split()[0]])
        else:  # the project's own wheel: built and installed from local files only
            assert "--no-index" in command, command
    assert locks == {"requirements/image.lock", "requirements/build.lock"}
    wheel = next(command for command in pip_commands if " wheel " in command)
    assert "--no-build-isolation" in wheel  # else pip downloads hatchling, unpinned, to build it
    assert any("pip check" in run for run in runs)  # the lock misses nothing the wheel requires


def test_the_action_stage_follows_the_container_action_rules() -> None:
    image, _, final = stages()[-1]
    keywords = [keyword for keyword, _ in final]
    assert not {"USER", "WORKDIR"} & {keyword for keyword, _ in DOCKERFILE}  # GitHub docs: both break container actions
    entrypoint = [arguments for keyword, arguments in final if keyword == "ENTRYPOINT"]
    assert entrypoint == ['["/opt/venv/bin/ci-deployer-action"]']  # exec form, absolute: the workdir is the workspace
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "ci-deployer-action" in scripts
    environment = " ".join(arguments for keyword, arguments in DOCKERFILE if keyword == "ENV")
    for needed in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PIP_NO_CACHE_DIR=1", "PATH=/opt/venv/bin:$PATH"):
        assert needed in environment
    assert any("safe.directory '*'" in arguments for keyword, arguments in final if keyword == "RUN")
    # Nothing of the build stage but its wheel, and no source tree, reaches the action's image.
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    assert [c for c in copies if c.startswith("--from")] == ["--from=build /dist /tmp/dist"]
    assert all(not c.startswith(".") and "ci_deployer" not in c for c in copies), copies
    assert keywords[-1] == "ENTRYPOINT" and image == stages()[0][1]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that matches it or one of
    its parent folders decides, ``!`` re-includes (moby/patternmatcher semantics, for these patterns)."""
    ignored = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_cli.py",
        "tests/corpus/empty-file/platform/environments.yaml",
        "benchmarks/bench_plan.py",
        "docs/formats.md",
        "docs/_build/html/index.html",
        "site/index.html",
        ".git/HEAD",
        ".github/workflows/ci.yml",
        ".venv/bin/python",
        "venv/bin/python",
        ".ci-deployer/state/dev.json",
        ".ci/run",
        "dist/ci_deployer-0.1.0-py3-none-any.whl",
        "build/lib/ci_deployer/cli.py",
        "examples/platform/environments.yaml",
        "workflows-examples/release.yml",
        "scripts/lock_image.py",
        ".env",
        "ci_deployer/__pycache__/cli.cpython-312.pyc",
        "ci_deployer/github/__pycache__/markdown.cpython-312.pyc",
        ".pytest_cache/v/cache/lastfailed",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert dockerignored(path, DOCKERIGNORE)


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    sources = [
        source
        for keyword, arguments in DOCKERFILE
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert set(sources) == {"pyproject.toml", "README.md", "ci_deployer", "schemas", "requirements/image.lock",
                            "requirements/build.lock"}  # fmt: skip
    for source in sources:
        assert (ROOT / source).exists(), source
        files = [source] if (ROOT / source).is_file() else [
            str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]  # fmt: skip
        assert files, source
        assert not [f for f in files if dockerignored(f, DOCKERIGNORE)], source
    # pyproject.toml force-includes schemas/ into the wheel: the context must carry it.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]) <= set(sources)


def test_the_locks_fit_pyproject_and_the_base_image(lock_image: ModuleType) -> None:
    assert lock_image.check() == [], "stale lock: run python scripts/lock_image.py"


def test_every_lock_line_is_an_exact_pin_with_hashes(lock_image: ModuleType) -> None:
    for lock in (lock_image.IMAGE_LOCK, lock_image.BUILD_LOCK):
        python, pins = lock_image.read_lock(lock.read_text(encoding="utf-8"))
        assert python == "3.12"
        assert pins and all(pin.hashes for pin in pins.values()), lock
    _, runtime = lock_image.read_lock(lock_image.IMAGE_LOCK.read_text(encoding="utf-8"))
    assert {"hatchling", "pytest", "uv"}.isdisjoint(runtime)  # build and dev tools stay out of the image


def test_a_stale_lock_is_reported(lock_image: ModuleType, tmp_path: Path) -> None:
    for name in ("pyproject.toml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    pyproject = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = pyproject.replace('"pyyaml>=6.0",', '"pyyaml>=99",\n    "rich>=13",')
    pyproject = pyproject.replace('requires = ["hatchling>=1.25"]', 'requires = ["hatchling>=99"]')
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    dockerfile = (tmp_path / "Dockerfile").read_text(encoding="utf-8")
    (tmp_path / "Dockerfile").write_text(dockerfile.replace("FROM python:3.12.", "FROM python:3.13."), encoding="utf-8")
    lock = tmp_path / "requirements" / "build.lock"
    lock.write_text(re.sub(r"(pluggy==\S+) \\\n(\s+--hash=\S+( \\)?\n)+", r"\1\n", lock.read_text(encoding="utf-8")))

    problems = lock_image.check(tmp_path)

    assert any("pins pyyaml==" in p and "outside 'pyyaml>=99'" in p for p in problems), problems
    assert any("no pin for 'rich>=13'" in p for p in problems), problems
    assert any("hatchling==" in p and "outside 'hatchling>=99'" in p for p in problems), problems
    assert any("pluggy==" in p and "without a hash" in p for p in problems), problems
    assert sum("locked for Python 3.12, the Dockerfile's base is Python 3.13" in p for p in problems) == 2, problems


def test_the_release_workflow_builds_once_and_records_the_digest() -> None:
    workflow = yaml.safe_load((ROOT / "workflows-examples" / "release.yml").read_text(encoding="utf-8"))
    assert workflow[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}  # YAML 1.1 reads `on` as True
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    steps = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    build = steps["docker/build-push-action"]["with"]
    assert build["file"] == "Dockerfile" and build["push"] is True
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}  # the lock has wheels for both
    assert steps["docker/login-action"]["with"]["registry"] == "ghcr.io"
    assert job["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"
    for step in steps.values():  # release builds neither read nor write the Actions cache
        assert "cache-from" not in step.get("with", {}) and "cache-to" not in step.get("with", {})
    assert steps["docker/setup-qemu-action"]["with"]["cache-image"] is False
    assert steps["docker/setup-buildx-action"]["with"]["cache-binary"] is False
    for image in (steps["docker/setup-qemu-action"]["with"]["image"],
                  steps["docker/setup-buildx-action"]["with"]["driver-opts"].removeprefix("image=")):  # fmt: skip
        assert DIGEST.search(image), image
    recorded = " ".join(step.get("run", "") for step in job["steps"])
    assert "GITHUB_STEP_SUMMARY" in recorded and "image: docker://$IMAGE" in recorded


def test_action_yml_documents_both_ways_to_get_the_image() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "`image: Dockerfile`" in comments
    assert "image: docker://ghcr.io/OWNER/ci-deployer@sha256:" in comments
    assert "workflows-examples/release.yml" in comments
